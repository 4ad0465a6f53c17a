"""Callbacks for `tinynet.train.fit`: early stopping, learning-rate schedules, lambdas.

Keras's shape: subclass `Callback`, override what you need, pass instances to
``fit(callbacks=[...])``. Each hook gets the `Run`, which holds the model, optimizer,
history and the ``stop_training`` flag. `Callback`, `Run`, `History` and `ProgressBar`
are defined beside the loop (`tinynet.train`) and importable from here too; the
callbacks that write files are in `tinynet.checkpoint`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Sequence
from typing import IO, Any

from tinynet.inference import evaluate
from tinynet.losses import Loss
from tinynet.metrics.streaming import MetricSpec
from tinynet.optim.schedules import LRScheduler, ReduceLROnPlateau
from tinynet.train import Callback, History, ProgressBar, Run
from tinynet.typing import Array, FloatArray
from tinynet.validation import is_integer, is_real, short

__all__ = [
    "CSVLogger",
    "Callback",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "Monitor",
    "ProgressBar",
    "Run",
    "TestSetMonitor",
]


MODES = ("auto", "min", "max")


class Monitor:
    """Tracks the best value of one logged quantity, as `EarlyStopping` and
    `ModelCheckpoint` watch it (Keras's ``monitor``, ``mode`` and ``min_delta``).

    ``mode`` ``"min"`` or ``"max"``, or ``"auto"``: max for names containing ``acc``,
    else min. A value improves on the best when it is better by more than ``min_delta``;
    NaN never improves (a diverged epoch must not count as the best one).
    """

    def __init__(self, owner: str, name: str, mode: str = "auto", min_delta: float = 0.0):
        if mode not in MODES:
            raise ValueError(f"{owner}: mode must be one of {MODES}, got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in name else "min"
        self.owner = owner
        self.name = name
        self.sign = 1.0 if mode == "max" else -1.0
        self.min_delta = abs(float(min_delta))
        self.best = -math.inf  # in the sign-adjusted scale: larger is better

    def value(self, logs: dict[str, float]) -> float:
        """The monitored value in ``logs`` (``KeyError`` naming what is logged if absent)."""
        if self.name not in logs:
            raise KeyError(
                f"{self.owner}: monitor {self.name!r} is not logged; logged: {sorted(logs)} "
                f"(val_* needs validation data)"
            )
        return logs[self.name]

    def improves(self, logs: dict[str, float]) -> bool:
        """Whether this epoch's value beats the best so far; if so it becomes the best."""
        score = self.sign * self.value(logs)
        if not score > self.best + self.min_delta:  # also false for NaN
            return False
        self.best = score
        return True

    def reset(self) -> None:
        """Forget the best value."""
        self.best = -math.inf

    def state_dict(self) -> dict[str, Any]:
        """``{"best": ...}`` in the sign-adjusted scale (``None`` for none yet)."""
        return {"best": self.best if math.isfinite(self.best) else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict`; ``ValueError`` (nothing changed) unless ``best`` is a
        number or ``None``."""
        best = state["best"]
        if best is not None and not (is_real(best) and not math.isnan(best)):
            raise ValueError(
                f"{self.owner}: the saved best must be a number or null, got {short(best)}"
            )
        self.best = -math.inf if best is None else float(best)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    ``mode`` is ``"min"``, ``"max"`` or ``"auto"`` (max for names containing
    "accuracy", else min), as in Keras. With ``restore_best_weights`` the model ends
    with the weights of its best epoch (unlike Keras, also when all epochs ran).
    ``stopped_epoch`` and ``best_epoch`` say what happened.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        self.monitor = monitor
        self.tracker = Monitor("EarlyStopping", monitor, mode, min_delta)
        self.patience = int(patience)
        self.restore_best_weights = restore_best_weights
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.wait = 0
        self.best_weights: dict[str, Array] | None = None

    @property
    def best(self) -> float:
        """The best value of ``monitor`` so far (-inf or inf before the first epoch)."""
        return self.tracker.sign * self.tracker.best

    def on_train_begin(self, run: Run) -> None:
        if run.epoch == 0:
            self.tracker.reset()
            self.best_epoch, self.stopped_epoch, self.wait = -1, -1, 0
            self.best_weights = None

    def state_dict(self) -> dict[str, Any]:
        """Best score, its epoch and the wait so far (best weights are not kept: a resumed
        run restores the best weights seen since it resumed)."""
        return {**self.tracker.state_dict(), "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        best_epoch, wait = state["best_epoch"], state["wait"]
        if not (is_integer(best_epoch) and best_epoch >= -1 and is_integer(wait) and wait >= 0):
            raise ValueError(
                f"EarlyStopping: expected a saved best_epoch >= -1 and wait >= 0, integers, "
                f"got {short(best_epoch)} and {short(wait)}"
            )
        self.tracker.load_state_dict(state)
        self.best_epoch = int(best_epoch)
        self.wait = int(wait)

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.tracker.improves(logs):
            self.best_epoch, self.wait = run.epoch, 0
            if self.restore_best_weights:
                self.best_weights = run.model.state_dict()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = run.epoch
            run.stop_training = True

    def on_train_end(self, run: Run) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            run.model.load_state_dict(self.best_weights)


class LearningRateScheduler(Callback):
    """Step a `tinynet.optim` schedule after every epoch (``per="epoch"``) or batch.

    A `ReduceLROnPlateau` is stepped once per epoch with the logged value ``monitor``
    (``"val_loss"`` by default; a ``KeyError`` names what is logged if it is not), which
    together make Keras's ``ReduceLROnPlateau`` callback.
    """

    def __init__(
        self,
        scheduler: LRScheduler | ReduceLROnPlateau,
        *,
        per: str = "epoch",
        monitor: str = "val_loss",
    ) -> None:
        if per not in ("epoch", "batch"):
            raise ValueError(f"LearningRateScheduler: per must be 'epoch' or 'batch', got {per!r}")
        if isinstance(scheduler, ReduceLROnPlateau) and per != "epoch":
            raise ValueError("LearningRateScheduler: ReduceLROnPlateau steps once per epoch")
        self.scheduler = scheduler
        self.per = per
        self.monitor = Monitor("LearningRateScheduler", monitor, scheduler_mode(scheduler))

    def on_batch_end(self, run: Run) -> None:
        if self.per == "batch" and isinstance(self.scheduler, LRScheduler):
            self.scheduler.step()

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.per != "epoch":
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step(self.monitor.value(logs))
        else:
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


def scheduler_mode(scheduler: object) -> str:
    """``"min"`` or ``"max"`` for a plateau schedule, ``"auto"`` otherwise."""
    return scheduler.mode if isinstance(scheduler, ReduceLROnPlateau) else "auto"


class LambdaCallback(Callback):
    """A callback from plain functions, called as Keras's are: ``on_train_begin(logs)``,
    ``on_epoch_begin(epoch, logs)``, ``on_batch_end(batch, logs)``, ``on_epoch_end(epoch,
    logs)``, ``on_train_end(logs)``. ``epoch`` and ``batch`` count from 0 (``batch``
    within its epoch); an epoch's ``logs`` are those `History` records, a batch's the
    running mean loss and metrics of the epoch so far (`Run.running_logs`), the others
    ``{}``. To reach the run itself (its model, ``stop_training``), subclass `Callback`.
    """

    def __init__(
        self,
        *,
        on_train_begin: Callable[[dict[str, float]], Any] | None = None,
        on_epoch_begin: Callable[[int, dict[str, float]], Any] | None = None,
        on_batch_end: Callable[[int, dict[str, float]], Any] | None = None,
        on_epoch_end: Callable[[int, dict[str, float]], Any] | None = None,
        on_train_end: Callable[[dict[str, float]], Any] | None = None,
    ) -> None:
        self._train_begin, self._train_end = on_train_begin, on_train_end
        self._epoch_begin, self._epoch_end = on_epoch_begin, on_epoch_end
        self._batch_end = on_batch_end

    def on_train_begin(self, run: Run) -> None:
        if self._train_begin is not None:
            self._train_begin({})

    def on_epoch_begin(self, run: Run) -> None:
        if self._epoch_begin is not None:
            self._epoch_begin(run.epoch, {})

    def on_batch_end(self, run: Run) -> None:
        if self._batch_end is not None:
            self._batch_end(run.batch, run.running_logs())

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self._epoch_end is not None:
            self._epoch_end(run.epoch, logs)

    def on_train_end(self, run: Run) -> None:
        if self._train_end is not None:
            self._train_end({})


class TestSetMonitor(Callback):
    """After each epoch, log the loss and metrics of ``(x, y)`` under ``prefix``
    (``test_loss``, ``test_accuracy``...), in the epoch's logs (for the progress line)
    and in the history, as `tinynet.train.fit` logs validation data under ``val_``:
    curves to draw (``tinynet train --plot``), never a score to choose by, since a test
    set that picks epochs or schedules no longer measures anything.

    ``x`` (N, ...) is laid out as the model takes it and ``y`` as ``loss`` takes it
    (labels, or one-hot rows for a quadratic cost); ``metrics`` as in
    `tinynet.train.fit` (``None``: the head's). It runs after the epoch's clock stops,
    so training seconds exclude it.
    """

    __test__ = False  # a library class, not a pytest test class

    def __init__(
        self,
        x: FloatArray,
        y: Array,
        *,
        loss: Loss,
        metrics: Sequence[MetricSpec] | None = None,
        prefix: str = "test_",
    ) -> None:
        self.x, self.y, self.loss, self.metrics, self.prefix = x, y, loss, metrics, prefix

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        scores = evaluate(run.model, self.x, self.y, loss=self.loss, metrics=self.metrics)
        for name, value in scores.items():
            logs[self.prefix + name] = value
            run.history.history.setdefault(self.prefix + name, []).append(value)


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file as the run goes (Keras's).

    Columns: ``epoch`` (from 0) then the logged names, sorted, from the first epoch's
    logs; each row is flushed and synced when its epoch ends, so a crash keeps every
    finished epoch. ``append=True`` adds to an existing file (no second header) for a
    resumed run; otherwise the file is replaced. ``separator`` as Keras's.
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"CSVLogger: separator must be one character, got {separator!r}")
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self._file: IO[str] | None = None
        self._columns: list[str] | None = None

    def on_train_begin(self, run: Run) -> None:
        keep = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename)
        mode = "a" if keep else "w"
        self._file = open(self.filename, mode, newline="", encoding="utf-8")  # noqa: SIM115
        self._columns = None if not keep else []  # an appended file has its header

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self._file is None:
            return
        writer = csv.writer(self._file, delimiter=self.separator)
        if self._columns is None:
            self._columns = sorted(logs)
            writer.writerow(["epoch", *self._columns])
        elif not self._columns:
            self._columns = sorted(logs)
        writer.writerow([run.epoch, *(logs.get(name, "") for name in self._columns)])
        self._file.flush()
        os.fsync(self._file.fileno())

    def on_train_end(self, run: Run) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
