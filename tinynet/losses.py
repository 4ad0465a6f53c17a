"""Loss functions: ``forward(pred, target) -> float`` and ``backward() -> dLoss/dpred``.

Every loss is the mean over the batch (elementwise losses: over every element, as
PyTorch's ``reduction="mean"``), taken here only: layers sum over the batch.
``sample_weight=w`` weights sample ``i``'s loss, as Keras and scikit-learn do:
``sum_i w_i * loss_i / N``, divided by N, not by the sum of the weights.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from tinynet import validation
from tinynet.functional import sigmoid
from tinynet.registry import Registry
from tinynet.typing import FloatArray

REDUCTIONS = ("mean", "sum")


LOSSES: Registry[Loss] = Registry("loss")
"""Every `Loss` subclass by name: ``"cross_entropy"``, ``"mse"``, ``"bce_with_logits"``."""


class Loss(ABC):
    """A scalar function of predictions and targets, with its gradient."""

    name: ClassVar[str | None] = None
    """The name recipes and saved heads use (``"cross_entropy"``); ``None`` for a loss
    tinynet does not know the targets of."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register every subclass in `LOSSES`: under its own ``name`` if it sets one,
        else ``module.QualifiedName``; names starting with ``_`` are private."""
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            LOSSES.add(cls, cls.__dict__.get("name"), primary=True)

    @abstractmethod
    def forward(
        self, pred: FloatArray, target: Any, *, sample_weight: FloatArray | None = None
    ) -> float:
        """The loss of ``pred`` against ``target``, as a Python float; ``sample_weight``
        (N,), if given, weights each sample (see the module docstring). A loss of your
        own that takes no weights may leave the argument out: ``fit`` then refuses
        ``class_weight`` and ``sample_weight`` for it."""

    @abstractmethod
    def backward(self) -> FloatArray:
        """dLoss/dpred for the last ``forward`` (``pred``'s shape and dtype), consuming
        its cache: the next ``backward`` needs a new ``forward``."""

    def __call__(self, pred: FloatArray, target: Any) -> float:
        """Same as ``forward(pred, target)``."""
        return self.forward(pred, target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def checked_weights(self, sample_weight: object, n: int, dtype: Any) -> FloatArray | None:
        """``sample_weight`` as a (n,) array of ``dtype`` (``None`` stays ``None``);
        ``ValueError`` for another shape."""
        if sample_weight is None:
            return None
        if not isinstance(sample_weight, np.ndarray) or sample_weight.shape != (n,):
            raise ValueError(
                f"{self!r}: expected sample_weight of shape ({n},), "
                f"got {validation.describe(sample_weight)}"
            )
        return sample_weight.astype(dtype, copy=False)

    def missing_forward(self) -> RuntimeError:
        """The error ``backward`` raises when no forward preceded it."""
        return RuntimeError(f"{self!r}: backward() needs a forward() first")


class CrossEntropyLoss(Loss):
    """Softmax cross-entropy of float logits (N, C) against integer labels (N,) in
    [0, C), as PyTorch's; or logits (N, T, C) and labels (N, T), the N*T positions as
    rows (a ``sample_weight`` (N,) weights all of sequence i's). The log-softmax is fused
    (the row maximum subtracted), so any finite logits give a finite loss, and the
    gradient is ``(softmax(pred) - onehot(target)) / N``. ``label_smoothing`` e: the
    target is ``(1 - e) * onehot + e / C``, as in PyTorch.
    """

    name = "cross_entropy"

    def __init__(self, label_smoothing: float = 0.0) -> None:
        self.label_smoothing = validation.number(
            "CrossEntropyLoss", "label_smoothing", label_smoothing, 0.0, 1.0
        )
        self._probs: FloatArray | None = None
        self._target: Any = None
        self._weights: FloatArray | None = None
        self._sequence: tuple[int, int] | None = None

    def forward(
        self, pred: FloatArray, target: Any, *, sample_weight: FloatArray | None = None
    ) -> float:
        """Mean cross-entropy of logits (N, C) against labels (N,), each weighted by
        ``sample_weight`` (N,) if given; or logits (N, T, C) against labels (N, T)."""
        self._sequence = None
        if isinstance(pred, np.ndarray) and pred.ndim == 3:
            return self._forward_sequence(pred, target, sample_weight)
        validation.float_array(self, pred, ndim=2, name="logits")
        n, classes = pred.shape
        if n == 0:
            raise ValueError(f"{self!r}: expected at least one sample, got logits of shape (0, C)")
        labels = validation.class_labels(self, target, n, classes)
        weights = self.checked_weights(sample_weight, n, pred.dtype)
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
        self._probs, self._target, self._weights = exp, labels, weights
        total = float(nll.sum() if weights is None else nll @ weights)
        return total / int(n)

    def _forward_sequence(
        self, pred: FloatArray, target: Any, sample_weight: FloatArray | None
    ) -> float:
        """Logits (N, T, C) and labels (N, T) as N*T rows of the (N, C) case."""
        validation.float_array(self, pred, name="logits")
        n, steps, classes = pred.shape
        if not isinstance(target, np.ndarray) or target.shape != (n, steps):
            raise ValueError(
                f"{self!r}: expected labels of shape ({n}, {steps}) for logits of shape "
                f"{pred.shape}, got {validation.describe(target)}"
            )
        weights = self.checked_weights(sample_weight, n, pred.dtype)
        rows = None if weights is None else np.repeat(weights, steps)
        value = self.forward(
            pred.reshape(n * steps, classes), target.reshape(n * steps), sample_weight=rows
        )
        self._sequence = (n, steps)
        return value

    def backward(self) -> FloatArray:
        """(softmax(logits) - smoothed onehot(labels)) / N, shape (N, C) (the transpose
        of a (C, N) buffer), or (N, T, C) for sequence logits, divided by N*T."""
        if self._probs is None:
            raise self.missing_forward()
        grad, labels, weights = self._probs, self._target, self._weights
        sequence, self._sequence = self._sequence, None
        self._probs = self._target = self._weights = None
        classes, n = grad.shape
        e = self.label_smoothing
        grad[labels, np.arange(n)] -= 1 - e
        if e:
            grad -= e / classes
        grad /= n
        if weights is not None:
            grad *= weights  # (C, N) * (N,): sample i's column scaled by w_i
        if sequence is not None:  # (C, N*T) -> an (N, T, C) view
            positions: FloatArray = grad.reshape(classes, *sequence).transpose(1, 2, 0)
            return positions
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
        self._weights: FloatArray | None = None

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

    def _reduce(self, values: FloatArray, sample_weight: FloatArray | None) -> float:
        """Sum or mean of ``values``, each sample's weighted by ``sample_weight`` (kept
        for the backward)."""
        n = values.shape[0] if values.ndim else 0
        weights = self._weights = self.checked_weights(sample_weight, n, values.dtype)
        if weights is None:
            total = float(values.sum())
        else:
            total = float(weights @ values.reshape(values.shape[0], -1).sum(axis=1))
        return total / max(values.size, 1) if self.reduction == "mean" else total

    def _scale(self, grad: FloatArray) -> FloatArray:
        if self.reduction == "mean":
            grad /= max(grad.size, 1)
        weights, self._weights = self._weights, None
        if weights is not None:
            grad *= weights.reshape(-1, *([1] * (grad.ndim - 1)))
        return grad

    def __repr__(self) -> str:
        return f"{type(self).__name__}({'' if self.reduction == 'mean' else 'reduction=sum'})"


class MSELoss(_ElementwiseLoss):
    """Mean squared error, ``mean((pred - target) ** 2)`` over every element (PyTorch's).

    pred and target: the same shape, any; target is cast to pred's dtype.
    ``reduction="sum"`` sums instead. Nielsen's quadratic cost ``sum / (2 N)`` is
    ``reduction="sum"`` scaled by 1/(2N), that is this loss times C/2.
    """

    name = "mse"

    def forward(
        self, pred: FloatArray, target: Any, *, sample_weight: FloatArray | None = None
    ) -> float:
        """Mean (or sum) of the squared differences (weighted per sample if given)."""
        pred, target = self._inputs(pred, target)
        diff = pred - target
        value = self._reduce(diff * diff, sample_weight)
        self._cache = (pred, target)
        return value

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

    name = "bce_with_logits"

    def forward(
        self, pred: FloatArray, target: Any, *, sample_weight: FloatArray | None = None
    ) -> float:
        """Mean (or sum) binary cross-entropy (weighted per sample if given)."""
        pred, target = self._inputs(pred, target)
        values = np.maximum(pred, 0) - pred * target + np.log1p(np.exp(-np.abs(pred)))
        value = self._reduce(values, sample_weight)
        self._cache = (pred, target)
        return value

    def backward(self) -> FloatArray:
        """(sigmoid(pred) - target) / numel."""
        if self._cache is None:
            raise self.missing_forward()
        pred, target = self._cache
        self._cache = None
        grad = sigmoid(pred)
        grad -= target
        return self._scale(grad)
