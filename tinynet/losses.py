"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dLoss/dpred``.

Every loss is the mean over the batch (and, for the elementwise losses, over every
element, as PyTorch's ``reduction="mean"``). The mean is taken here and only here:
layers sum over the batch in their parameter gradients.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from tinynet import validation
from tinynet.functional import sigmoid
from tinynet.typing import FloatArray

REDUCTIONS = ("mean", "sum")


class Loss(ABC):
    """A scalar function of predictions and targets, with its gradient."""

    @abstractmethod
    def forward(self, pred: FloatArray, target: Any) -> float:
        """The loss of ``pred`` against ``target``, as a Python float."""

    @abstractmethod
    def backward(self) -> FloatArray:
        """dLoss/dpred for the last ``forward``: ``pred``'s shape and dtype.

        The cache of the last forward is consumed: call ``forward`` again before the
        next ``backward`` (PyTorch frees its graph the same way).
        """

    def __call__(self, pred: FloatArray, target: Any) -> float:
        """Same as ``forward(pred, target)``."""
        return self.forward(pred, target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def missing_forward(self) -> RuntimeError:
        """The error ``backward`` raises when no forward preceded it."""
        return RuntimeError(f"{self!r}: backward() needs a forward() first")


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy of logits against integer class labels (PyTorch's).

    pred: logits (N, C), float. target: labels (N,), integers in [0, C).
    The log-softmax is fused (log-sum-exp with the row maximum subtracted), so logits
    of any finite size give a finite loss and gradient. The gradient is
    ``(softmax(pred) - onehot(target)) / N``: the softmax's Jacobian and the log's
    derivative cancel, which holds only because the two are fused here.

    ``label_smoothing`` = e mixes the one-hot target with the uniform distribution:
    the target becomes ``(1 - e) * onehot + e / C``, as in PyTorch.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = validation.number(
            "CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0
        )
        self._probs: FloatArray | None = None
        self._target: Any = None

    def forward(self, pred: FloatArray, target: Any) -> float:
        """Mean cross-entropy of logits (N, C) against labels (N,)."""
        validation.float_array(self, pred, ndim=2, name="logits")
        n, classes = pred.shape
        if n == 0:
            raise ValueError(f"{self!r}: expected at least one sample, got logits of shape (0, C)")
        labels = validation.class_labels(self, target, n, classes)
        # Work on the (C, N) transpose: NumPy reduces a short last axis (10 classes) row
        # by row, ~5x slower than along the first axis, where a reduction is vectorized.
        shifted = pred.T.copy()  # a C-order copy: pred itself is never changed
        shifted -= shifted.max(axis=0)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=0)
        log_sum_exp = np.log(sum_exp)
        nll = log_sum_exp - shifted[labels, np.arange(n)]
        e = self.label_smoothing
        if e:
            nll = (1 - e) * nll + e * (log_sum_exp - shifted.sum(axis=0) / classes)
        exp /= sum_exp
        self._probs, self._target = exp, labels
        total = float(nll.sum())
        return total / int(n)

    def backward(self) -> FloatArray:
        """(softmax(logits) - smoothed onehot(labels)) / N, shape (N, C).

        The array is the transpose of a (C, N) buffer (Fortran order); matrix products
        take it as it is.
        """
        if self._probs is None:
            raise self.missing_forward()
        grad, labels = self._probs, self._target
        self._probs = self._target = None
        classes, n = grad.shape
        e = self.label_smoothing
        grad[labels, np.arange(n)] -= 1 - e
        if e:
            grad -= e / classes
        grad /= n
        transposed: FloatArray = grad.T
        return transposed

    def __repr__(self) -> str:
        e = self.label_smoothing
        return f"CrossEntropyLoss({f'label_smoothing={e}' if e else ''})"


class _ElementwiseLoss(Loss):
    """A loss averaged (or summed) over every element of pred; target has pred's shape."""

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {REDUCTIONS}")
        self.reduction = reduction
        self._cache: tuple[FloatArray, FloatArray] | None = None

    def _inputs(self, pred: FloatArray, target: Any) -> tuple[FloatArray, FloatArray]:
        """Validate; return pred and target (cast to pred's dtype, so nothing upcasts)."""
        validation.float_array(self, pred, name="pred")
        if not isinstance(target, np.ndarray) or target.shape != pred.shape:
            raise ValueError(
                f"{self!r}: expected target of pred's shape {pred.shape}, "
                f"got {validation.describe(target)}"
            )
        if not np.issubdtype(target.dtype, np.number):
            raise TypeError(f"{self!r}: expected a numeric target, got dtype {target.dtype}")
        return pred, target.astype(pred.dtype, copy=False)

    def _reduce(self, values: FloatArray) -> float:
        total = float(values.sum())
        return total / max(values.size, 1) if self.reduction == "mean" else total

    def _scale(self, grad: FloatArray) -> FloatArray:
        if self.reduction == "mean":
            grad /= max(grad.size, 1)
        return grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'' if self.reduction == 'mean' else 'reduction=sum'})"


class MSELoss(_ElementwiseLoss):
    """Mean squared error, ``mean((pred - target) ** 2)`` over every element (PyTorch's).

    pred and target: the same shape, any; target is cast to pred's dtype.
    ``reduction="sum"`` sums instead. Nielsen's quadratic cost ``sum / (2 N)`` is
    ``reduction="sum"`` scaled by 1/(2N), that is this loss times C/2.
    """

    def forward(self, pred: FloatArray, target: Any) -> float:
        """Mean (or sum) of the squared differences."""
        pred, target = self._inputs(pred, target)
        diff = pred - target
        self._cache = (pred, target)
        return self._reduce(diff * diff)

    def backward(self) -> FloatArray:
        """2 (pred - target) / numel (or without the division for ``reduction="sum"``)."""
        if self._cache is None:
            raise self.missing_forward()
        pred, target = self._cache
        self._cache = None
        grad = pred - target
        grad *= 2
        return self._scale(grad)


class BCEWithLogitsLoss(_ElementwiseLoss):
    """Binary cross-entropy of logits against targets in [0, 1] (PyTorch's).

    pred: logits of any shape; target: probabilities of the same shape. Computed as
    ``max(x, 0) - x * t + log(1 + exp(-|x|))``, finite for any finite logit; the
    gradient is ``(sigmoid(x) - t) / numel``.
    """

    def forward(self, pred: FloatArray, target: Any) -> float:
        """Mean (or sum) binary cross-entropy."""
        pred, target = self._inputs(pred, target)
        values = np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))
        self._cache = (pred, target)
        return self._reduce(values)

    def backward(self) -> FloatArray:
        """(sigmoid(pred) - target) / numel."""
        if self._cache is None:
            raise self.missing_forward()
        pred, target = self._cache
        self._cache = None
        grad = sigmoid(pred)
        grad -= target
        return self._scale(grad)
