"""Heads: what a model's outputs (N, C) mean, from its last layer and the loss that trained it.

A model carries its head: `tinynet.train.fit` records it as ``model.head``,
`tinynet.save` stores it and `tinynet.load` restores it, and
`tinynet.inference.predict`, `tinynet.inference.evaluate`,
`tinynet.inference.predict_proba` and ``tinynet predict`` read it there (a ``loss=`` given to them
overrides it). This is the one rule that finds a head, everywhere (`head_for`):

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
no loss given: ``model.head``          as recorded    as recorded
logits or C sigmoids, no loss, no head none: no guess ``ValueError`` (`require_head`)
=====================================  =============  ===========================

Outputs that are already probabilities are never passed through another softmax.
Predictions are one value per sample, (N,), for the single-output tasks (the class
label for multiclass and binary, the value for one regression target) and (N, C) for
multilabel (0/1 per label) and multi-target regression; `predict_proba` keeps the
output columns, (N, C), so a binary head's probabilities are (N, 1), P(class 1).
A binary prediction is ``logit > 0`` on logits, ``p > 0.5`` on probabilities.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from tinynet.functional import sigmoid, softmax
from tinynet.losses import Loss
from tinynet.typing import Array, DTypeLike, FloatArray
from tinynet.validation import positive_int

TASKS = ("multiclass", "binary", "multilabel", "regression")
LOSS_OF_TASK = {
    "multiclass": "cross_entropy",
    "binary": "bce_with_logits",
    "multilabel": "bce_with_logits",
    "regression": "mse",
}
"""The loss whose targets a head's task takes (what `loss_targets` shapes them for)."""
ELEMENTWISE = ("bce_with_logits", "mse")
"""Losses whose target has the outputs' shape: a label vector (N,) meets (N, 1)."""


def loss_name(loss: Loss | str | None) -> str | None:
    """The recipe name of ``loss`` (a `Loss`, a recipe name or ``None``); ``None`` for a
    loss tinynet does not know (a user's own class)."""
    if loss is None or isinstance(loss, str):
        return loss
    return loss.name


class Model(Protocol):
    """What a head is found from: a `tinynet.Layer`'s recorded head and output layer."""

    head: Head | None

    def output_activation(self) -> str | None: ...


@dataclass(frozen=True)
class Head:
    """The meaning of outputs with ``columns`` columns: ``task`` (one of `TASKS`) and
    ``link``, the function from outputs to probabilities (``"softmax"``, ``"sigmoid"``,
    or ``None`` when they already are probabilities, or are values)."""

    task: str
    link: str | None
    columns: int

    def to_dict(self) -> dict[str, Any]:
        """The head as JSON values, for a saved file."""
        return asdict(self)

    @classmethod
    def from_dict(cls, value: object) -> Head:
        """The head a saved file records; ``ValueError`` says what is wrong with it."""
        fields = {"task", "link", "columns"}
        if not isinstance(value, dict) or set(value) != fields:
            raise ValueError(f"head: expected an object with {sorted(fields)}, got {value!r}")
        task, link, columns = value["task"], value["link"], value["columns"]
        if task not in TASKS or link not in (None, "softmax", "sigmoid"):
            raise ValueError(f"head: unknown task or link in {value!r}")
        positive_int("head", "columns", columns)
        return cls(task, link, columns)

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


def head_for(model: Model, loss: Loss | str | None, columns: int) -> Head | None:
    """The `Head` of ``model``'s outputs with ``columns`` columns, by the table above:
    from ``loss`` (a `Loss` or recipe loss name) if given, else ``model.head``, else
    what the last layer says (`Softmax`, one `Sigmoid`); ``None`` when nothing tells."""
    positive_int("head_for", "columns", columns)
    name = loss_name(loss)
    if name is None and model.head is not None and model.head.columns == columns:
        return model.head
    squashed = model.output_activation()
    if squashed == "softmax":
        return Head("multiclass", None, columns)
    if squashed == "sigmoid":
        if columns == 1:
            return Head("binary", None, columns)
        if name is None:
            return None  # multi-label, or one-hot classes as in Nielsen's net?
        return Head("multilabel" if name == "bce_with_logits" else "multiclass", None, columns)
    if name == "cross_entropy":
        return Head("multiclass", "softmax", columns)
    if name == "bce_with_logits":
        return Head("binary" if columns == 1 else "multilabel", "sigmoid", columns)
    if name == "mse":
        return Head("regression", None, columns)
    return None


def require_head(model: Model, loss: Loss | str | None, outputs: FloatArray, where: str) -> Head:
    """The head of ``model``'s ``outputs`` (N, C) (`head_for`); ``ValueError`` naming
    ``where`` for outputs that are not (N, C) or whose meaning nothing tells."""
    if not isinstance(outputs, np.ndarray) or outputs.ndim != 2:
        got = getattr(outputs, "shape", type(outputs).__name__)
        raise ValueError(f"{where}: expected model outputs of shape (N, C), got shape {got}")
    head = head_for(model, loss, int(outputs.shape[1]))
    if head is None:
        raise ValueError(
            f"{where}: the model has no head, so its {outputs.shape[1]} output column(s) "
            f"could be logits, probabilities or values; train it with tinynet.train.fit "
            f"(which records model.head; save and load keep it), or pass loss="
        )
    return head


def loss_targets(loss: Loss | str | None, y: Array, dtype: DTypeLike = np.float32) -> Array:
    """``y`` as ``loss`` takes it: for an elementwise loss (`MSELoss`,
    `BCEWithLogitsLoss`) targets of ``dtype``, a vector (N,) as the column (N, 1) that
    one output unit gives (never broadcast against it); labels for the others, as they
    are."""
    if loss_name(loss) not in ELEMENTWISE or not isinstance(y, np.ndarray):
        return y
    column = y.reshape(-1, 1) if y.ndim == 1 else y
    return column.astype(dtype, copy=False)
