"""The training loop: `fit`, the loop it runs (`train_epoch`) and the state they share (`Run`).

``fit`` is Keras's ``model.fit`` as a function of the model, loss and optimizer; the
explicit loop it runs is ``train_epoch``, short enough to copy and change. Callbacks
(`Callback`) see the `Run` at the edges of training, epochs and batches; `ProgressBar`
is the one ``fit`` adds itself (``verbose``). Resuming from a checkpoint is a callback
too (`tinynet.checkpoint.BackupAndRestore`): this loop knows no file format.

The inference loops (`evaluate`, `predict`, `predict_proba`) live in `tinynet.inference`
and are importable from here as well.
"""

from __future__ import annotations

import inspect
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from tinynet.data import (
    ClassWeight,
    DataLoader,
    check_sample_weight,
    class_sample_weights,
    validation_split,
)
from tinynet.heads import loss_targets
from tinynet.inference import (
    as_model_input,
    evaluate,
    forward_in_batches,
    predict,
    predict_proba,
)
from tinynet.layers.base import Layer
from tinynet.layers.embedding import takes_tokens
from tinynet.losses import Loss
from tinynet.metrics.streaming import MetricSpec
from tinynet.optim.clip import clip_grad_norm_
from tinynet.optim.optimizer import Optimizer
from tinynet.scoring import Scorer
from tinynet.typing import Array, FloatArray
from tinynet.validation import is_integer, short

__all__ = [
    "Callback",
    "History",
    "NonFiniteLossError",
    "ProgressBar",
    "Run",
    "evaluate",
    "fit",
    "forward_in_batches",
    "predict",
    "predict_proba",
    "train_epoch",
]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch and batch."""


class History:
    """Per-epoch logs of a `fit` call, as Keras's: ``history["val_accuracy"][-1]``.

    ``history`` maps each logged name (``loss``, each metric such as ``accuracy`` or
    ``mae``, ``val_loss``, ``val_accuracy``..., ``lr``, ``seconds``,
    ``samples_per_second``) to one value per epoch; ``epoch`` lists the epoch numbers
    (from 0). ``lr`` is the learning rate at the start of the epoch, before its first
    batch: a schedule stepped per epoch shows its step in the next epoch's ``lr``, one
    stepped per batch moves the rate within the epoch, after the value logged.
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
    (``loss_sum`` weighted by batch size, ``samples``) and ``scorer`` (the metrics of the
    epoch's batches) let a progress bar show averages. ``clip_grad_norm``, if set, is
    the norm every batch's gradients are clipped to. Set ``stop_training = True`` to end
    after the current epoch; a callback's ``on_train_begin`` may set ``epoch`` to where
    the run continues.
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
    samples: int = 0
    scorer: Scorer | None = None
    clip_grad_norm: float | None = None
    callbacks: list[Callback] = field(default_factory=list)
    epoch_start: float = field(default_factory=time.perf_counter)
    stop_training: bool = False

    def running_logs(self) -> dict[str, float]:
        """Mean loss and the metrics of the epoch so far, and samples per second."""
        seen = max(self.samples, 1)
        elapsed = max(time.perf_counter() - self.epoch_start, 1e-9)
        metrics = {} if self.scorer is None else self.scorer.results(running=True)
        return {
            "loss": self.loss_sum / seen,
            **metrics,
            "samples_per_second": self.samples / elapsed,
        }


class Callback:
    """Base class: every hook does nothing; override the ones you need."""

    def on_train_begin(self, run: Run) -> None:
        """Before the first epoch."""

    def on_epoch_begin(self, run: Run) -> None:
        """Before each epoch's first batch."""

    def on_after_backward(self, run: Run) -> None:
        """After each backward, before clipping and the step (the gradients are in place)."""

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


def train_epoch(run: Run, callbacks: Sequence[Callback]) -> None:
    """One pass over ``run.loader``: forward, loss, backward, step, for every batch.

    Raises `NonFiniteLossError` the moment the loss is NaN or infinite.
    """
    model, loss, optimizer = run.model, run.loss, run.optimizer
    for batch, (x_batch, y_batch, weights) in enumerate(run.loader.batches()):
        run.batch = batch
        outputs = model.forward(x_batch)
        if weights is None:
            value = loss.forward(outputs, y_batch)
        else:
            value = loss.forward(outputs, y_batch, sample_weight=weights)
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"fit: the loss became {value} at epoch {run.epoch + 1}, batch {run.batch + 1} "
                f"(lr {optimizer.lr:g}); lower the learning rate or check the data"
            )
        optimizer.zero_grad()
        model.backward_params(loss.backward())
        for callback in callbacks:
            callback.on_after_backward(run)
        if run.clip_grad_norm is not None:
            clip_grad_norm_(optimizer.params, run.clip_grad_norm)
        optimizer.step()
        n = x_batch.shape[0]
        run.loss_sum += value * n
        run.samples += n
        if run.scorer is not None:
            run.scorer.update(outputs, y_batch)
        for callback in callbacks:
            callback.on_batch_end(run)


def fit(
    model: Layer,
    x: FloatArray | None = None,
    y: Array | None = None,
    *,
    loss: Loss,
    optimizer: Optimizer,
    epochs: int = 1,
    batch_size: int = 32,
    validation_data: tuple[FloatArray, Array] | None = None,
    validation_split: float = 0.0,
    callbacks: Iterable[Callback] = (),
    seed: int | None = None,
    shuffle: bool = True,
    transform: Callable[[FloatArray], FloatArray] | None = None,
    verbose: int = 1,
    initial_epoch: int = 0,
    loader: DataLoader[Array] | None = None,
    metrics: Sequence[MetricSpec] | None = None,
    class_weight: ClassWeight | None = None,
    sample_weight: FloatArray | None = None,
    clip_grad_norm: float | None = None,
    validation_mode: str = "last",
) -> History:
    """Train ``model`` on ``x`` (N, ...) and ``y`` (labels (N,) or targets (N, ...)).

    ``x`` is converted once to the model's dtype, or batches come from a `DataLoader`
    (``loader``). Each epoch steps once per shuffled batch (same ``seed``, same run bit
    for bit). Validation: ``validation_data``, or a ``validation_split`` held out by
    ``validation_mode`` (``"last"`` rows as Keras, ``"shuffle"``, ``"stratify"``).
    ``metrics`` (default: the head's), ``class_weight``, ``sample_weight``, ``callbacks``,
    ``verbose`` and ``initial_epoch`` are Keras's; ``clip_grad_norm`` caps the gradients'
    2-norm. Returns the `History`; raises `NonFiniteLossError` on a NaN or inf loss.
    """
    _check_fit_arguments(
        model, loss, optimizer, epochs, initial_epoch, seed, validation_data, clip_grad_norm
    )
    loader, validation_data = _training_data(
        model,
        x,
        y,
        loss,
        loader,
        batch_size,
        shuffle,
        seed,
        transform,
        validation_data,
        validation_split,
        validation_mode,
        class_weight,
        sample_weight,
    )
    all_callbacks: list[Callback] = [*callbacks, ProgressBar(verbose)]
    run = Run(model, loss, optimizer, loader, epochs, History(), callbacks=all_callbacks)
    run.scorer = Scorer(model, loss, metrics)
    run.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
    run.epoch = initial_epoch
    return run_epochs(run, all_callbacks, epochs, validation_data, metrics)


def run_epochs(
    run: Run,
    callbacks: Sequence[Callback],
    epochs: int,
    validation_data: tuple[FloatArray, Array] | None,
    metrics: Sequence[MetricSpec] | None,
) -> History:
    """Train ``run`` from its epoch to ``epochs``, the callbacks seeing every step; the
    head the scorer found is recorded on the model after each epoch."""
    model, optimizer = run.model, run.optimizer
    model.train()
    for callback in callbacks:
        callback.on_train_begin(run)
    for epoch in range(run.epoch, epochs):
        run.epoch, run.loss_sum, run.samples = epoch, 0.0, 0
        if run.scorer is not None:
            run.scorer.reset()
        run.epoch_start = time.perf_counter()
        lr = optimizer.lr
        for callback in callbacks:
            callback.on_epoch_begin(run)
        train_epoch(run, callbacks)
        if run.scorer is not None and run.scorer.head is not None:
            model.head = run.scorer.head
        logs = epoch_logs(run, lr, validation_data, metrics)
        run.history.record(epoch, logs)
        for callback in callbacks:
            callback.on_epoch_end(run, logs)
        if run.stop_training:
            break
    for callback in callbacks:
        callback.on_train_end(run)
    return run.history


def _training_data(
    model: Layer,
    x: FloatArray | None,
    y: Array | None,
    loss: Loss,
    loader: DataLoader[Array] | None,
    batch_size: int,
    shuffle: bool,
    seed: int | None,
    transform: Callable[[FloatArray], FloatArray] | None,
    validation_data: tuple[FloatArray, Array] | None,
    validation_split: float,
    validation_mode: str,
    class_weight: ClassWeight | None,
    sample_weight: FloatArray | None,
) -> tuple[DataLoader[Array], tuple[FloatArray, Array] | None]:
    """`fit`'s batches and validation data, each checked and converted once."""
    if loader is None:
        if x is None or y is None:
            raise TypeError("fit: give the data as x and y, or as a DataLoader (loader=)")
        x = as_model_input(model, x)
        y = loss_targets(loss, y, model.dtype)
        weights = training_weights(loss, y, class_weight, sample_weight, x.shape[0])
        if validation_split:
            if validation_data is not None:
                raise ValueError("fit: give validation_data or validation_split, not both")
            x, y, weights, validation_data = split_off(
                x, y, weights, validation_split, validation_mode, seed
            )
        loader = DataLoader(
            x,
            y,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            reuse_buffers=True,
            transform=transform,
            sample_weight=None if weights is None else weights.astype(model.dtype),
        )
    else:
        _check_loader(model, loader, x, y, validation_split)
        if class_weight is not None or sample_weight is not None:
            raise ValueError(
                "fit: with a loader, give the weights to the DataLoader (sample_weight=), "
                "not to fit"
            )
        if loader.sample_weight is not None:
            require_weighted_loss(loss)
    if validation_data is not None:
        x_val, y_val = validation_data
        validation_data = (as_model_input(model, x_val, "validation x"), y_val)
    return loader, validation_data


def warn_double_activation(model: Layer, loss: Loss) -> None:
    """Warn when a model ending in Softmax or Sigmoid trains with a loss that applies its
    own to what it takes as logits: the probabilities are squashed twice (Keras warns
    too). Training still runs: it is slow and poorly calibrated, not wrong in form."""
    squashed, name = model.output_activation(), getattr(loss, "name", None)
    if squashed is not None and name in ("cross_entropy", "bce_with_logits"):
        warnings.warn(
            f"the model ends in {squashed} and trains with {type(loss).__name__}, which "
            f"applies its own {'softmax' if name == 'cross_entropy' else 'sigmoid'} to "
            f"what it takes as logits: a double activation. Drop the model's last layer "
            f"(predict_proba still gives probabilities) or use a loss on probabilities",
            UserWarning,
            stacklevel=3,
        )


def _check_fit_arguments(
    model: Layer,
    loss: Loss,
    optimizer: object,
    epochs: int,
    initial_epoch: object,
    seed: object,
    validation_data: object,
    clip_grad_norm: float | None,
) -> None:
    """The arguments of `fit` that would otherwise train nothing, or the wrong epochs,
    without a word: each refused by name."""
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if clip_grad_norm is not None and not float(clip_grad_norm) > 0:
        raise ValueError(f"fit: clip_grad_norm must be a number > 0, got {clip_grad_norm!r}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"fit: expected a tinynet Optimizer, got {type(optimizer).__name__}")
    warn_double_activation(model, loss)
    ours = {id(p) for p in model.parameters()}
    foreign = sum(1 for p in optimizer.params if id(p) not in ours)
    if foreign:
        raise ValueError(
            f"fit: {foreign} of the optimizer's {len(optimizer.params)} parameters are not "
            f"this model's, so its steps would not train it; make the optimizer from this "
            f"model: {type(optimizer).__name__}(model.parameters(), ...)"
        )
    if not (is_integer(initial_epoch) and 0 <= initial_epoch <= epochs):
        raise ValueError(
            f"fit: initial_epoch must be an integer in [0, epochs={epochs}], "
            f"got {short(initial_epoch)}"
        )
    if seed is not None and not (is_integer(seed) and seed >= 0):
        raise ValueError(f"fit: seed must be None or an integer >= 0, got {short(seed)}")
    if validation_data is not None and not (
        isinstance(validation_data, (tuple, list)) and len(validation_data) == 2
    ):
        got = (
            f"a {type(validation_data).__name__} of {len(validation_data)}"
            if isinstance(validation_data, (tuple, list))
            else short(validation_data)
        )
        raise ValueError(f"fit: validation_data must be a pair (x_val, y_val), got {got}")


def training_weights(
    loss: Loss,
    y: Array,
    class_weight: ClassWeight | None,
    sample_weight: FloatArray | None,
    n: int,
) -> FloatArray | None:
    """The per-sample weights (N,) float64 of ``class_weight`` times ``sample_weight``
    (``None`` without either), for a loss that takes them."""
    weights = check_sample_weight("fit", sample_weight, n)
    if class_weight is not None:
        by_class = class_sample_weights(class_weight, y)
        weights = by_class if weights is None else by_class * weights
    if weights is not None:
        require_weighted_loss(loss)
    return weights


def require_weighted_loss(loss: Loss) -> None:
    """``TypeError`` unless ``loss.forward`` takes ``sample_weight``."""
    if "sample_weight" not in inspect.signature(loss.forward).parameters:
        raise TypeError(
            f"fit: {loss!r}.forward takes no sample_weight, so class_weight and "
            f"sample_weight cannot weight it; add the keyword (see tinynet.losses)"
        )


def split_off(
    x: FloatArray,
    y: Array,
    weights: FloatArray | None,
    fraction: float,
    mode: str,
    seed: int | None,
) -> tuple[FloatArray, Array, FloatArray | None, tuple[FloatArray, Array]]:
    """``x``, ``y`` and the weights of the training part, and the held-out ``(x, y)``
    (`tinynet.data.validation_split`)."""
    if weights is None:
        (x, y), held_out = validation_split(x, y, fraction, mode=mode, seed=seed)
        return x, y, None, held_out
    (train, _), (held, _) = validation_split(
        np.arange(x.shape[0]), y, fraction, mode=mode, seed=seed
    )
    return x[train], y[train], weights[train], (x[held], y[held])


def _check_loader(
    model: Layer, loader: object, x: object, y: object, validation_split: float
) -> None:
    """A ``loader`` replaces ``x`` and ``y``; it must be a DataLoader of the model's dtype
    (of integer token indices for a model that starts with an Embedding)."""
    if not isinstance(loader, DataLoader):
        raise TypeError(f"fit: expected loader to be a DataLoader, got {type(loader).__name__}")
    if x is not None or y is not None:
        raise ValueError("fit: give the data as x and y, or as a loader, not both")
    if validation_split:
        raise ValueError(
            "fit: validation_split cannot hold rows out of a loader's batches; split the "
            "data first (tinynet.data.validation_split) and pass validation_data"
        )
    as_model_input(model, loader.x, "loader.x", check_finite=False)
    if loader.x.dtype != model.dtype and not takes_tokens(model):
        raise TypeError(
            f"fit: expected loader.x of the model's dtype {model.dtype}, got {loader.x.dtype}"
        )


def epoch_logs(
    run: Run,
    lr: float,
    validation_data: tuple[FloatArray, Array] | None,
    metrics: Sequence[MetricSpec] | None = None,
) -> dict[str, float]:
    """The logs of the epoch just run, with the validation metrics if there is data."""
    seconds = time.perf_counter() - run.epoch_start
    logs = {"loss": run.loss_sum / max(run.samples, 1)}
    if run.scorer is not None:
        logs.update(run.scorer.results())
    if validation_data is not None:
        scores = evaluate(run.model, *validation_data, loss=run.loss, metrics=metrics)
        logs.update({f"val_{name}": value for name, value in scores.items()})
        run.model.train()
    logs.update({"lr": lr, "seconds": seconds, "samples_per_second": run.samples / seconds})
    return logs


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
