"""Layers that only change a batch's shape: `Flatten`, `Unflatten`, `Reshape`.

Each is a view where NumPy can make one (no copy), and its gradient is reshaped back.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np

from tinynet import validation
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, Shape


class _Reshaping(Layer):
    """Base of the shape-only layers: ``forward`` reshapes to ``target(x.shape)``,
    ``backward`` reshapes the gradient back to the input's shape. The output is a view
    of the input where possible."""

    def __init__(self) -> None:
        super().__init__()
        self._input: tuple[Shape, Shape, np.dtype[np.floating]] | None = None

    @abstractmethod
    def target(self, shape: Shape) -> Shape:
        """The output shape for an input of ``shape`` (raise ``ValueError`` if none)."""

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, ...) -> the same values in ``target(x.shape)``, same dtype."""
        validation.float_array(self, x)
        if x.ndim == 0:
            raise ValueError(f"{self!r}: expected input of shape (N, ...), got a scalar")
        shape = self.target(x.shape)
        self._input = (x.shape, shape, x.dtype) if self.training else None
        return x.reshape(shape)

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (the output's shape) -> grad_x (the input's shape)."""
        shape, out, dtype = self.saved(self._input)
        validation.same_shape(self, grad_y, out, "grad_y", dtype=dtype)
        self._input = None  # consumed: one backward per forward
        return grad_y.reshape(shape)


class Flatten(_Reshaping):
    """Flatten every axis but the batch axis: (N, d1, ..., dk) -> (N, d1*...*dk).

    A view where possible (no copy; a batch-last `Conv2d` output is copied, into C
    order); the gradient is reshaped back.
    """

    def target(self, shape: Shape) -> Shape:
        return (shape[0], math.prod(shape[1:]))


def _sizes(owner: str, sizes: object) -> Shape:
    """``sizes`` checked to be a non-empty sequence of positive ints with at most one -1."""
    if (
        not isinstance(sizes, (tuple, list))
        or not sizes
        or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and (s >= 1 or s == -1)
            for s in sizes
        )
        or list(sizes).count(-1) > 1
    ):
        raise ValueError(
            f"{owner}: expected a tuple of positive ints (one may be -1), got {sizes!r}"
        )
    return tuple(int(s) for s in sizes)


def _fit(owner: Layer, sizes: Shape, count: int, what: str, shape: Shape) -> Shape:
    """``sizes`` with its -1 resolved so the sizes multiply to ``count``."""
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes and count % known == 0:
        sizes = tuple(count // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != count:
        raise ValueError(
            f"{owner!r}: cannot reshape {what} of {count} values (input shape {shape}) into {sizes}"
        )
    return sizes


class Unflatten(_Reshaping):
    """Split axis ``dim`` into ``unflattened_size``: PyTorch's ``Unflatten``.

    ``Unflatten(1, (1, 28, 28))`` turns (N, 784) rows into (N, 1, 28, 28) images for a
    convolutional network. ``dim`` counts from 0 (the batch axis, which cannot be split)
    or from the end if negative; one size may be -1 (inferred). A view (no copy).
    """

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool) or dim == 0:
            raise ValueError(f"Unflatten: dim must be a non-zero int (0 is the batch), got {dim!r}")
        self.dim = int(dim)
        self.unflattened_size = _sizes("Unflatten", unflattened_size)

    def target(self, shape: Shape) -> Shape:
        dim = self.dim + len(shape) if self.dim < 0 else self.dim
        if not 1 <= dim < len(shape):
            raise ValueError(
                f"{self!r}: dim {self.dim} is not an axis after the batch axis of input "
                f"of shape {shape}"
            )
        sizes = _fit(self, self.unflattened_size, shape[dim], f"axis {dim}", shape)
        return (*shape[:dim], *sizes, *shape[dim + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}


class Reshape(_Reshaping):
    """Reshape each sample to ``shape``, the batch axis kept: Keras's ``Reshape``.

    (N, ...) -> (N, *shape); one size may be -1 (inferred), e.g. ``Reshape((1, 28, 28))``
    for (N, 784) rows. A view where possible.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.shape = _sizes("Reshape", shape)

    def target(self, shape: Shape) -> Shape:
        return (shape[0], *_fit(self, self.shape, math.prod(shape[1:]), "each sample", shape))

    def extra_repr(self) -> str:
        return f"{self.shape}"

    def config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}
