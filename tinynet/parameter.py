"""`Parameter`: a trainable array and its gradient, kept together."""

from __future__ import annotations

import numpy as np

from tinynet.typing import FloatArray


class Parameter:
    """A trainable array ``data`` and the gradient ``grad`` of the loss with respect to it.

    ``grad`` has the shape and dtype of ``data``. Layers accumulate into it (``+=``) in
    ``backward``; optimizers read it in ``step`` and clear it in ``zero_grad``.

    Both arrays are updated in place, never rebound, with one exception: an optimizer
    packs its parameters into one contiguous buffer (see `tinynet.optim.flat`), after
    which ``data`` and ``grad`` are views into that buffer. Hold the `Parameter`, not
    an array taken from it before the optimizer was made.
    """

    __slots__ = ("data", "grad")

    data: FloatArray
    grad: FloatArray

    def __init__(self, data: FloatArray) -> None:
        """Wrap ``data`` (a float array of any shape; not copied) with a zero gradient."""
        if not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype, np.floating):
            got = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"Parameter: expected a float numpy array, got {got}")
        self.data = data
        self.grad = np.zeros_like(data)

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
        """Set ``grad`` to zero in place."""
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"
