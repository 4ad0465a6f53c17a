"""Regression with `MSELoss`: scikit-learn's diabetes data, against MLPRegressor.

    python examples/regression_diabetes.py

442 patients, 10 measurements each, and a disease progression score a year later
(``load_diabetes``, shipped with scikit-learn: no download). ``fit`` logs MAE, RMSE and
R2 instead of an accuracy, on the training batches and on a held-out random fifth
(``validation_mode="shuffle"``), which early stopping watches. ``predict`` returns the
values (N,). The same network, 16 ReLU units, is trained by scikit-learn's
``MLPRegressor`` with its own early stopping on the same five train/test splits; both
test R2 and MAE are printed. Inputs and targets are standardized with the training
statistics (MLPRegressor is given the raw targets, as it is usually used).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor

from tinynet import Dense, MSELoss, ReLU, Sequential
from tinynet.callbacks import EarlyStopping
from tinynet.optim import AdamW
from tinynet.train import fit, predict

SPLITS = 5
HIDDEN, LR, PATIENCE, VALIDATION = 16, 3e-3, 20, 0.2


def tinynet_predictions(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    mean, std = y_train.mean(), y_train.std()
    model = Sequential(Dense(10, HIDDEN, seed=0), ReLU(), Dense(HIDDEN, 1, seed=1))
    stop = EarlyStopping("val_loss", patience=PATIENCE, restore_best_weights=True)
    history = fit(
        model,
        x_train,
        (y_train - mean) / std,
        loss=MSELoss(),
        optimizer=AdamW(model.parameters(), lr=LR, weight_decay=0.1),
        epochs=1000,
        batch_size=32,
        seed=0,
        verbose=0,
        validation_split=VALIDATION,
        validation_mode="shuffle",
        callbacks=[stop],
    )
    best = stop.best_epoch
    print(
        f"  best epoch {best + 1} of {len(history.epoch)}: validation MAE "
        f"{history['val_mae'][best]:.3f}, RMSE {history['val_rmse'][best]:.3f}, "
        f"R2 {history['val_r2'][best]:.3f} (standardized targets)"
    )
    values = predict(model, x_test, loss="mse")  # (N,): one value per patient
    return values * std + mean


def main() -> None:
    data = load_diabetes()
    ours, theirs = [], []
    for split in range(SPLITS):
        x_train, x_test, y_train, y_test = train_test_split(
            data.data.astype(np.float32),
            data.target.astype(np.float32),
            test_size=0.25,
            random_state=split,
        )
        mean, std = x_train.mean(axis=0), x_train.std(axis=0)
        x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
        predicted = tinynet_predictions(x_train, y_train, x_test)
        ours.append((r2_score(y_test, predicted), mean_absolute_error(y_test, predicted)))
        reference = MLPRegressor(
            hidden_layer_sizes=(HIDDEN,),
            learning_rate_init=LR,
            early_stopping=True,
            validation_fraction=VALIDATION,
            n_iter_no_change=PATIENCE,
            max_iter=5000,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning
            values = reference.fit(x_train, y_train).predict(x_test)
        theirs.append((r2_score(y_test, values), mean_absolute_error(y_test, values)))
        print(f"split {split}: test R2 tinynet {ours[-1][0]:.4f}, scikit-learn {theirs[-1][0]:.4f}")
    for name, scores in (("tinynet", ours), ("scikit-learn MLPRegressor", theirs)):
        r2, mae = np.mean(scores, axis=0)
        print(f"{name} test R2 {r2:.4f}, MAE {mae:.2f} (mean of {SPLITS} splits)")


if __name__ == "__main__":
    main()
