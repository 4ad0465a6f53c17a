"""Activation layers: elementwise functions (and `Softmax`, which acts along rows).

Each keeps one array from its last training forward, its input or its output,
whichever its derivative is cheaper from, and nothing in inference mode.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from tinynet import validation
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

    def forward(self, x: FloatArray) -> FloatArray:
        """Apply the activation to a float batch of any shape."""
        validation.float_array(self, x)
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
        return self.derivative(grad_y, saved)


class ReLU(Activation):
    """``max(x, 0)``; its gradient at 0 is taken as 0, as in PyTorch."""

    def function(self, x: FloatArray) -> FloatArray:
        return np.maximum(x, 0)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * (saved > 0)


class LeakyReLU(Activation):
    """``x`` where ``x > 0``, else ``negative_slope * x`` (default 0.01, as in PyTorch)."""

    saves_output = False

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def function(self, x: FloatArray) -> FloatArray:
        return np.where(x > 0, x, x * self.negative_slope)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return np.where(saved > 0, grad_y, grad_y * self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"

    def config(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}


def sigmoid(x: FloatArray) -> FloatArray:
    """``1 / (1 + exp(-x))`` without overflow for any finite x; same shape and dtype."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Sigmoid(Activation):
    """The logistic function, computed without overflow for large |x|."""

    def function(self, x: FloatArray) -> FloatArray:
        return sigmoid(x)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * saved * (1 - saved)


class Tanh(Activation):
    """The hyperbolic tangent."""

    def function(self, x: FloatArray) -> FloatArray:
        return np.tanh(x)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * (1 - saved * saved)


def softmax(x: FloatArray, axis: int = -1) -> FloatArray:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum so it cannot overflow."""
    e: FloatArray = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


class Softmax(Activation):
    """Softmax along ``axis`` (the last by default): rows of non-negative numbers summing to 1.

    For classification, feed logits to `CrossEntropyLoss` instead, which fuses the
    softmax with the log and is exact where this followed by a log underflows.
    """

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = int(axis)

    def function(self, x: FloatArray) -> FloatArray:
        return softmax(x, self.axis)

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        inner = (grad_y * saved).sum(axis=self.axis, keepdims=True)
        grad_x: FloatArray = saved * (grad_y - inner)
        return grad_x

    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"

    def config(self) -> dict[str, Any]:
        return {"axis": self.axis}
