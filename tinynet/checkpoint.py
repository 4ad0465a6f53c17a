"""Checkpoints: a model file that also holds everything needed to resume training exactly.

A checkpoint is a native tinynet model file (`tinynet.io.save`) with the optimizer
state, plus, in its metadata: the number of epochs done, the history so far, the state
of every callback (learning-rate schedule, early stopping) and of every random
generator the run draws from (batch order, augmentation, dropout). ``tinynet.load``
reads it like any model file; ``fit(..., callbacks=[BackupAndRestore(path)])`` continues
the run and ends bit-identical to the same run never interrupted.

Two callbacks write them: `ModelCheckpoint` (every few epochs, or the best ones, under
names from a template) and `BackupAndRestore` (Keras's: one file that a run restores
from when it starts, then keeps writing). ``fit`` itself knows no file format.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tinynet.callbacks import Monitor
from tinynet.io import load_full, save
from tinynet.train import Callback, History, Run

KEY = "tinynet_checkpoint"


class ModelCheckpoint(Callback):
    """Save a resumable checkpoint every ``every`` epochs, or only the best ones.

    ``filepath`` may contain ``{epoch}`` (1-based) and any logged name, e.g.
    ``"ckpt-{epoch:03d}-{val_accuracy:.4f}.npz"``, as in Keras. With
    ``save_best_only``, a file is written only when ``monitor`` improves (``mode`` as
    in `EarlyStopping`). Every write is atomic: a crash mid-save leaves the previous
    checkpoint intact. Extra ``metadata`` (JSON) is stored beside the training state.
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        *,
        every: int = 1,
        save_best_only: bool = False,
        monitor: str = "val_loss",
        mode: str = "auto",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"ModelCheckpoint: every must be >= 1, got {every}")
        self.filepath = str(filepath)
        self.every = every
        self.save_best_only = save_best_only
        self.monitor = monitor
        self.tracker = Monitor("ModelCheckpoint", monitor, mode)
        self.metadata = metadata or {}
        self.last_path: Path | None = None

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.save_best_only:
            if not self.tracker.improves(logs):
                return
        elif (run.epoch + 1) % self.every:
            return
        self.last_path = Path(self.filepath.format(epoch=run.epoch + 1, **logs))
        save_checkpoint(self.last_path, run, metadata=self.metadata)

    def state_dict(self) -> dict[str, Any]:
        return self.tracker.state_dict() if self.save_best_only else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state)


class BackupAndRestore(Callback):
    """Resume an interrupted run from ``path``, and keep ``path`` up to date (Keras's).

    At the start of training, if ``path`` exists, the run continues from it: weights,
    optimizer, the other callbacks' state, random generators, history and epoch all
    come back (`restore_checkpoint`), so it ends bit-identical to a run never stopped.
    Then a checkpoint is written to ``path`` every ``every`` epochs (atomically: a crash
    mid-save leaves the previous one). ``metadata`` (JSON) is stored beside the state.
    Unlike Keras, the file is kept when training ends (``delete_checkpoint=True`` removes
    it), so a finished run can be extended with more epochs.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every: int = 1,
        metadata: dict[str, Any] | None = None,
        delete_checkpoint: bool = False,
    ) -> None:
        if every < 1:
            raise ValueError(f"BackupAndRestore: every must be >= 1, got {every}")
        self.path = Path(path)
        self.every = every
        self.metadata = metadata or {}
        self.delete_checkpoint = delete_checkpoint
        self.restored_epoch: int | None = None

    def on_train_begin(self, run: Run) -> None:
        if self.path.exists():
            run.epoch = self.restored_epoch = restore_checkpoint(self.path, run)

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if (run.epoch + 1) % self.every == 0:
            save_checkpoint(self.path, run, metadata=self.metadata)

    def on_train_end(self, run: Run) -> None:
        if self.delete_checkpoint:
            self.path.unlink(missing_ok=True)


def generators(run: Run) -> Iterator[tuple[str, np.random.Generator]]:
    """Every random generator a run draws from, by a stable name: ``loader``,
    ``transform`` (augmentation) and ``model.<layer path>.<attribute>`` (dropout)."""
    yield "loader", run.loader.rng
    transform_rng = getattr(run.loader.transform, "rng", None)
    if isinstance(transform_rng, np.random.Generator):
        yield "transform", transform_rng
    for prefix, layer in run.model.named_modules("model."):
        for attribute, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                yield prefix + attribute, value


def save_checkpoint(
    path: str | os.PathLike[str], run: Run, *, metadata: dict[str, Any] | None = None
) -> None:
    """Write ``run``'s model, optimizer and training state to ``path``, atomically.

    Call at the end of an epoch (``run.epoch`` is the epoch just finished).
    """
    state = {
        "epochs_done": run.epoch + 1,
        "history": run.history.history,
        "history_epochs": run.history.epoch,
        "callbacks": [{"type": type(c).__name__, "state": c.state_dict()} for c in run.callbacks],
        "generators": {name: g.bit_generator.state for name, g in generators(run)},
    }
    save(run.model, path, optimizer=run.optimizer, metadata={**(metadata or {}), KEY: state})


def restore_checkpoint(path: str | os.PathLike[str], run: Run) -> int:
    """Load a checkpoint into ``run``'s model, optimizer, callbacks, generators and history.

    Everything is checked against the run before anything is changed: the model's
    architecture and weights (``load_state_dict``), the optimizer's class and state,
    the same callbacks in the same order, the same generators. Returns the number of
    epochs the checkpoint had done (the epoch to continue from).
    """
    loaded = load_full(path)
    state = loaded.metadata.get(KEY)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: a model file, but not a checkpoint (no training state)")
    if loaded.optimizer is None or type(loaded.optimizer) is not type(run.optimizer):
        got = type(loaded.optimizer).__name__
        raise ValueError(
            f"{path}: the checkpoint's optimizer is {got}, this run uses "
            f"{type(run.optimizer).__name__}"
        )
    saved = [entry for entry in state["callbacks"] if entry["state"]]
    stateful = [c for c in run.callbacks if c.state_dict()]
    if [entry["type"] for entry in saved] != [type(c).__name__ for c in stateful]:
        raise ValueError(
            f"{path}: the checkpoint's callbacks with state "
            f"{[entry['type'] for entry in saved]} differ from this run's "
            f"{[type(c).__name__ for c in stateful]}"
        )
    ours_generators = dict(generators(run))
    if set(state["generators"]) != set(ours_generators):
        raise ValueError(
            f"{path}: the checkpoint's random generators {sorted(state['generators'])} "
            f"differ from this run's {sorted(ours_generators)}"
        )
    run.model.load_state_dict(loaded.model.state_dict())
    run.optimizer.load_state_dict(loaded.optimizer.state_dict())
    for callback, entry in zip(stateful, saved, strict=True):
        callback.load_state_dict(entry["state"])
    for name, generator in ours_generators.items():
        generator.bit_generator.state = state["generators"][name]
    history = History()
    for i, epoch in enumerate(state["history_epochs"]):
        history.record(epoch, {k: v[i] for k, v in state["history"].items()})
    run.history = history
    return int(state["epochs_done"])
