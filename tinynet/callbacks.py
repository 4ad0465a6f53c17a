"""Callbacks for `tinynet.train.fit`: hooks at the edges of training, epochs and batches.

Keras's shape: subclass `Callback`, override what you need, pass instances to
``fit(callbacks=[...])``. Each hook gets the `Run`, which holds the model, optimizer,
history and the ``stop_training`` flag.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

from tinynet.layers.base import Layer
from tinynet.losses import Loss
from tinynet.optim.optimizer import Optimizer
from tinynet.optim.schedules import LRScheduler
from tinynet.typing import Array, FloatArray

if TYPE_CHECKING:
    from tinynet.data import DataLoader


class History:
    """Per-epoch logs of a `fit` call, as Keras's: ``history["val_accuracy"][-1]``.

    ``history`` maps each logged name (``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy``, ``lr``, ``seconds``, ``samples_per_second``) to one value per
    epoch; ``epoch`` lists the epoch numbers (from 0).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def record(self, epoch: int, logs: dict[str, float]) -> None:
        """Append one epoch's logs."""
        self.epoch.append(epoch)
        for name, value in logs.items():
            self.history.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> list[float]:
        return self.history[name]

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={sorted(self.history)})"


@dataclass
class Run:
    """The state of one `fit` call, shared with callbacks.

    ``epoch`` is the current epoch (from 0; after training, the number of epochs
    run); ``batch`` the batch within it. Running sums of the epoch so far
    (``loss_sum`` weighted by batch size, ``correct``, ``samples``) let a progress bar
    show averages. Set ``stop_training = True`` to end after the current epoch.
    """

    model: Layer
    loss: Loss
    optimizer: Optimizer
    loader: DataLoader[Array]
    epochs: int
    history: History
    epoch: int = 0
    batch: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    samples: int = 0
    counts_accuracy: bool = False
    callbacks: list[Callback] = field(default_factory=list)
    epoch_start: float = field(default_factory=time.perf_counter)
    stop_training: bool = False

    def running_logs(self) -> dict[str, float]:
        """Mean loss and accuracy of the epoch so far, and samples per second."""
        seen = max(self.samples, 1)
        elapsed = max(time.perf_counter() - self.epoch_start, 1e-9)
        return {
            "loss": self.loss_sum / seen,
            "accuracy": self.correct / seen,
            "samples_per_second": self.samples / elapsed,
        }


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def on_train_begin(self, run: Run) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, run: Run) -> None:
        """Before each epoch's first batch."""

    def on_batch_end(self, run: Run) -> None:
        """After each optimizer step (``run.batch`` is the batch just done)."""

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        """After each epoch, with its logs (training and validation metrics, lr, time)."""

    def on_train_end(self, run: Run) -> None:
        """After the last epoch (also after an early stop)."""

    def state_dict(self) -> dict[str, Any]:
        """What this callback must remember to resume a run exactly (JSON values)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict` (when a run resumes from a checkpoint)."""


def finite_or_none(value: float) -> float | None:
    """``value``, or ``None`` for an infinity (JSON has no infinities)."""
    return value if math.isfinite(value) else None


def snapshot(model: Layer) -> list[FloatArray]:
    """Copies of every parameter and buffer of ``model``, in a fixed order."""
    return [p.data.copy() for p in model.parameters()] + [
        b.copy() for _, b in model.named_buffers()
    ]


def restore(model: Layer, saved: list[FloatArray]) -> None:
    """Copy a `snapshot` back into ``model``'s arrays, in place."""
    targets = [p.data for p in model.parameters()] + [b for _, b in model.named_buffers()]
    for target, value in zip(targets, saved, strict=True):
        np.copyto(target, value)


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
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"EarlyStopping: mode must be auto, min or max, got {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.monitor = monitor
        self.patience = int(patience)
        self.min_delta = abs(float(min_delta))
        self.sign = 1.0 if mode == "max" else -1.0
        self.restore_best_weights = restore_best_weights
        self.best = -math.inf
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.wait = 0
        self.best_weights: list[FloatArray] | None = None

    def on_train_begin(self, run: Run) -> None:
        if run.epoch == 0:
            self.best, self.best_epoch, self.stopped_epoch, self.wait = -math.inf, -1, -1, 0
            self.best_weights = None

    def state_dict(self) -> dict[str, Any]:
        """Best score, its epoch and the wait so far (best weights are not kept: a resumed
        run restores the best weights seen since it resumed)."""
        return {"best": finite_or_none(self.best), "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = -math.inf if state["best"] is None else float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping: monitor {self.monitor!r} is not logged; "
                f"logged: {sorted(logs)} (val_* needs validation data)"
            )
        score = self.sign * logs[self.monitor]
        if score > self.best + self.min_delta:
            self.best, self.best_epoch, self.wait = score, run.epoch, 0
            if self.restore_best_weights:
                self.best_weights = snapshot(run.model)
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = run.epoch
            run.stop_training = True

    def on_train_end(self, run: Run) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            restore(run.model, self.best_weights)


class LearningRateScheduler(Callback):
    """Step a `tinynet.optim` schedule after every epoch (``per="epoch"``) or batch."""

    def __init__(self, scheduler: LRScheduler, *, per: str = "epoch") -> None:
        if per not in ("epoch", "batch"):
            raise ValueError(f"LearningRateScheduler: per must be 'epoch' or 'batch', got {per!r}")
        self.scheduler = scheduler
        self.per = per

    def on_batch_end(self, run: Run) -> None:
        if self.per == "batch":
            self.scheduler.step()

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.per == "epoch":
            self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda run, logs: ...)``."""

    def __init__(
        self,
        *,
        on_epoch_end: Callable[[Run, dict[str, float]], Any] | None = None,
        on_batch_end: Callable[[Run], Any] | None = None,
    ) -> None:
        self._epoch_end = on_epoch_end
        self._batch_end = on_batch_end

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self._epoch_end is not None:
            self._epoch_end(run, logs)

    def on_batch_end(self, run: Run) -> None:
        if self._batch_end is not None:
            self._batch_end(run)


def format_logs(logs: dict[str, float]) -> str:
    """``loss 0.1234 - accuracy 0.9612 - ...`` for a progress line."""
    parts = []
    for name, value in logs.items():
        if name == "samples_per_second":
            parts.append(f"{value:,.0f} samples/s")
        elif name == "seconds":
            parts.append(f"{value:.1f}s")
        elif name == "lr":
            parts.append(f"lr {value:.3g}")
        else:
            parts.append(f"{name} {value:.4f}")
    return " - ".join(parts)


class ProgressBar(Callback):
    """Show training progress: a tqdm bar per epoch (batches, loss, accuracy, samples/s)
    on a terminal, one summary line per epoch otherwise.

    ``verbose=0`` is silent, ``1`` a bar when ``stream`` is a TTY (else epoch lines),
    ``2`` epoch lines only (Keras's levels). The bar's text is refreshed at most every
    ``refresh_seconds``, so it costs nothing measurable per batch.
    """

    def __init__(self, verbose: int = 1, *, stream: Any = None, refresh_seconds: float = 0.2):
        self.verbose = int(verbose)
        self.stream = stream if stream is not None else sys.stderr
        self.refresh_seconds = refresh_seconds
        self._bar: tqdm[Any] | None = None
        self._last_refresh = 0.0

    def _use_bar(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return self.verbose == 1 and callable(isatty) and bool(isatty())

    def on_epoch_begin(self, run: Run) -> None:
        if self._use_bar():
            self._bar = tqdm(
                total=len(run.loader),
                desc=f"epoch {run.epoch + 1}/{run.epochs}",
                unit="batch",
                file=self.stream,
                leave=True,
                dynamic_ncols=True,
            )
            self._last_refresh = time.perf_counter()

    def on_batch_end(self, run: Run) -> None:
        if self._bar is None:
            return
        self._bar.update(1)
        now = time.perf_counter()
        if now - self._last_refresh >= self.refresh_seconds:
            self._last_refresh = now
            self._bar.set_postfix_str(format_logs(run.running_logs()), refresh=True)

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=True)
            self._bar.close()
            self._bar = None
        elif self.verbose:
            print(f"epoch {run.epoch + 1}/{run.epochs} - {format_logs(logs)}", file=self.stream)

    def on_train_end(self, run: Run) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
