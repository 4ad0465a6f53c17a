"""Binary classification with one logit: scikit-learn's two moons, against MLPClassifier.

    python examples/binary_moons.py

The network ends in one output unit (a logit) trained with `BCEWithLogitsLoss` on the
labels 0/1 as they are (N,): ``fit`` logs the accuracy, ``predict`` gives ``logit > 0``
(N,), ``predict_proba`` the sigmoid (N, 1). The same 32-32 ReLU network is trained by
scikit-learn's ``MLPClassifier`` on the same five train/test splits; both accuracies are
printed. Needs scikit-learn (no download: ``make_moons`` draws the points).
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import make_moons
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

from tinynet import BCEWithLogitsLoss, Dense, ReLU, Sequential
from tinynet.optim import Adam
from tinynet.train import fit, predict, predict_proba

SPLITS = 5


def tinynet_accuracy(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    model = Sequential(
        Dense(2, 32, seed=0), ReLU(), Dense(32, 32, seed=1), ReLU(), Dense(32, 1, seed=2)
    )
    loss = BCEWithLogitsLoss()
    history = fit(
        model,
        x_train,
        y_train,
        loss=loss,
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=100,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    labels = predict(model, x_test, loss=loss)  # (N,) of 0/1: logit > 0
    probabilities = predict_proba(model, x_test, loss=loss)  # (N, 1): P(class 1)
    assert labels.shape == y_test.shape
    assert probabilities.shape == (len(y_test), 1)
    assert np.array_equal(labels, (probabilities[:, 0] > 0.5).astype(int))
    print(f"  training accuracy after {len(history.epoch)} epochs {history['accuracy'][-1]:.4f}")
    return float(np.mean(labels == y_test))


def main() -> None:
    x, y = make_moons(1000, noise=0.25, random_state=0)
    ours, theirs = [], []
    for split in range(SPLITS):
        x_train, x_test, y_train, y_test = train_test_split(
            x.astype(np.float32), y, test_size=0.25, random_state=split
        )
        ours.append(tinynet_accuracy(x_train, y_train, x_test, y_test))
        reference = MLPClassifier(hidden_layer_sizes=(32, 32), max_iter=2000, random_state=0)
        theirs.append(accuracy_score(y_test, reference.fit(x_train, y_train).predict(x_test)))
        print(f"split {split}: tinynet {ours[-1]:.4f}, scikit-learn {theirs[-1]:.4f}")
    print(f"tinynet test accuracy {np.mean(ours):.4f} (mean of {SPLITS} splits)")
    print(
        f"scikit-learn MLPClassifier test accuracy {np.mean(theirs):.4f} (mean of {SPLITS} splits)"
    )


if __name__ == "__main__":
    main()
