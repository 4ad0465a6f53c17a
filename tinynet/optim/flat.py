"""`FlatGroup`: parameters of one dtype packed into one contiguous data and grad vector.

An optimizer's update is elementwise, so over a packed group it is a handful of
NumPy calls on two long vectors instead of a handful per parameter (PyTorch's fused
and ``foreach`` optimizers do the same), and ``zero_grad`` is one ``fill``.
"""

from __future__ import annotations

import itertools

import numpy as np

from tinynet.parameter import Parameter
from tinynet.typing import FloatArray


class FlatGroup:
    """Parameters of one dtype whose ``data`` and ``grad`` are views into two vectors.

    Packing copies each parameter's values into ``data``/``grad`` (1-D, length
    ``size``) and rebinds ``p.data``/``p.grad`` to views of them. If anything later
    rebinds a parameter's array (another optimizer packing it, ``astype``, a user),
    `ensure_packed` notices and packs again, copying the current values.
    ``state`` holds the optimizer's per-element buffers (``exp_avg``...), each of
    length ``size``; ``scratch`` two work vectors the update may overwrite.
    """

    def __init__(self, params: list[Parameter]) -> None:
        dtypes = {p.dtype for p in params}
        if len(dtypes) != 1:
            raise ValueError(f"FlatGroup: expected parameters of one dtype, got {dtypes}")
        self.params = params
        self.dtype = params[0].dtype
        self.shapes = [p.shape for p in params]
        bounds = np.cumsum([0, *(p.size for p in params)])
        self.slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        self.size = int(bounds[-1])
        self.data: FloatArray = np.empty(self.size, self.dtype)
        self.grad: FloatArray = np.empty(self.size, self.dtype)
        self.state: dict[str, FloatArray] = {}
        self.scratch = (np.empty(self.size, self.dtype), np.empty(self.size, self.dtype))
        self._views: list[tuple[FloatArray, FloatArray]] = []
        self._pack()

    def _pack(self) -> None:
        for p, shape, where in zip(self.params, self.shapes, self.slices, strict=True):
            if p.shape != shape or p.dtype != self.dtype:
                raise ValueError(
                    f"optimizer: a parameter changed from shape {shape} and dtype {self.dtype} "
                    f"to {p.shape} and {p.dtype} after the optimizer was made; make a new one"
                )
            self.data[where] = p.data.ravel()
            self.grad[where] = p.grad.ravel()
            p.data = self.data[where].reshape(shape)
            p.grad = self.grad[where].reshape(shape)
        self._views = [(p.data, p.grad_storage) for p in self.params]

    def ensure_packed(self) -> None:
        """Pack again if any parameter's ``data`` or ``grad`` is no longer our view."""
        for p, (data, grad) in zip(self.params, self._views, strict=True):
            if p.data is not data or p.grad_storage is not grad:
                self._pack()
                return

    def settle_grads(self) -> None:
        """Make ``grad`` hold every gradient: a parameter no backward reached since
        ``zero_grad`` still has its lazy zero pending (see `Parameter`)."""
        for p in self.params:
            p.settle_grad()

    def zero_grads(self) -> None:
        """Zero every parameter's gradient (lazily: no pass over ``grad``)."""
        for p in self.params:
            p.zero_grad()

    def split(self, vector: FloatArray) -> list[FloatArray]:
        """Views of a length-``size`` vector, one per parameter, in the parameters' shapes."""
        pairs = zip(self.slices, self.shapes, strict=True)
        return [vector[where].reshape(shape) for where, shape in pairs]


def group_by_dtype(params: list[Parameter]) -> list[FlatGroup]:
    """One `FlatGroup` per dtype, parameters kept in their given order within each."""
    by_dtype: dict[np.dtype[np.floating], list[Parameter]] = {}
    for p in params:
        by_dtype.setdefault(p.dtype, []).append(p)
    return [FlatGroup(group) for group in by_dtype.values()]
