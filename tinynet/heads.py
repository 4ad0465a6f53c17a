"""Heads: what a model's outputs (N, C) mean, from its last layer and the loss that trained it.

This is the one rule tinynet uses, everywhere, to turn outputs into probabilities,
predictions and the labels metrics compare (`head_for`):

=====================================  =============  ===========================
last layer / loss                      task           probabilities
=====================================  =============  ===========================
``Softmax``                            multiclass     the outputs, as they are
``Sigmoid``, one column                binary         the outputs, as they are
``Sigmoid``, C columns, BCE loss       multilabel     the outputs, as they are
``Sigmoid``, C columns, other loss     multiclass     the outputs (Nielsen's net)
logits, ``CrossEntropyLoss``           multiclass     softmax of the logits
logits, ``BCEWithLogitsLoss``          binary (C=1)   sigmoid of the logits
                                       or multilabel
logits, ``MSELoss``                    regression     none: the outputs are values
logits, loss unknown, C >= 2           multiclass     softmax (a guess)
logits, loss unknown, C = 1            binary         sigmoid (a guess)
=====================================  =============  ===========================

Outputs that are already probabilities are never passed through another softmax.
Predictions are one value per sample, (N,), for the single-output tasks (the class
label for multiclass and binary, the value for one regression target) and (N, C) for
multilabel (0/1 per label) and multi-target regression; `predict_proba` keeps the
output columns, (N, C), so a binary head's probabilities are (N, 1), P(class 1).
A binary prediction is ``logit > 0`` on logits, ``p > 0.5`` on probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinynet.containers import last_layer
from tinynet.functional import sigmoid, softmax
from tinynet.layers.activations import Sigmoid, Softmax
from tinynet.layers.base import Layer
from tinynet.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from tinynet.typing import Array, DTypeLike, FloatArray

TASKS = ("multiclass", "binary", "multilabel", "regression")
LOSS_NAMES: dict[type[Loss], str] = {
    CrossEntropyLoss: "cross_entropy",
    BCEWithLogitsLoss: "bce_with_logits",
    MSELoss: "mse",
}
"""Each built-in loss class and its recipe name (`tinynet.recipe.LOSSES`)."""
ELEMENTWISE = ("bce_with_logits", "mse")
"""Losses whose target has the outputs' shape: a label vector (N,) meets (N, 1)."""


def loss_name(loss: Loss | str | None) -> str | None:
    """The recipe name of ``loss`` (a `Loss`, a recipe name or ``None``); ``None`` for a
    loss tinynet does not know (a user's own class)."""
    if loss is None or isinstance(loss, str):
        return loss
    return next((name for cls, name in LOSS_NAMES.items() if isinstance(loss, cls)), None)


@dataclass(frozen=True)
class Head:
    """The meaning of outputs with ``columns`` columns: ``task`` (one of `TASKS`) and
    ``link``, the function from outputs to probabilities (``"softmax"``, ``"sigmoid"``,
    or ``None`` when they already are probabilities, or are values). ``guessed`` says
    the loss was unknown, so the task was read from the shape alone."""

    task: str
    link: str | None
    columns: int
    guessed: bool = False

    @property
    def is_classifier(self) -> bool:
        """Whether predictions are class labels (every task but regression)."""
        return self.task != "regression"

    def _check(self, outputs: FloatArray) -> None:
        if not isinstance(outputs, np.ndarray) or outputs.ndim != 2:
            got = getattr(outputs, "shape", type(outputs).__name__)
            raise ValueError(f"expected model outputs of shape (N, C), got {got}")
        if outputs.shape[1] != self.columns:
            raise ValueError(
                f"expected outputs with {self.columns} columns ({self.task}), "
                f"got shape {outputs.shape}"
            )

    def probabilities(self, outputs: FloatArray) -> FloatArray | None:
        """Probabilities (N, C) of the outputs (N, C); ``None`` for a regression."""
        self._check(outputs)
        if self.link == "softmax":
            return softmax(outputs)
        if self.link == "sigmoid":
            return sigmoid(outputs)
        return None if self.task == "regression" else outputs

    def predict(self, outputs: FloatArray) -> Array:
        """Predictions from outputs (N, C): int64 labels (N,) (multiclass, binary), int64
        0/1 (N, C) (multilabel), or the values (N,) or (N, K) of a regression."""
        self._check(outputs)
        if self.task == "multiclass":
            labels: Array = outputs.argmax(axis=1)
            return labels
        threshold = 0.0 if self.link == "sigmoid" else 0.5  # logits or probabilities
        if self.task == "binary":
            return (outputs[:, 0] > threshold).astype(np.int64)
        if self.task == "multilabel":
            return (outputs > threshold).astype(np.int64)
        values: Array = outputs[:, 0] if self.columns == 1 else outputs
        return values

    def confidence(self, probabilities: FloatArray, labels: Array) -> FloatArray:
        """The probability (N,) of each predicted label (N,) of a multiclass or binary
        head: its column, or for a binary head P(1) or 1 - P(1)."""
        if self.task == "binary":
            p: FloatArray = probabilities[:, 0]
            return np.where(labels == 1, p, 1 - p)
        if self.task != "multiclass":
            raise ValueError(f"confidence: a {self.task} head has no single predicted label")
        chosen: FloatArray = probabilities[np.arange(labels.shape[0]), labels]
        return chosen

    def labels(self, targets: Array) -> Array:
        """The training targets in the form `predict` gives, for metrics: labels (N,)
        from labels or one-hot/probability rows; 0/1 from binary or multi-label targets;
        values (N,) or (N, K) of a regression."""
        if not isinstance(targets, np.ndarray) or targets.ndim not in (1, 2):
            got = getattr(targets, "shape", type(targets).__name__)
            raise ValueError(f"expected targets of shape (N,) or (N, C), got {got}")
        if self.task == "multiclass":
            if targets.ndim == 2:
                labels: Array = targets.argmax(axis=1)
                return labels
            return targets
        if self.task in ("binary", "multilabel"):
            rows = targets.reshape(targets.shape[0]) if self.task == "binary" else targets
            positive: Array = (rows >= 0.5).astype(np.int64)
            return positive
        values: Array = targets[:, 0] if targets.ndim == 2 and targets.shape[1] == 1 else targets
        return values

    def describe(self) -> str:
        """``"binary classification (one logit, sigmoid)"`` and the like, for messages."""
        link = {"softmax": "logits, softmax", "sigmoid": "logits, sigmoid"}.get(
            self.link or "", "values" if self.task == "regression" else "probabilities"
        )
        kind = "regression" if self.task == "regression" else f"{self.task} classification"
        return f"{kind} ({self.columns} output{'s' if self.columns != 1 else ''}, {link})"


def head_for(model: Layer, loss: Loss | str | None, columns: int) -> Head:
    """The `Head` of ``model``'s outputs with ``columns`` columns, trained with ``loss``
    (a `Loss`, a recipe loss name, or ``None`` if unknown); the table above."""
    if isinstance(columns, bool) or not isinstance(columns, int) or columns < 1:
        raise ValueError(f"expected a positive number of output columns, got {columns!r}")
    name = loss_name(loss)
    last = last_layer(model)
    if isinstance(last, Softmax):
        return Head("multiclass", None, columns)
    if isinstance(last, Sigmoid):
        if columns == 1:
            return Head("binary", None, columns)
        task = "multilabel" if name == "bce_with_logits" else "multiclass"
        return Head(task, None, columns, guessed=name is None)
    if name == "cross_entropy":
        return Head("multiclass", "softmax", columns)
    if name == "bce_with_logits":
        return Head("binary" if columns == 1 else "multilabel", "sigmoid", columns)
    if name == "mse":
        return Head("regression", None, columns)
    if columns == 1:
        return Head("binary", "sigmoid", columns, guessed=True)
    return Head("multiclass", "softmax", columns, guessed=True)


def loss_targets(loss: Loss | str | None, y: Array, dtype: DTypeLike = np.float32) -> Array:
    """``y`` as ``loss`` takes it: for an elementwise loss (`MSELoss`,
    `BCEWithLogitsLoss`) targets of ``dtype``, a vector (N,) as the column (N, 1) that
    one output unit gives (never broadcast against it); labels for the others, as they
    are."""
    if loss_name(loss) not in ELEMENTWISE or not isinstance(y, np.ndarray):
        return y
    column = y.reshape(-1, 1) if y.ndim == 1 else y
    return column.astype(dtype, copy=False)
