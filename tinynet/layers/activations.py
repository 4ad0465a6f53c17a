"""Activation layers: elementwise functions (and `Softmax`, which acts along rows).

Each keeps one array from its last training forward, its input or its output,
whichever its derivative is cheaper from, and nothing in inference mode.
"""

from __future__ import annotations

import math
from abc import abstractmethod

import numpy as np

from tinynet import validation
from tinynet.functional import normal_cdf, normal_pdf, sigmoid, softmax
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray


class Activation(Layer):
    """Base of parameter-free layers whose output has the input's shape and dtype.

    Subclasses write ``function(x) -> y`` and ``derivative(grad_y, saved) -> grad_x``,
    where ``saved`` is the output ``y`` if ``saves_output`` is true, else the input
    ``x``. Shapes: any (N, ...) float array, unchanged.
    """

    saves_output: bool = True

    def __init__(self) -> None:
        super().__init__()
        self._saved: FloatArray | None = None

    @abstractmethod
    def function(self, x: FloatArray) -> FloatArray:
        """The activation of ``x``, a new array of ``x``'s shape and dtype."""

    @abstractmethod
    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        """dLoss/dx from dLoss/dy and the saved input or output."""

    def check_input(self, x: FloatArray) -> None:
        """A float array of any shape."""
        validation.float_array(self, x)

    def forward(self, x: FloatArray) -> FloatArray:
        """Apply the activation to a float batch of any shape."""
        y = self.function(x)
        if self.training:
            self._saved = y if self.saves_output else x
        else:
            self._saved = None
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (the output's shape) -> grad_x (the input's shape)."""
        saved = self.saved(self._saved)
        validation.same_shape(self, grad_y, saved.shape, "grad_y", dtype=saved.dtype)
        self._saved = None  # consumed: one backward per forward
        return self.derivative(grad_y, saved)


class ReLU(Activation):
    """``max(x, 0)``; its gradient at 0 is taken as 0, as in PyTorch.

    ``inplace=True`` (PyTorch's flag) writes the output over the input instead of
    allocating a new array: for a (10000, 128) batch that saves 5 MB of fresh memory
    per call, a large share of an inference pass. It is right anywhere: it changes only
    values whose gradient is zero, and a container gives it a copy where it would
    receive an array someone else reads (the caller's batch, a skip path's), see
    `tinynet.containers`. Called on its own, ``ReLU(inplace=True)(x)`` does write over
    ``x``.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def function(self, x: FloatArray) -> FloatArray:
        if self.inplace:
            return np.maximum(x, 0, out=x)
        return np.maximum(x, 0)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * (saved > 0)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Activation):
    """``x`` where ``x > 0``, else ``negative_slope * x`` (default 0.01, as in PyTorch).

    ``negative_slope`` is any finite real number; NaN or infinity (which a model file
    could carry) is refused here, not reported later as diverged weights.
    """

    saves_output = False

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        real = isinstance(negative_slope, (int, float, np.integer, np.floating))
        if not real or isinstance(negative_slope, bool) or not math.isfinite(negative_slope):
            raise ValueError(
                f"LeakyReLU: negative_slope must be a finite number, got {negative_slope!r}"
            )
        self.negative_slope = float(negative_slope)

    def function(self, x: FloatArray) -> FloatArray:
        return np.where(x > 0, x, x * self.negative_slope)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return np.where(saved > 0, grad_y, grad_y * self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Activation):
    """The logistic function, computed without overflow for large |x|."""

    def function(self, x: FloatArray) -> FloatArray:
        return sigmoid(x)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * saved * (1 - saved)

    def output_activation(self) -> str | None:
        return "sigmoid"


class Tanh(Activation):
    """The hyperbolic tangent."""

    def function(self, x: FloatArray) -> FloatArray:
        return np.tanh(x)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * (1 - saved * saved)


MAX_NDIM = 64
"""No NumPy array has more dimensions (NumPy 2; NumPy 1 allows 32)."""


class Softmax(Activation):
    """Softmax along ``axis`` (the last by default): rows of non-negative numbers summing to 1.

    ``axis`` is an integer that can name an axis of some array (``-64 <= axis < 64``);
    an input without that axis is a ``ValueError`` naming the layer and the shape.
    For classification, feed logits to `CrossEntropyLoss` instead, which fuses the
    softmax with the log and is exact where this followed by a log underflows.
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        integer = isinstance(axis, (int, np.integer)) and not isinstance(axis, bool)
        if not integer or not -MAX_NDIM <= axis < MAX_NDIM:
            raise ValueError(
                f"Softmax: axis must be an integer in [-{MAX_NDIM}, {MAX_NDIM}), got {axis!r}"
            )
        self.axis = int(axis)

    def function(self, x: FloatArray) -> FloatArray:
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError(
                f"{self!r}: expected an input with an axis {self.axis}, got shape {x.shape}"
            )
        return softmax(x, self.axis)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        inner = (grad_y * saved).sum(axis=self.axis, keepdims=True)
        grad_x: FloatArray = saved * (grad_y - inner)
        return grad_x

    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"

    def output_activation(self) -> str | None:
        return "softmax" if self.axis in (-1, 1) else None


class SiLU(Activation):
    """``x * sigmoid(x)``, the sigmoid-weighted linear unit (PyTorch's ``SiLU``).

    Finite for every finite x (the sigmoid is the overflow-free one above): large
    negative x give 0, large positive x give x. Shapes and dtype: any, unchanged.
    The input is kept for backward, where ``d/dx = s * (1 + x * (1 - s))``, s = sigmoid(x).
    """

    saves_output = False

    def function(self, x: FloatArray) -> FloatArray:
        y = sigmoid(x)
        y *= x
        return y

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        s = sigmoid(saved)
        grad_x = 1 - s
        grad_x *= saved
        grad_x += 1
        grad_x *= s
        grad_x *= grad_y
        return grad_x


class Swish(SiLU):
    """The same function as `SiLU` under its other name (Keras' ``swish``, beta = 1)."""


GELU_APPROXIMATIONS = ("none", "tanh")

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class GELU(Activation):
    """Gaussian error linear unit, ``x * Phi(x)`` with Phi the standard normal CDF (PyTorch's).

    ``approximate="none"`` (the default, as in PyTorch) is the exact form
    ``x / 2 * (1 + erf(x / sqrt(2)))``, computed to about an ulp of the dtype by
    `tinynet.functional.normal_cdf` (NumPy has no erf); its derivative is
    ``Phi(x) + x * phi(x)``. ``approximate="tanh"`` is
    ``x / 2 * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 x**3)))``, computed as the equal
    ``x * sigmoid(2 sqrt(2 / pi) (x + 0.044715 x**3))``, which does not cancel to 0 for
    large negative x; it is about twice as fast. A training forward of the exact form
    keeps Phi(x) and phi(x) (two arrays of the input's size) for the backward, which
    would otherwise compute both again. Shapes and dtype: any, unchanged.
    """

    saves_output = False

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in GELU_APPROXIMATIONS:
            raise ValueError(
                f"GELU: approximate must be one of {GELU_APPROXIMATIONS}, got {approximate!r}"
            )
        self.approximate = approximate
        self._phi: tuple[FloatArray, FloatArray] | None = None
        """The exact form's Phi(x) and phi(x) from a training forward, for its backward."""

    def function(self, x: FloatArray) -> FloatArray:
        if self.approximate == "tanh":
            y = self._tanh_gate(x)
            y *= x
            return y
        pdf = normal_pdf(x)
        cdf = normal_cdf(x, pdf)
        self._phi = (cdf, pdf) if self.training else None  # half a step's GELU time
        return cdf * x if self.training else np.multiply(cdf, x, out=cdf)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        x = saved
        slope: FloatArray
        if self.approximate == "tanh":
            gate = self._tanh_gate(x)
            # d/dx [x s(v)] = s + x s (1 - s) v', v = 2 sqrt(2/pi) (x + c x**3)
            slope = x * x
            slope *= 3 * _GELU_CUBIC
            slope += 1
            slope *= 2 * _SQRT_2_OVER_PI * x
            slope *= 1 - gate
            slope += 1
            slope *= gate
        else:
            kept, self._phi = self._phi, None
            if kept is None:  # not kept (a subclass's own forward): compute them again
                pdf = normal_pdf(x)
                kept = normal_cdf(x, pdf), pdf
            slope = np.multiply(kept[1], x, out=kept[1])
            slope += kept[0]
        slope *= grad_y
        return slope

    @staticmethod
    def _tanh_gate(x: FloatArray) -> FloatArray:
        """``(1 + tanh(u)) / 2 = sigmoid(2u)``, u = sqrt(2/pi) (x + 0.044715 x**3)."""
        v = x * x
        v *= _GELU_CUBIC
        v += 1
        v *= x
        v *= 2 * _SQRT_2_OVER_PI
        return sigmoid(v)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"
