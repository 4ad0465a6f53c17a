"""`LayerNorm`: normalize each position's features over the last axis (PyTorch's)."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tinynet import init as initializers
from tinynet import validation
from tinynet.layers.base import Layer
from tinynet.parameter import Parameter
from tinynet.typing import DTypeLike, FloatArray


class _Saved(NamedTuple):
    """What backward needs: the normalized input and 1 / sqrt(var + eps) per row."""

    normalized: FloatArray
    inverse_std: FloatArray


class LayerNorm(Layer):
    """Layer normalization over the last axis: PyTorch's ``LayerNorm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, with ``mean`` and the biased
    ``var`` taken over the last axis of each position. Shapes: x (N, ..., D) -> y of
    x's shape and dtype, ``D = normalized_shape`` (an int, or a one-int tuple as
    PyTorch takes it; only the last axis is normalized). ``weight`` (D,) starts at
    ones and ``bias`` (D,) at zeros; with ``elementwise_affine=False`` there are none.
    dtype: ``dtype`` (float32 by default); the input must match it (any float dtype
    without the affine parameters).

    Backward, with ``g = grad_y * weight`` and ``xhat`` the normalized input:
    ``grad_x = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps)`` (means over the
    last axis), ``weight.grad += sum(grad_y * xhat)``, ``bias.grad += sum(grad_y)``
    (sums over every axis but the last).
    """

    weight: Parameter | None
    bias: Parameter | None

    def __init__(
        self,
        normalized_shape: int | tuple[int] | list[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        *,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.normalized_shape = (self._features(normalized_shape),)
        self.eps = validation.number("LayerNorm", "eps", eps, 0.0)
        self.elementwise_affine = bool(elementwise_affine)
        features = self.normalized_shape[0]
        affine = self.elementwise_affine
        self.weight = Parameter(initializers.full((features,), 1, dtype)) if affine else None
        self.bias = Parameter(initializers.full((features,), 0, dtype)) if affine else None
        self._saved: _Saved | None = None

    @staticmethod
    def _features(normalized_shape: object) -> int:
        if isinstance(normalized_shape, (tuple, list)):
            if len(normalized_shape) != 1:
                raise ValueError(
                    f"LayerNorm: only the last axis is normalized, so normalized_shape must be "
                    f"an int or a one-int tuple, got {normalized_shape!r}"
                )
            (normalized_shape,) = normalized_shape
        return validation.positive_int("LayerNorm", "normalized_shape", normalized_shape)

    def _input_dtype(self) -> np.dtype[Any] | None:
        """The dtype inputs must have: the parameters' (any float without them)."""
        return self.weight.dtype if self.weight is not None else None

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, ..., D) -> the normalized, scaled and shifted x, same shape and dtype."""
        features = self.normalized_shape[0]
        validation.float_array(self, x, last=features, dtype=self._input_dtype())
        if x.ndim < 2:
            raise ValueError(
                f"{self!r}: expected input of shape (N, ..., {features}), got {x.shape}"
            )
        centered = x - x.mean(axis=-1, keepdims=True)
        variance = np.mean(centered * centered, axis=-1, keepdims=True)
        inverse_std = 1.0 / np.sqrt(variance + self.eps)
        normalized: FloatArray = centered
        normalized *= inverse_std
        self._saved = _Saved(normalized, inverse_std) if self.training else None
        if self.weight is None or self.bias is None:
            return normalized.copy() if self.training else normalized
        y: FloatArray = normalized * self.weight.data
        y += self.bias.data
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (x's shape) -> grad_x (x's shape); accumulates weight and bias grads."""
        saved = self._consume(grad_y)
        g: FloatArray = grad_y * self.weight.data if self.weight is not None else grad_y.copy()
        xhat = saved.normalized
        g -= g.mean(axis=-1, keepdims=True)
        g -= xhat * np.mean(g * xhat, axis=-1, keepdims=True)
        g *= saved.inverse_std
        self._accumulate(grad_y, xhat)
        return g

    def backward_params(self, grad_y: FloatArray) -> None:
        """Accumulate ``weight.grad`` and ``bias.grad`` only."""
        self._accumulate(grad_y, self._consume(grad_y).normalized)

    def _consume(self, grad_y: FloatArray) -> _Saved:
        saved = self.saved(self._saved)
        shape = saved.normalized.shape
        validation.same_shape(self, grad_y, shape, "grad_y", dtype=saved.normalized.dtype)
        self._saved = None  # consumed: one backward per forward
        return saved

    def _accumulate(self, grad_y: FloatArray, xhat: FloatArray) -> None:
        if self.weight is None or self.bias is None:
            return
        features = self.normalized_shape[0]
        rows, xrows = grad_y.reshape(-1, features), xhat.reshape(-1, features)
        self.weight.grad += np.einsum("nd,nd->d", rows, xrows)
        self.bias.grad += rows.sum(axis=0)

    def extra_repr(self) -> str:
        extra = "" if self.elementwise_affine else ", elementwise_affine=False"
        return f"{self.normalized_shape}, eps={self.eps}{extra}"

    def config(self) -> dict[str, Any]:
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
        }
