"""Checkpoints: resume bit for bit, save the best, refuse what does not fit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import Dense, Dropout, Layer, ReLU, Sequential
from tinynet.callbacks import Callback, EarlyStopping, Run
from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint
from tinynet.datasets import load_mnist
from tinynet.recipe import Recipe
from tinynet.typing import FloatArray

RECIPE = Recipe(
    optimizer="adamw",
    optimizer_args={"lr": 3e-3, "weight_decay": 1e-3},
    schedule="warmup_cosine",
    schedule_args={"warmup": 1, "start_factor": 0.2},
    loss_args={"label_smoothing": 0.1},
    epochs=5,
    batch_size=64,
    max_shift=1,
)


@pytest.fixture(scope="module")
def mnist_slice() -> tuple[FloatArray, np.ndarray, FloatArray, np.ndarray]:
    (x, y), _ = load_mnist()
    return x[:640], y[:640], x[640:840], y[640:840]


def build(seed: int) -> Sequential:
    """A net that uses every random generator a run has: dropout draws too."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Dense(784, 32, rng=rng), ReLU(), Dropout(0.2, rng=rng), Dense(32, 10, rng=rng)
    )


class Interrupt(Exception):
    pass


class InterruptAfter(Callback):
    """Raise after epoch `epoch` (1-based) has been checkpointed, like a crash would."""

    def __init__(self, epoch: int | None) -> None:
        self.epoch = epoch

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if run.epoch + 1 == self.epoch:
            raise Interrupt


def weights(model: Layer) -> list[FloatArray]:
    return [p.data for p in model.parameters()]


def test_resume_is_bit_identical_to_an_uninterrupted_run(
    tmp_path: Path, mnist_slice: tuple[Any, ...]
) -> None:
    x, y, x_val, y_val = mnist_slice
    straight = build(0)
    history = RECIPE.fit(
        straight,
        x,
        y,
        seed=0,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[EarlyStopping(patience=10), ModelCheckpoint(tmp_path / "a.npz")],
    )

    path = tmp_path / "b.npz"
    interrupted = build(0)
    with pytest.raises(Interrupt):
        RECIPE.fit(
            interrupted,
            x,
            y,
            seed=0,
            validation_data=(x_val, y_val),
            verbose=0,
            callbacks=[EarlyStopping(patience=10), ModelCheckpoint(path), InterruptAfter(2)],
        )
    assert not all(
        np.array_equal(a, b) for a, b in zip(weights(interrupted), weights(straight), strict=True)
    )

    resumed = build(0)  # a fresh process would rebuild the model from its file
    resumed_history = RECIPE.fit(
        resumed,
        x,
        y,
        seed=0,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[EarlyStopping(patience=10), BackupAndRestore(path), InterruptAfter(None)],
    )
    for a, b in zip(weights(resumed), weights(straight), strict=True):
        assert np.array_equal(a, b)
    assert resumed_history.epoch == history.epoch == [0, 1, 2, 3, 4]
    assert resumed_history["val_loss"] == history["val_loss"]
    assert resumed_history["lr"] == history["lr"]


def test_a_checkpoint_is_a_model_file(tmp_path: Path, mnist_slice: tuple[Any, ...]) -> None:
    x, y, x_val, _ = mnist_slice
    model = build(1)
    RECIPE.fit(
        model,
        x,
        y,
        seed=1,
        epochs=1,
        verbose=0,
        callbacks=[ModelCheckpoint(tmp_path / "ckpt-{epoch:02d}.npz")],
    )
    loaded = tinynet.load(tmp_path / "ckpt-01.npz")
    model.eval()
    loaded.eval()
    assert np.array_equal(loaded(x_val), model(x_val))


def test_save_best_only_keeps_the_best_epoch(tmp_path: Path, mnist_slice: tuple[Any, ...]) -> None:
    x, y, x_val, y_val = mnist_slice
    saved: list[int] = []

    class Spy(ModelCheckpoint):
        def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
            before = self.tracker.best
            super().on_epoch_end(run, logs)
            if self.tracker.best != before:
                saved.append(run.epoch)

    history = RECIPE.fit(
        build(2),
        x,
        y,
        seed=2,
        validation_data=(x_val, y_val),
        verbose=0,
        callbacks=[Spy(tmp_path / "best.npz", save_best_only=True)],
    )
    losses = history["val_loss"]
    improving = [i for i in range(len(losses)) if losses[i] < min(losses[:i], default=np.inf)]
    assert saved == improving
    best = tinynet.load(tmp_path / "best.npz")
    scores = RECIPE.evaluate(best, x_val, y_val)
    assert scores["loss"] == pytest.approx(min(losses), rel=1e-5)


def test_resume_refuses_a_checkpoint_of_another_run(
    tmp_path: Path, mnist_slice: tuple[Any, ...]
) -> None:
    x, y, *_ = mnist_slice
    plain = tmp_path / "plain.npz"
    tinynet.save(build(0), plain)
    with pytest.raises(ValueError, match="not a checkpoint"):
        RECIPE.fit(build(0), x, y, verbose=0, callbacks=[BackupAndRestore(plain)])
    ckpt = tmp_path / "ckpt.npz"
    RECIPE.fit(build(0), x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(ckpt)])
    sgd = Recipe(optimizer="sgd", optimizer_args={"lr": 0.1}, epochs=2)
    with pytest.raises(ValueError, match="optimizer is AdamW"):
        sgd.fit(build(0), x, y, verbose=0, callbacks=[BackupAndRestore(ckpt)])
    with pytest.raises(ValueError, match="callbacks with state"):
        Recipe(optimizer="adamw", epochs=2).fit(
            build(0), x, y, verbose=0, callbacks=[BackupAndRestore(ckpt)]
        )
    unshifted = replace(RECIPE, max_shift=0)
    with pytest.raises(ValueError, match=r"generators .*'transform'"):
        unshifted.fit(
            build(0), x, y, verbose=0, callbacks=[BackupAndRestore(ckpt), ModelCheckpoint(ckpt)]
        )
