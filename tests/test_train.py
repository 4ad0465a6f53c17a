"""fit / evaluate / predict: learning, determinism, validation, errors and callbacks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from tinynet import CrossEntropyLoss, Dense, Layer, MSELoss, ReLU, Sequential
from tinynet.callbacks import EarlyStopping, LambdaCallback, LearningRateScheduler, ProgressBar
from tinynet.heads import Head
from tinynet.optim import SGD, Adam, StepLR
from tinynet.train import NonFiniteLossError, evaluate, fit, predict, predict_proba
from tinynet.typing import FloatArray


def blobs(n: int = 600, seed: int = 0) -> tuple[FloatArray, np.ndarray]:
    """Three well-separated Gaussian blobs in 5-D: a problem a small net must solve."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centers = rng.standard_normal((3, 5)) * 4
    x = centers[y] + rng.standard_normal((n, 5))
    return x.astype(np.float32), y


def small_net(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(Dense(5, 16, rng=rng), ReLU(), Dense(16, 3, rng=rng))


def weights(model: Layer) -> list[FloatArray]:
    return [p.data.copy() for p in model.parameters()]


def test_fit_learns_a_separable_problem_and_logs_history() -> None:
    x, y = blobs()
    model = small_net()
    before = evaluate(model, x, y, loss=CrossEntropyLoss())["accuracy"]
    history = fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=5,
        batch_size=32,
        seed=0,
        verbose=0,
        validation_split=0.2,
    )
    assert before < 0.8
    assert history.epoch == [0, 1, 2, 3, 4]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
        assert len(history[key]) == 5, key
    assert history["loss"][-1] < history["loss"][0]
    assert history["val_accuracy"][-1] > 0.95
    assert evaluate(model, x, y)["accuracy"] > 0.95


def test_same_seed_same_run_bit_for_bit() -> None:
    x, y = blobs()
    results = []
    for _ in range(2):
        model = small_net(seed=3)
        history = fit(
            model,
            x,
            y,
            loss=CrossEntropyLoss(),
            optimizer=Adam(model.parameters()),
            epochs=2,
            batch_size=50,
            seed=7,
            verbose=0,
        )
        results.append((weights(model), history["loss"]))
    (w1, l1), (w2, l2) = results
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2, strict=True))
    assert l1 == l2
    other = small_net(seed=3)
    fit(
        other,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(other.parameters()),
        epochs=2,
        batch_size=50,
        seed=8,
        verbose=0,
    )
    assert not np.array_equal(weights(other)[0], w1[0])


def test_training_loss_matches_a_hand_written_loop() -> None:
    """fit with shuffle=False is exactly the explicit loop of the README."""
    x, y = blobs(200)
    a, b = small_net(1), small_net(1)
    fit(
        a,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=SGD(a.parameters(), lr=0.1),
        epochs=1,
        batch_size=40,
        shuffle=False,
        verbose=0,
    )
    loss, opt = CrossEntropyLoss(), SGD(b.parameters(), lr=0.1)
    for i in range(0, 200, 40):
        loss.forward(b(x[i : i + 40]), y[i : i + 40])
        b.backward(loss.backward())
        opt.step()
        opt.zero_grad()
    assert all(np.array_equal(p, q) for p, q in zip(weights(a), weights(b), strict=True))


class BlowUp(Layer):
    """Identity that returns NaN from its `at`-th training forward on."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, x: FloatArray) -> FloatArray:
        if self.training:
            self.calls += 1
            if self.calls >= self.at:
                return np.full_like(x, np.nan)
        return x

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y


def test_non_finite_loss_stops_naming_epoch_and_batch() -> None:
    x, y = blobs(100)
    model = small_net()
    model.append(BlowUp(at=7))  # 100 samples / batch 25 = 4 batches: 7th is epoch 2, batch 3
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 3"):
        fit(
            model,
            x,
            y,
            loss=CrossEntropyLoss(),
            optimizer=SGD(model.parameters()),
            epochs=3,
            batch_size=25,
            verbose=0,
        )


def test_early_stopping_restores_the_best_weights() -> None:
    x, y = blobs(300)
    model = small_net()
    seen: list[list[FloatArray]] = []
    rng = np.random.default_rng(0)

    def sabotage(epoch: int, logs: dict[str, float]) -> None:
        seen.append(weights(model))  # weights as evaluated for this epoch's logs
        if len(seen) >= 3:  # from epoch 3 on, wreck the weights: val_loss must rise
            for p in model.parameters():
                p.data += rng.standard_normal(p.shape).astype(np.float32) * 3

    stopper = EarlyStopping("val_loss", patience=2, restore_best_weights=True)
    history = fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=20,
        batch_size=30,
        validation_split=0.2,
        verbose=0,
        callbacks=[stopper, LambdaCallback(on_epoch_end=sabotage)],
    )
    best = int(np.argmin(history["val_loss"]))
    assert len(history.epoch) < 20
    assert stopper.stopped_epoch == len(history.epoch) - 1
    assert stopper.best_epoch == best
    assert all(np.array_equal(p, q) for p, q in zip(weights(model), seen[best], strict=True))


def test_lambda_callback_hooks_take_what_keras_passes() -> None:
    """Keras's signatures: (epoch, logs), (batch, logs), (logs); they took the Run."""
    x, y = blobs(60)
    model = small_net()
    calls: list[tuple[str, object, dict[str, float]]] = []
    hooks = LambdaCallback(
        on_train_begin=lambda logs: calls.append(("train_begin", None, logs)),
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, dict(logs))),
        on_train_end=lambda logs: calls.append(("train_end", None, logs)),
    )
    history = fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=SGD(model.parameters(), lr=0.1),
        epochs=2,
        batch_size=30,
        verbose=0,
        callbacks=[hooks],
    )
    names = [(name, index) for name, index, _ in calls]
    one_epoch = [("epoch_begin", 0), ("batch_end", 0), ("batch_end", 1), ("epoch_end", 0)]
    second = [(name, 1 if name.startswith("epoch") else i) for name, i in one_epoch]
    assert names == [("train_begin", None), *one_epoch, *second, ("train_end", None)]
    ends = [logs for name, _, logs in calls if name == "epoch_end"]
    assert [logs["loss"] for logs in ends] == history["loss"]
    batch_logs = [logs for name, _, logs in calls if name == "batch_end"]
    assert batch_logs[1]["loss"] == pytest.approx(history["loss"][0])  # the epoch's mean
    assert [logs for name, _, logs in calls if "begin" in name or name == "train_end"] == [{}] * 4


@pytest.mark.parametrize(
    ("per", "step_size", "factors"),
    [("epoch", 2, [1, 1, 0.5, 0.5, 0.25]), ("batch", 1, [1, 0.25, 0.5**4, 0.5**6, 0.5**8])],
)
def test_the_lr_logged_is_the_rate_at_the_start_of_each_epoch(
    per: str, step_size: int, factors: list[float]
) -> None:
    """As History documents: an epoch's step shows in the next epoch's lr; with the rate
    halved after every batch (2 batches an epoch), each epoch logs the rate its first
    batch trained at, not its last batch's or the rate it ends with."""
    x, y = blobs(100)
    model = small_net()
    opt = SGD(model.parameters(), lr=0.1)
    history = fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=opt,
        epochs=5,
        batch_size=50,
        verbose=0,
        callbacks=[LearningRateScheduler(StepLR(opt, step_size=step_size, gamma=0.5), per=per)],
    )
    assert history["lr"] == pytest.approx([0.1 * f for f in factors])


def test_predict_and_predict_proba() -> None:
    x, y = blobs(50)
    model = small_net()
    with pytest.raises(ValueError, match="no head"):
        predict_proba(model, x)  # logits of an untrained model: nothing says what they are
    model.head = Head("multiclass", "softmax", 3)
    probs = predict_proba(model, x, batch_size=7)
    assert probs.shape == (50, 3)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    labels = predict(model, x, batch_size=7)
    assert np.array_equal(labels, probs.argmax(axis=1))
    assert model.training  # mode restored
    expected = float(np.mean(labels == y))
    assert evaluate(model, x, y)["accuracy"] == pytest.approx(expected)


def test_regression_targets_log_no_accuracy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 1))).astype(np.float32)
    model = Sequential(Dense(5, 1, seed=0))
    history = fit(
        model,
        x,
        y,
        loss=MSELoss(),
        optimizer=SGD(model.parameters(), lr=0.05),
        epochs=30,
        batch_size=16,
        verbose=0,
    )
    assert "accuracy" not in history.history
    assert history["loss"][-1] < 0.01 * history["loss"][0]


def test_bad_inputs_are_refused_with_clear_errors() -> None:
    x, y = blobs(20)
    model = small_net()
    opt = SGD(model.parameters())
    bad = x.copy()
    bad[13, 2] = np.nan
    with pytest.raises(ValueError, match="sample 13"):
        fit(model, bad, y, loss=CrossEntropyLoss(), optimizer=opt, verbose=0)
    with pytest.raises(TypeError, match="float"):
        fit(model, (x * 255).astype(np.uint8), y, loss=CrossEntropyLoss(), optimizer=opt, verbose=0)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        fit(model, x, y + 5, loss=CrossEntropyLoss(), optimizer=opt, verbose=0)
    # float64 data is converted once to the model's float32
    history = fit(model, x.astype(np.float64), y, loss=CrossEntropyLoss(), optimizer=opt, verbose=0)
    assert len(history.epoch) == 1


@pytest.mark.parametrize(("verbose", "lines"), [(0, 0), (1, 2), (2, 2)])
def test_progress_prints_epoch_lines_off_a_terminal(verbose: int, lines: int) -> None:
    x, y = blobs(40)
    model = small_net()
    stream = io.StringIO()
    fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=SGD(model.parameters()),
        epochs=2,
        verbose=0,
        callbacks=[ProgressBar(verbose, stream=stream)],
    )
    printed = stream.getvalue().splitlines()
    assert len(printed) == lines
    if lines:
        assert printed[1].startswith("epoch 2/2")
        assert "accuracy" in printed[1]


def test_predict_refuses_non_finite_input_and_diverged_models() -> None:
    x, _ = blobs(30)
    model = small_net()
    bad = x.copy()
    bad[17, 0] = np.inf
    with np.errstate(invalid="ignore"), pytest.raises(ValueError, match="sample 17"):
        predict(model, bad, batch_size=8)
    model.parameters()[0].data[0, 0] = np.nan  # a diverged weight, finite input
    with (
        np.errstate(invalid="ignore"),
        pytest.raises(FloatingPointError, match="weights may have diverged"),
    ):
        predict_proba(model, x)


def test_csv_logger_writes_a_row_per_epoch_and_appends_for_a_resumed_run(tmp_path: Path) -> None:
    import csv

    from tinynet.callbacks import CSVLogger

    x, y = blobs(60)
    path = tmp_path / "log.csv"
    model = small_net()
    history = fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters()),
        epochs=2,
        batch_size=20,
        seed=0,
        verbose=0,
        callbacks=[CSVLogger(path)],
    )
    rows = list(csv.reader(path.open()))
    assert rows[0][0] == "epoch"
    assert [row[0] for row in rows[1:]] == ["0", "1"]
    loss_column = rows[0].index("loss")
    assert [float(row[loss_column]) for row in rows[1:]] == history["loss"]
    fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters()),
        epochs=3,
        initial_epoch=2,
        batch_size=20,
        seed=0,
        verbose=0,
        callbacks=[CSVLogger(path, append=True)],
    )
    rows = list(csv.reader(path.open()))
    assert [row[0] for row in rows] == ["epoch", "0", "1", "2"]  # one header
