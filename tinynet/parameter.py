"""`Parameter`: a trainable array and its gradient, and the memory they live in.

The first optimizer (or `pack`) over a parameter moves it, with the others it was given,
into a `ParameterBlock`: one contiguous ``data`` and one ``grad`` vector holding every
parameter's arrays as views, so an update is a dozen NumPy calls over all weights at once
(as PyTorch's ``foreach`` optimizers). From then on the block owns the memory; `cast`
converts whole blocks. An update sees contiguous stretches (`Span`) cut at frozen
parameters (``requires_grad = False``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinynet.typing import DTypeLike, FloatArray, Shape


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
        self._block: ParameterBlock | None = None
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
    def block(self) -> ParameterBlock | None:
        """The block that owns this parameter's memory (``None`` until one packs it)."""
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

    def _place(self, data: FloatArray, grad: FloatArray, block: ParameterBlock | None) -> None:
        """Rebind the arrays (for `ParameterBlock` and `cast` only: they own the memory)."""
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


class ParameterBlock:
    """Parameters of one dtype whose arrays are views into two 1-D vectors, ``data``
    and ``grad`` of length ``size``; ``params[i]`` occupies ``slices[i]`` of both."""

    def __init__(self, params: Sequence[Parameter]) -> None:
        self.params = list(params)
        bounds = np.cumsum([0, *(p.size for p in self.params)])
        self.slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]
        self.size = int(bounds[-1])
        dtype = self.params[0].dtype
        data, grad = np.empty(self.size, dtype), np.empty(self.size, dtype)
        for p, where in zip(self.params, self.slices, strict=True):
            data[where] = p.data.ravel()
            grad[where] = p.grad.ravel()
        self._bind(data, grad)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of every parameter in the block."""
        return self.data.dtype

    def _bind(self, data: FloatArray, grad: FloatArray) -> None:
        self.data, self.grad = data, grad
        for p, where in zip(self.params, self.slices, strict=True):
            p._place(data[where].reshape(p.shape), grad[where].reshape(p.shape), self)

    def astype(self, dtype: np.dtype[Any]) -> None:
        """Convert every parameter of the block (values and gradients) to ``dtype``."""
        self._bind(self.data.astype(dtype), self.grad.astype(dtype))


@dataclass(frozen=True)
class Span:
    """A contiguous stretch of one block (``params``, at ``offsets`` within it): what an
    optimizer updates in one go. ``data`` and ``grad`` are read through the block."""

    block: ParameterBlock
    start: int
    stop: int
    params: tuple[Parameter, ...]
    offsets: tuple[slice, ...]

    @property
    def data(self) -> FloatArray:
        """The values of the span's parameters, one 1-D vector."""
        return self.block.data[self.start : self.stop]

    @property
    def grad(self) -> FloatArray:
        """The gradients of the span's parameters, one 1-D vector."""
        return self.block.grad[self.start : self.stop]

    @property
    def size(self) -> int:
        """The number of scalars covered."""
        return self.stop - self.start


def pack(params: Sequence[Parameter]) -> list[Span]:
    """The `spans` of ``params``, after moving those in no block into new blocks, one
    per dtype, in order: one span for one optimizer over a whole model."""
    loose: dict[np.dtype[Any], list[Parameter]] = {}
    for p in params:
        if p.block is None:
            loose.setdefault(p.dtype, []).append(p)
    for group in loose.values():
        ParameterBlock(group)
    return spans(params)


def spans(params: Sequence[Parameter]) -> list[Span]:
    """The maximal runs of consecutive parameters of one block that are all in ``params``
    (packed parameters), blocks in the order of their first parameter in ``params``."""
    wanted = {id(p) for p in params}
    found: list[Span] = []
    seen: set[int] = set()
    for p in params:
        block = p.block
        if block is None:
            raise ValueError(f"spans: {p!r} is not packed into a block (use pack)")
        if id(block) in seen:
            continue
        seen.add(id(block))
        run: list[int] = []
        for k, q in enumerate([*block.params, None]):
            if q is not None and id(q) in wanted:
                run.append(k)
            elif run:
                found.append(_span(block, run))
                run = []
    return found


def _span(block: ParameterBlock, run: list[int]) -> Span:
    """The span of ``block`` covering its parameters ``run`` (consecutive positions)."""
    start, stop = block.slices[run[0]].start, block.slices[run[-1]].stop
    offsets = tuple(
        slice(w.start - start, w.stop - start) for w in block.slices[run[0] : run[-1] + 1]
    )
    return Span(block, start, stop, tuple(block.params[run[0] : run[-1] + 1]), offsets)


def cast(params: Iterable[Parameter], dtype: DTypeLike) -> None:
    """Convert ``params`` (values and gradients) to the float ``dtype``: a packed one
    with its whole block, which must hold no parameter outside ``params`` (``ValueError``).
    Optimizers follow at their next step."""
    target = np.dtype(dtype)
    if target.kind != "f":
        raise TypeError(f"astype: expected a float dtype, got {target}")
    chosen = list(params)
    wanted = {id(p) for p in chosen}
    blocks = {id(p.block): p.block for p in chosen if p.block is not None}
    for block in blocks.values():
        outside = sum(id(q) not in wanted for q in block.params)
        if outside:
            raise ValueError(
                f"astype: these parameters share an optimizer's block with {outside} "
                f"others; cast all of them together (e.g. the whole model), or make the "
                f"optimizer after astype"
            )
    for block in blocks.values():
        if block.dtype != target:
            block.astype(target)
    for p in chosen:
        if p.block is None and p.dtype != target:
            p._place(p.data.astype(target), p.grad.astype(target), None)
