"""Inference loops: `forward_in_batches`, `evaluate`, `predict`, `predict_proba`.

What the outputs mean (probabilities, labels, values) is decided by `tinynet.heads`.

Each runs the model in inference mode, a batch at a time, and restores its modes after;
inputs are checked (float, finite, the model's dtype) once, here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinynet import validation
from tinynet.heads import LOSS_OF_TASK, head_for, loss_targets, require_head
from tinynet.layers.base import Layer
from tinynet.layers.embedding import takes_tokens
from tinynet.losses import Loss
from tinynet.metrics.streaming import MetricSpec
from tinynet.scoring import Scorer
from tinynet.summary import probing
from tinynet.typing import Array, FloatArray
from tinynet.validation import is_integer, short


def as_model_input(
    model: Layer, x: object, name: str = "x", *, check_finite: bool = True
) -> FloatArray:
    """``x`` as a finite float array of the model's dtype (converted once, if it is float);
    for a model whose first layer is an `Embedding`, ``x`` as it is: integer token
    indices (N, T) (int64 as PyTorch's; any integer dtype), float input refused.

    The float rule: `tinynet.train.fit`, `evaluate`, `predict`, `predict_proba` and
    `forward_in_batches` take a whole dataset and convert float input (float64, float16)
    to the model's dtype here, once, as Keras does; a layer called directly never casts
    (``model(x)`` with a float64 batch into a float32 model is a ``TypeError``, as in
    PyTorch), so no per-batch conversion hides in a training loop you write yourself.
    Integer arrays are refused rather than cast: raw uint8 pixels would train silently
    badly; scale them to [0, 1] first. NaN or infinite values are refused, naming the
    first sample that holds one (unless ``check_finite`` is false).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(x).__name__}")
    if takes_tokens(model):
        return _token_input(x, name)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(
            f"{name}: expected float inputs, got dtype {x.dtype}; scale them first, "
            f"e.g. images.astype(np.float32) / 255"
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a batch of shape (N, ...) with N > 0, got {x.shape}")
    if check_finite:
        require_finite(x, name)
    return x.astype(model.dtype, copy=False)


def _token_input(x: Array, name: str) -> Array:
    """``x`` if it is integer token indices (N, ...) with N > 0 (their range is the
    Embedding's to check, naming the index), else ``TypeError``/``ValueError``."""
    if x.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: expected integer token indices (N, T), int64, for a model that starts "
            f"with an Embedding; got dtype {x.dtype}"
        )
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a batch of shape (N, T) with N > 0, got {x.shape}")
    return x


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


def require_batch_size(batch_size: object) -> None:
    """``ValueError`` unless ``batch_size`` is a positive int (not a bool, not a float)."""
    if not (is_integer(batch_size) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {short(batch_size)}")


def require_targets(where: str, x: object, y: object) -> None:
    """``y`` must be a numpy array with one row per sample of ``x`` (N, ...)."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{where}: expected y to be a numpy array, got {type(y).__name__}")
    n = x.shape[0] if isinstance(x, np.ndarray) and x.ndim else None
    if y.ndim == 0 or (n is not None and y.shape[0] != n):
        raise ValueError(
            f"{where}: expected one target per sample, {n} of them; got y of shape {y.shape}"
        )


def require_class_targets(where: str, outputs: FloatArray, y: Array) -> None:
    """For a classifier's ``outputs`` (N, C >= 2): ``y`` integer labels (N,) in [0, C)
    or one-hot/probability rows (N, C); any other outputs are not checked here."""
    if outputs.ndim != 2 or outputs.shape[1] < 2 or y.shape == outputs.shape:
        return
    if y.ndim != 1:
        raise ValueError(
            f"{where}: for outputs of shape {outputs.shape}, expected y as integer labels "
            f"({outputs.shape[0]},) or rows {outputs.shape}, got shape {y.shape}"
        )
    validation.class_labels(where, y, outputs.shape[0], outputs.shape[1])


def probe(model: Layer, x: FloatArray) -> FloatArray:
    """``model``'s outputs for a small batch ``x``, in inference mode, leaving every layer
    as it was (its caches and its train/eval mode): a look at the output shape before
    training, as `Sequential.summary` takes one."""
    with probing(model):
        return model(x)


def forward_in_batches(model: Layer, x: FloatArray, batch_size: int = 1024) -> FloatArray:
    """The model's outputs for ``x`` (N, ...), in inference mode, ``batch_size`` rows at a time.

    The model's training/inference mode is restored afterwards. Non-finite input is
    refused, found from the outputs (a NaN or inf propagates to its row's outputs), so
    the common case costs no pass over the input.
    """
    require_batch_size(batch_size)
    x = as_model_input(model, x, check_finite=False)
    copy = model.inplace  # a bare in-place layer; a container protects x itself
    modes = [(layer, layer.training) for layer in model.modules()]
    model.eval()
    try:
        parts = [
            model.forward(x[i : i + batch_size].copy() if copy else x[i : i + batch_size])
            for i in range(0, x.shape[0], batch_size)
        ]
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
    model: Layer,
    x: FloatArray,
    y: Array,
    *,
    loss: Loss | None = None,
    batch_size: int = 1024,
    metrics: Sequence[MetricSpec] | None = None,
) -> dict[str, float]:
    """``{"loss": mean loss (if ``loss`` given), metric: value, ...}`` on (x, y).

    Runs in inference mode and in batches. ``metrics`` as in `tinynet.train.fit` (names,
    callables or `tinynet.metrics.Metric` objects); by default those of the model's head
    (`tinynet.heads`): ``accuracy`` for a classifier, ``mae``, ``rmse`` and ``r2`` for a
    regression (``model.head``, recorded by ``fit``, unless ``loss`` is given; no
    metrics when no head is known). Each is computed on all of ``x`` at
    once, so it equals scikit-learn's function on the same predictions. Targets ``y``
    (N,) meet a one-column output as (N, 1) for an elementwise loss (never broadcast).
    ``y`` must hold one target per sample; without a ``loss`` (which checks its own
    targets), a classifier's (outputs (N, C), C >= 2) must be integer labels in [0, C)
    or rows (N, C): a ``TypeError``/``ValueError`` naming ``y`` otherwise.
    """
    require_targets("evaluate", x, y)
    outputs = forward_in_batches(model, x, batch_size)
    head = head_for(model, loss, int(outputs.shape[1])) if outputs.ndim == 2 else None
    if loss is None and (head is None or head.task == "multiclass"):
        require_class_targets("evaluate", outputs, y)
    shaped_for = loss if loss is not None or head is None else LOSS_OF_TASK[head.task]
    y = loss_targets(shaped_for, y, outputs.dtype)
    scores: dict[str, float] = {}
    if loss is not None:
        total = 0.0
        for i in range(0, outputs.shape[0], batch_size):
            part = outputs[i : i + batch_size]
            total += loss.forward(part, y[i : i + batch_size]) * part.shape[0]
        scores["loss"] = total / outputs.shape[0]
    scorer = Scorer(model, loss, metrics)
    scorer.update(outputs, y)
    scores.update(scorer.results())
    return scores


def probabilities(
    model: Layer, outputs: FloatArray, loss: Loss | str | None = None
) -> FloatArray | None:
    """What ``model``'s ``outputs`` (N, C) say as probabilities (N, C), by its head
    (`tinynet.heads`: ``model.head``, or ``loss``, a `Loss` or recipe loss name, if
    given): a model ending in `Softmax` or `Sigmoid` gives its outputs as they are (never
    passed through another softmax); logits become the softmax (cross-entropy) or the
    sigmoid (binary cross-entropy); a regression gives ``None``: its outputs are values.
    ``ValueError`` when no head is known (no guess).
    """
    return require_head(model, loss, outputs, "probabilities").probabilities(outputs)


def predict_proba(
    model: Layer, x: FloatArray, batch_size: int = 1024, *, loss: Loss | str | None = None
) -> FloatArray:
    """Probabilities (N, C) for ``x`` (N, ...), by the rule of `probabilities`: the model's
    own when it ends in a Softmax or Sigmoid, else the softmax of its logits (the
    sigmoid for binary cross-entropy): a binary model gives (N, 1), P(class 1).
    ``ValueError`` for a regression, whose outputs are values, or a model with no head."""
    result = probabilities(model, forward_in_batches(model, x, batch_size), loss)
    if result is None:
        raise ValueError(
            "predict_proba: the model is a regression (trained with MSELoss): its outputs "
            "are values, not probabilities; use predict"
        )
    return result


def predict(
    model: Layer, x: FloatArray, batch_size: int = 1024, *, loss: Loss | str | None = None
) -> Array:
    """Predictions for ``x`` (N, ...) by the model's head (`tinynet.heads`): int64 class
    labels (N,) (the argmax; for one output, ``logit > 0`` or ``p > 0.5``), 0/1 (N, C)
    for a multi-label head, the values (N,) or (N, K) for a regression. The head is
    ``model.head`` (recorded by ``fit``) unless ``loss`` is given; ``ValueError`` when no
    head is known (no guess)."""
    outputs = forward_in_batches(model, x, batch_size)
    return require_head(model, loss, outputs, "predict").predict(outputs)
