"""`Parameter`: a trainable array and its gradient, kept together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinynet.typing import FloatArray


class Parameter:
    """A trainable array ``data`` and the gradient ``grad`` of the loss with respect to it.

    ``grad`` has the shape and dtype of ``data``. Layers accumulate into it (``+=``) in
    ``backward``; optimizers read it in ``step`` and clear it with ``zero_grad``.

    Clearing is lazy, like PyTorch's ``grad = None``: ``zero_grad`` only marks the
    gradient as zero, and the first write after it overwrites the buffer instead of
    adding to it, so a layer's matrix product can go straight into ``grad`` (see
    `accumulate_grad`). Reading ``grad`` always gives the right values: a pending zero
    is written out first. Layers may keep using ``p.grad += value``.

    Both arrays are updated in place, never rebound, with one exception: an optimizer
    packs its parameters into one contiguous buffer (see `tinynet.optim.flat`), after
    which ``data`` and ``grad`` are views into that buffer. Hold the `Parameter`, not
    an array taken from it before the optimizer was made.
    """

    __slots__ = ("_grad", "_zero_pending", "data")

    data: FloatArray

    def __init__(self, data: FloatArray) -> None:
        """Wrap ``data`` (a float array of any shape; not copied) with a zero gradient."""
        if not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype, np.floating):
            got = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"Parameter: expected a float numpy array, got {got}")
        self.data = data
        self._grad: FloatArray = np.zeros_like(data)
        self._zero_pending = False

    @property
    def grad(self) -> FloatArray:
        """dLoss/d``data``, of ``data``'s shape and dtype (zeros after ``zero_grad``)."""
        self.settle_grad()
        return self._grad

    @grad.setter
    def grad(self, value: FloatArray) -> None:
        self._grad = value
        self._zero_pending = False

    def settle_grad(self) -> None:
        """Write out a pending zero, so the buffer itself holds the gradient (optimizers
        read their packed buffer, not ``grad``)."""
        if self._zero_pending:
            self._grad.fill(0)
            self._zero_pending = False

    @property
    def grad_storage(self) -> FloatArray:
        """The gradient's buffer as it is, without writing out a pending zero (for the
        optimizer's packing, which must not touch values)."""
        return self._grad

    def accumulate_grad(self, compute: Callable[..., Any], *args: Any) -> None:
        """``grad += compute(*args)``; right after ``zero_grad``, ``compute(*args, out=grad)``.

        ``compute`` is a NumPy function taking ``out=`` (``np.matmul``, ``np.sum``...):
        the common case, one backward after each ``zero_grad``, then allocates nothing
        and makes no pass to add.
        """
        if self._zero_pending:
            compute(*args, out=self._grad)
            self._zero_pending = False
        else:
            self._grad += compute(*args)

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    @property
    def dtype(self) -> np.dtype[np.floating]:
        """The dtype of ``data`` (and of ``grad``)."""
        return self.data.dtype

    @property
    def size(self) -> int:
        """The number of scalars in ``data``."""
        return int(self.data.size)

    def zero_grad(self) -> None:
        """Make ``grad`` zero (lazily: the next read or write sees zeros)."""
        self._zero_pending = True

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
