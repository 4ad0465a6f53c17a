"""`Parameter`: a trainable array and its gradient.

The first optimizer over a parameter moves its memory into a block shared with the
others it was given (`tinynet.blocks`); the parameter then holds views into the block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinynet.typing import FloatArray, Shape


class Parameter:
    """A trainable array ``data`` and ``grad``, dLoss/d``data`` (same shape and dtype,
    zero at first). A layer's ``backward`` adds to it (``p.grad += dLoss_dp``) until
    ``zero_grad``. Assigning ``p.data = values`` copies into the existing array (of the
    same shape), which may be a view into an optimizer's block: keep ``p``, not
    ``p.data``. ``requires_grad = False`` freezes it: optimizers leave its values and
    state alone (``grad`` is still computed).
    """

    __slots__ = ("_block", "_data", "_grad", "_requires_grad")

    def __init__(self, data: FloatArray) -> None:
        """Wrap ``data`` (a float array of any shape; not copied) with a zero gradient."""
        if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
            got = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"Parameter: expected a float numpy array, got {got}")
        self._data = data
        self._grad: FloatArray = np.zeros_like(data)
        self._block: Any = None  # a tinynet.blocks.ParameterBlock
        self._requires_grad = True

    @property
    def requires_grad(self) -> bool:
        """Whether optimizers update this parameter (``False``: frozen)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"Parameter.requires_grad: expected True or False, got {value!r}")
        self._requires_grad = bool(value)

    @property
    def data(self) -> FloatArray:
        """The values, an array of this parameter's shape and dtype."""
        return self._data

    @data.setter
    def data(self, values: object) -> None:
        _copy_into(self._data, values, "data")

    @property
    def grad(self) -> FloatArray:
        """dLoss/d``data``: an array of ``data``'s shape and dtype."""
        return self._grad

    @grad.setter
    def grad(self, values: object) -> None:
        if values is not self._grad:  # ``p.grad += g`` assigns the same array back
            _copy_into(self._grad, values, "grad")

    @property
    def block(self) -> Any:
        """The `tinynet.blocks.ParameterBlock` that owns this parameter's memory (``None``
        until one packs it)."""
        return self._block

    @property
    def shape(self) -> Shape:
        """The shape of ``data``."""
        return self._data.shape

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of ``data`` (and of ``grad``)."""
        return self._data.dtype

    @property
    def size(self) -> int:
        """The number of scalars in ``data``."""
        return int(self._data.size)

    def zero_grad(self) -> None:
        """Set ``grad`` to zero."""
        self._grad.fill(0)

    def _place(self, data: FloatArray, grad: FloatArray, block: Any) -> None:
        """Rebind the arrays (for `tinynet.blocks` only: they own the memory)."""
        self._data, self._grad, self._block = data, grad, block

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy owns fresh arrays and no block: a block's views would not survive it.
        return _unpickle, (self._data.copy(), self._grad.copy(), self._requires_grad)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


def _unpickle(data: FloatArray, grad: FloatArray, requires_grad: bool = True) -> Parameter:
    p = Parameter(data)
    p.grad = grad
    p.requires_grad = requires_grad
    return p


def _copy_into(target: FloatArray, values: object, name: str) -> None:
    """``target[...] = values`` for an array of ``target``'s shape, else ``ValueError``."""
    shape = np.shape(values)  # type: ignore[call-overload]
    if shape != target.shape:
        raise ValueError(
            f"Parameter.{name}: expected values of shape {target.shape}, got shape {shape}; "
            f"a parameter keeps its shape (make a new Parameter for another)"
        )
    np.copyto(target, values, casting="same_kind")  # type: ignore[arg-type]
