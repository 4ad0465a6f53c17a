"""`Dropout`: randomly zero activations while training."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinynet import validation
from tinynet.init import make_rng
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray


class Dropout(Layer):
    """Zero each input with probability ``p`` while training; scale the rest by 1/(1-p).

    The scaling ("inverted dropout", as in PyTorch and Keras) keeps the expected
    activation unchanged, so in inference mode the layer is the identity. Masks are
    drawn from ``rng`` (or a generator seeded with ``seed``). Shapes: any, unchanged.
    In inference mode it returns its input itself.
    """

    def __init__(
        self, p: float = 0.5, *, rng: np.random.Generator | None = None, seed: int | None = None
    ) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must lie in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = make_rng(rng, seed)
        self._scaled_mask: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        """x -> x * mask / (1 - p) when training; x itself in inference mode."""
        validation.float_array(self, x)
        if not self.training:
            self._scaled_mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self._scaled_mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self._scaled_mask

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y -> grad_y * mask / (1 - p), with the mask of the last forward."""
        mask = self.saved(self._scaled_mask)
        validation.same_shape(self, grad_y, mask.shape, "grad_y", dtype=mask.dtype)
        self._scaled_mask = None  # consumed: one backward per forward
        return grad_y * mask

    def extra_repr(self) -> str:
        return f"p={self.p}"

    def config(self) -> dict[str, Any]:
        return {"p": self.p}
