"""fit's options beyond the basics: metrics, class and sample weights, validation modes,
binary and regression heads."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from helpers import loss_gradcheck

from tinynet import BCEWithLogitsLoss, CrossEntropyLoss, Dense, Loss, MSELoss, ReLU, Sequential
from tinynet.data import DataLoader, class_sample_weights, compute_class_weight, validation_split
from tinynet.optim import SGD, Adam
from tinynet.train import History, fit, predict
from tinynet.typing import FloatArray


def train(model: Any, x: Any, y: Any, loss: Loss, lr: float = 1e-3, **options: Any) -> History:
    """``fit`` with Adam at ``lr``, quiet, seed 0, batches of 32 unless ``options`` say."""
    settings = {"batch_size": 32, "seed": 0, "verbose": 0, **options}
    return fit(model, x, y, loss=loss, optimizer=Adam(model.parameters(), lr), **settings)


class Weighted(Loss):
    """A loss with fixed sample weights, for the finite-difference check."""

    def __init__(self, loss: Loss, weights: FloatArray) -> None:
        self.loss, self.weights = loss, weights

    def forward(self, pred: FloatArray, target: Any, *, sample_weight: Any = None) -> float:
        return self.loss.forward(pred, target, sample_weight=self.weights)

    def backward(self) -> FloatArray:
        return self.loss.backward()


@pytest.mark.parametrize(
    ("loss", "target"),
    [
        (CrossEntropyLoss(), np.array([0, 2, 1, 2])),
        (CrossEntropyLoss(label_smoothing=0.1), np.array([0, 2, 1, 2])),
        (MSELoss(), np.random.default_rng(1).standard_normal((4, 3))),
        (MSELoss("sum"), np.random.default_rng(1).standard_normal((4, 3))),
        (BCEWithLogitsLoss(), np.random.default_rng(2).random((4, 3))),
    ],
)
def test_weighted_losses_gradients_and_values(loss: Loss, target: Any) -> None:
    rng = np.random.default_rng(0)
    pred = rng.standard_normal((4, 3))
    weights = np.array([0.5, 2.0, 0.0, 1.5])
    assert loss_gradcheck(Weighted(loss, weights), pred, target) < 1e-6
    # Keras's reduction: sum_i w_i loss_i / N, loss_i the sample's own loss
    per_sample = np.array([loss.forward(pred[i : i + 1], target[i : i + 1]) for i in range(4)])
    expected = per_sample @ weights / (1 if getattr(loss, "reduction", "mean") == "sum" else 4)
    assert loss.forward(pred, target, sample_weight=weights) == pytest.approx(expected)
    with pytest.raises(ValueError, match=r"expected sample_weight of shape \(4,\)"):
        loss.forward(pred, target, sample_weight=weights[:3])


def test_class_weights_by_hand_and_balanced_as_scikit_learn() -> None:
    y = np.array([0, 0, 0, 1, 2, 2])
    np.testing.assert_array_equal(
        class_sample_weights({0: 0.5, 2: 3}, y), [0.5, 0.5, 0.5, 1.0, 3.0, 3.0]
    )
    sk = pytest.importorskip("sklearn.utils.class_weight")
    expected = sk.compute_class_weight("balanced", classes=np.array([0, 1, 2]), y=y)
    assert list(compute_class_weight(y).values()) == pytest.approx(list(expected))
    binary = np.array([[0.0], [1.0], [1.0]])  # BCE targets: the class is the 0/1 value
    np.testing.assert_array_equal(class_sample_weights({1: 2.0}, binary), [1.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="a regression has no classes"):
        class_sample_weights("balanced", np.array([0.5, 1.7]))
    with pytest.raises(ValueError, match="expected a dict"):
        class_sample_weights("even", y)


def test_class_weight_equals_the_matching_sample_weight_and_changes_training() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 2)).astype(np.float32)
    y = (x[:, 0] > 0.8).astype(np.int64)  # imbalanced

    def run(**weights: Any) -> list[float]:
        model = Sequential(Dense(2, 8, seed=0), ReLU(), Dense(8, 2, seed=1))
        history = train(model, x, y, CrossEntropyLoss(), 0.05, epochs=3, batch_size=8, **weights)
        return history["loss"]

    by_class = run(class_weight="balanced")
    table = compute_class_weight(y)
    by_sample = run(sample_weight=np.array([table[int(c)] for c in y]))
    assert by_class == by_sample
    assert by_class != run()

    class Plain(Loss):
        def forward(self, pred: FloatArray, target: Any) -> float:  # type: ignore[override]
            return 0.0

        def backward(self) -> FloatArray:
            return np.zeros(1)

    model = Dense(2, 2, seed=0)
    opt = SGD(model.parameters(), 0.1)
    with pytest.raises(TypeError, match="takes no sample_weight"):
        fit(model, x, y, loss=Plain(), optimizer=opt, verbose=0, class_weight="balanced")


def test_weights_travel_with_their_samples_through_a_shuffled_loader() -> None:
    x = np.arange(10, dtype=np.float32)[:, None]
    weights = np.arange(10, dtype=np.float64) * 10
    loader = DataLoader(x, x[:, 0].astype(np.int64), batch_size=3, seed=1, sample_weight=weights)
    for x_batch, y_batch, w_batch in loader.batches():
        assert w_batch is not None
        np.testing.assert_array_equal(w_batch, x_batch[:, 0] * 10)
        np.testing.assert_array_equal(y_batch, x_batch[:, 0])
    assert [len(b[0]) for b in loader] == [3, 3, 3, 1]  # iterating gives (x, y) still


def iris() -> tuple[FloatArray, np.ndarray]:
    datasets = pytest.importorskip("sklearn.datasets")
    data = datasets.load_iris()  # sorted by class: 50 of each
    return data.data.astype(np.float32), data.target.astype(np.int64)


def test_validation_split_on_sorted_data_warns_and_stratify_holds_every_class() -> None:
    x, y = iris()
    with pytest.warns(UserWarning, match=r"no samples of 2 classes .* \(0, 1; it holds 2\)"):
        validation_split(x, y, 0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (_, y_train), (_, y_val) = validation_split(x, y, 0.2, mode="stratify", seed=0)
        assert np.bincount(y_val).tolist() == [10, 10, 10]
        assert np.bincount(y_train).tolist() == [40, 40, 40]
        (_, y_train), (_, y_val) = validation_split(x, y, 0.2, mode="shuffle", seed=0)
        assert len(y_val) == 30
        assert set(y_val) == {0, 1, 2}
    again = validation_split(x, y, 0.2, mode="shuffle", seed=0)[1][1]
    np.testing.assert_array_equal(again, y_val)  # seeded
    with pytest.raises(ValueError, match="mode='stratify' needs class labels"):
        validation_split(x, x[:, 0], 0.2, mode="stratify")


def test_fit_validation_mode_and_metrics_in_history() -> None:
    x, y = iris()
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    model = Sequential(Dense(4, 16, seed=0), ReLU(), Dense(16, 3, seed=1))
    held_out = {"validation_split": 0.2, "validation_mode": "stratify"}
    metrics = ["accuracy", "f1", "top_2_accuracy"]
    history = train(model, x, y, CrossEntropyLoss(), 0.02, epochs=20, metrics=metrics, **held_out)
    for name in ("loss", "accuracy", "f1", "top_2_accuracy", "val_loss", "val_accuracy", "val_f1"):
        assert len(history[name]) == 20, name
    assert history["val_accuracy"][-1] > 0.85
    assert history["val_top_2_accuracy"][-1] >= history["val_accuracy"][-1]
    with pytest.warns(UserWarning, match="no samples of 2 classes"):
        train(model, x, y, CrossEntropyLoss(), epochs=1, validation_split=0.2)


def test_binary_head_trains_with_one_logit_and_logs_accuracy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)  # labels (N,), one output unit
    model = Sequential(Dense(2, 8, seed=0), ReLU(), Dense(8, 1, seed=1))
    history = train(model, x, y, BCEWithLogitsLoss(), 0.05, epochs=10, validation_data=(x, y))
    assert history["accuracy"][-1] > 0.95
    assert history["val_accuracy"][-1] > 0.95
    labels = predict(model, x, loss="bce_with_logits")
    assert labels.shape == (200,)
    assert np.mean(labels == y) == pytest.approx(history["val_accuracy"][-1])


def test_binary_labels_stratify_with_a_logit_loss() -> None:
    """Issue 23: fit casts 0/1 labels to (N, 1) float32 for BCEWithLogitsLoss, and the
    stratified split then refused that array, one the user never passed."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 2)).astype(np.float32)
    y = (x[:, 0] > 0.8).astype(np.int64)  # about 21 % ones
    model = Sequential(Dense(2, 8, seed=0), ReLU(), Dense(8, 1, seed=1))
    held_out = {"validation_split": 0.2, "validation_mode": "stratify"}
    history = train(model, x, y, BCEWithLogitsLoss(), 0.05, epochs=5, **held_out)
    assert len(history["val_accuracy"]) == 5
    ones = int(y.sum())
    for targets in (y.astype(np.float32)[:, None], y.astype(np.float32), y):
        (_, y_train), (_, y_val) = validation_split(x, targets, 0.2, mode="stratify", seed=0)
        assert len(y_val) == 100
        assert abs(int(y_val.sum()) - ones / 5) <= 1  # the classes' proportions kept
        assert int(y_train.sum()) + int(y_val.sum()) == ones


def test_regression_logs_mae_rmse_r2_instead_of_accuracy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 3)).astype(np.float32)
    y = x @ np.array([1.0, -2.0, 0.5], dtype=np.float32) + 3  # (N,), one output unit
    model = Dense(3, 1, seed=0)
    history = train(model, x, y, MSELoss(), 0.1, epochs=30, validation_data=(x, y))
    assert {"mae", "rmse", "r2", "val_mae", "val_rmse", "val_r2"} <= set(history.history)
    assert "accuracy" not in history.history
    assert history["val_r2"][-1] > 0.99
    assert history["val_rmse"][-1] ** 2 == pytest.approx(history["val_loss"][-1], rel=1e-4)
    plain = fit(model, x, y, loss=MSELoss(), optimizer=Adam(model.parameters()), metrics=[])
    assert plain.history.keys() == {"loss", "lr", "seconds", "samples_per_second"}


def test_multilabel_head_and_metrics_in_the_progress_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 3)).astype(np.float32)
    y = np.stack([x[:, 0] > 0, x[:, 1] > 0, x[:, 0] + x[:, 2] > 0], axis=1).astype(np.int64)
    model = Sequential(Dense(3, 16, seed=0), ReLU(), Dense(16, 3, seed=1))  # 3 logits, 3 labels
    history = train(
        model,
        x,
        y,
        BCEWithLogitsLoss(),
        0.05,
        epochs=15,
        verbose=2,
        validation_data=(x, y),
        metrics=["accuracy", "f1_micro"],
    )
    assert history["val_f1_micro"][-1] > 0.9
    assert history["val_accuracy"][-1] > 0.8  # every label of a sample right
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 15
    assert "f1_micro" in lines[-1]
    assert "val_f1_micro" in lines[-1]
    assert predict(model, x, loss="bce_with_logits").shape == (256, 3)
