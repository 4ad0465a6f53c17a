"""Training and inference loops: `fit`, `evaluate`, `predict`, `predict_proba`.

``fit`` is Keras's ``model.fit`` as a function of the model, loss and optimizer; the
explicit loop it runs is ``train_epoch``, short enough to copy and change.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from tinynet.callbacks import Callback, History, ProgressBar, Run
from tinynet.checkpoint import restore_checkpoint
from tinynet.data import DataLoader
from tinynet.data import validation_split as split_last
from tinynet.layers.activations import softmax
from tinynet.layers.base import Layer
from tinynet.losses import Loss
from tinynet.optim.optimizer import Optimizer
from tinynet.typing import Array, FloatArray, IntArray


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch and batch."""


def model_dtype(model: Layer) -> np.dtype[Any]:
    """The dtype of the model's first parameter (float32 for a model without any)."""
    params = model.parameters()
    return params[0].dtype if params else np.dtype(np.float32)


def as_model_input(
    model: Layer, x: object, name: str = "x", *, check_finite: bool = True
) -> FloatArray:
    """``x`` as a finite float array of the model's dtype (converted once, if it is float).

    Integer arrays are refused rather than cast: raw uint8 pixels would train silently
    badly; scale them to [0, 1] first. NaN or infinite values are refused, naming the
    first sample that holds one (unless ``check_finite`` is false).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name}: expected float inputs, got dtype {x.dtype}; scale them first, "
            f"e.g. images.astype(np.float32) / 255"
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a batch of shape (N, ...) with N > 0, got {x.shape}")
    if check_finite:
        require_finite(x, name)
    return x.astype(model_dtype(model), copy=False)


def require_finite(x: FloatArray, name: str) -> None:
    """Raise ``ValueError`` naming the first sample of ``x`` (N, ...) with a NaN or inf."""
    if np.isfinite(x.sum()):  # NaN and inf reach the sum: one pass, no (N, ...) temporary
        return
    finite = np.isfinite(x).reshape(x.shape[0], -1).all(axis=1)  # find them (or an overflow)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(
            f"{name}: expected finite values, got NaN or infinity in {bad.size} samples "
            f"(first: sample {int(bad[0])})"
        )


def count_correct(outputs: FloatArray, targets: Array) -> int | None:
    """How many rows of ``outputs`` (N, C) have their argmax at the target class.

    ``targets`` are labels (N,) or one-hot/probability rows (N, C). ``None`` when the
    shapes are not those of a classification (accuracy is then not logged).
    """
    if outputs.ndim != 2 or outputs.shape[1] < 2:
        return None
    if targets.ndim == 2 and targets.shape == outputs.shape:
        targets = targets.argmax(axis=1)
    elif targets.ndim != 1 or targets.dtype.kind not in "iu":
        return None
    return int(np.count_nonzero(outputs.argmax(axis=1) == targets))


def train_epoch(run: Run, callbacks: Sequence[Callback]) -> None:
    """One pass over ``run.loader``: forward, loss, backward, step, for every batch.

    Raises `NonFiniteLossError` the moment the loss is NaN or infinite.
    """
    model, loss, optimizer = run.model, run.loss, run.optimizer
    for batch, (x_batch, y_batch) in enumerate(run.loader):
        run.batch = batch
        outputs = model.forward(x_batch)
        value = loss.forward(outputs, y_batch)
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"fit: the loss became {value} at epoch {run.epoch + 1}, batch {run.batch + 1} "
                f"(lr {optimizer.lr:g}); lower the learning rate or check the data"
            )
        optimizer.zero_grad()
        model.backward_params(loss.backward())
        optimizer.step()
        n = x_batch.shape[0]
        run.loss_sum += value * n
        run.samples += n
        correct = count_correct(outputs, y_batch)
        if correct is not None:
            run.correct += correct
            run.counts_accuracy = True
        for callback in callbacks:
            callback.on_batch_end(run)


def fit(
    model: Layer,
    x: FloatArray,
    y: Array,
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
    resume_from: str | os.PathLike[str] | None = None,
    loader: DataLoader[Array] | None = None,
) -> History:
    """Train ``model`` on ``x`` (N, ...) and ``y`` (labels (N,) or targets (N, ...)).

    Each epoch draws shuffled mini-batches of ``batch_size`` (seeded by ``seed``: the
    same seed, model and data give the same run, bit for bit), optionally passing
    each x batch through ``transform`` (augmentation), and takes one optimizer step per
    batch. The first layer skips its input gradient. ``x`` is converted once to the
    model's dtype. After each epoch the model is evaluated on ``validation_data`` or on
    the last ``validation_split`` of the data (Keras's semantics: taken before
    shuffling). Returns a `History` with ``loss`` and, for classification,
    ``accuracy`` (over the epoch, in training mode), ``val_loss``, ``val_accuracy``,
    ``lr``, ``seconds`` and ``samples_per_second`` per epoch.

    ``callbacks`` see every epoch and batch (`EarlyStopping`, `LearningRateScheduler`,
    `ModelCheckpoint`...). ``verbose``: 0 silent, 1 progress bar on a terminal (epoch
    lines otherwise), 2 epoch lines. As in Keras, ``epochs`` is the index of the final
    epoch: training runs epochs ``initial_epoch`` to ``epochs - 1``. ``resume_from``
    names a checkpoint (`tinynet.checkpoint`) to continue from: its weights, optimizer,
    callbacks, random generators, history and epoch replace the current ones, and the
    run ends as if it had never stopped. ``loader`` replaces the batching.
    Raises `NonFiniteLossError` when the loss becomes NaN or infinite.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    x = as_model_input(model, x)
    if validation_split:
        if validation_data is not None:
            raise ValueError("fit: give validation_data or validation_split, not both")
        (x, y), validation_data = split_last(x, y, validation_split)
    if validation_data is not None:
        x_val, y_val = validation_data
        validation_data = (as_model_input(model, x_val, "validation x"), y_val)
    if loader is None:
        loader = DataLoader(
            x,
            y,
            batch_size=batch_size,
            shuffle=shuffle,
            seed=seed,
            reuse_buffers=True,
            transform=transform,
        )
    all_callbacks: list[Callback] = [*callbacks, ProgressBar(verbose)]
    run = Run(model, loss, optimizer, loader, epochs, History(), callbacks=all_callbacks)
    if resume_from is not None:
        initial_epoch = restore_checkpoint(resume_from, run)
    run.epoch = initial_epoch
    model.train()
    for callback in all_callbacks:
        callback.on_train_begin(run)
    for epoch in range(initial_epoch, epochs):
        run.epoch, run.loss_sum, run.correct, run.samples = epoch, 0.0, 0, 0
        run.epoch_start = time.perf_counter()
        lr = optimizer.lr
        for callback in all_callbacks:
            callback.on_epoch_begin(run)
        train_epoch(run, all_callbacks)
        logs = epoch_logs(run, lr, validation_data)
        run.history.record(epoch, logs)
        for callback in all_callbacks:
            callback.on_epoch_end(run, logs)
        if run.stop_training:
            break
    for callback in all_callbacks:
        callback.on_train_end(run)
    return run.history


def epoch_logs(
    run: Run, lr: float, validation_data: tuple[FloatArray, Array] | None
) -> dict[str, float]:
    """The logs of the epoch just run, with the validation metrics if there is data."""
    seconds = time.perf_counter() - run.epoch_start
    running = run.running_logs()
    logs = {"loss": running["loss"]}
    if run.counts_accuracy:
        logs["accuracy"] = running["accuracy"]
    if validation_data is not None:
        scores = evaluate(run.model, *validation_data, loss=run.loss)
        logs.update({f"val_{name}": value for name, value in scores.items()})
        run.model.train()
    logs.update({"lr": lr, "seconds": seconds, "samples_per_second": run.samples / seconds})
    return logs


def forward_in_batches(model: Layer, x: FloatArray, batch_size: int = 1024) -> FloatArray:
    """The model's outputs for ``x`` (N, ...), in inference mode, ``batch_size`` rows at a time.

    The model's training/inference mode is restored afterwards. Non-finite input is
    refused, found from the outputs (a NaN or inf propagates to its row's outputs), so
    the common case costs no pass over the input.
    """
    x = as_model_input(model, x, check_finite=False)
    modes = [(layer, layer.training) for layer in model.modules()]
    model.eval()
    try:
        parts = [model.forward(x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)]
    finally:
        for layer, mode in modes:  # as they were, layer by layer
            layer.training = mode
    outputs = np.concatenate(parts)
    if not np.isfinite(outputs).all():
        require_finite(x, "x")
        row = int(np.flatnonzero(~np.isfinite(outputs).reshape(len(outputs), -1).all(axis=1))[0])
        raise FloatingPointError(
            f"the model's outputs are NaN or infinite for finite input (first: sample {row}); "
            f"its weights may have diverged"
        )
    return outputs


def evaluate(
    model: Layer, x: FloatArray, y: Array, *, loss: Loss | None = None, batch_size: int = 1024
) -> dict[str, float]:
    """``{"loss": mean loss (if ``loss`` given), "accuracy": fraction correct}`` on (x, y).

    Runs in inference mode and in batches; for classification outputs only, accuracy.
    """
    outputs = forward_in_batches(model, x, batch_size)
    scores: dict[str, float] = {}
    if loss is not None:
        total = 0.0
        for i in range(0, outputs.shape[0], batch_size):
            part = outputs[i : i + batch_size]
            total += loss.forward(part, y[i : i + batch_size]) * part.shape[0]
        scores["loss"] = total / outputs.shape[0]
    correct = count_correct(outputs, y)
    if correct is not None:
        scores["accuracy"] = correct / outputs.shape[0]
    return scores


def predict_proba(
    model: Layer, x: FloatArray, batch_size: int = 1024, *, from_logits: bool = True
) -> FloatArray:
    """Class probabilities (N, C): the softmax of the outputs, which are logits by default
    (tinynet's classifiers end without a softmax: `CrossEntropyLoss` takes logits). For a
    model whose outputs are already probabilities, pass ``from_logits=False``."""
    outputs = forward_in_batches(model, x, batch_size)
    if outputs.ndim != 2:
        raise ValueError(f"predict_proba: expected outputs (N, classes), got {outputs.shape}")
    return softmax(outputs) if from_logits else outputs


def predict(model: Layer, x: FloatArray, batch_size: int = 1024) -> IntArray:
    """Predicted class labels (N,), int64: the argmax of the outputs."""
    labels: IntArray = forward_in_batches(model, x, batch_size).argmax(axis=1)
    return labels
