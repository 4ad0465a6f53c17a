"""`Flatten`: (N, d1, d2, ...) -> (N, d1*d2*...)."""

from __future__ import annotations

import math

import numpy as np

from tinynet import validation
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, Shape


class Flatten(Layer):
    """Flatten every axis but the batch axis: (N, d1, ..., dk) -> (N, d1*...*dk).

    A view where possible (no copy): ``aliases_input``. The gradient is reshaped back.
    """

    aliases_input = True

    def __init__(self) -> None:
        super().__init__()
        self._input: tuple[Shape, np.dtype[np.floating]] | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, ...) -> (N, prod(...)), same dtype."""
        validation.float_array(self, x)
        if x.ndim == 0:
            raise ValueError(f"{self!r}: expected input of shape (N, ...), got a scalar")
        self._input = (x.shape, x.dtype) if self.training else None
        return x.reshape(x.shape[0], -1)

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, prod(...)) -> grad_x (N, ...)."""
        shape, dtype = self.saved(self._input)
        flat = (shape[0], math.prod(shape[1:]))
        validation.same_shape(self, grad_y, flat, "grad_y", dtype=dtype)
        self._input = None  # consumed: one backward per forward
        return grad_y.reshape(shape)
