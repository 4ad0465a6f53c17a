"""`Parameter`: a trainable array and its gradient, and the memory they live in.

A parameter's arrays have one owner. Until an optimizer takes it, a `Parameter` owns
them itself. The first optimizer (or `pack`) over it moves it, together with the other
parameters it was given, into a `ParameterBlock`: one contiguous ``data`` vector and
one ``grad`` vector holding every parameter's arrays as views, so an update is a dozen
NumPy calls over all weights at once (PyTorch's ``foreach`` optimizers do the same).
A parameter is moved at most once; from then on the block owns its memory, and
`cast` (what ``Layer.astype`` calls) converts whole blocks in place of their layout.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinynet.typing import DTypeLike, FloatArray, Shape


class Parameter:
    """A trainable array ``data`` and the gradient ``grad`` of the loss with respect to it.

    ``grad`` has the shape and dtype of ``data`` and starts at zero. In ``backward`` a
    layer adds its contribution, ``p.grad += dLoss_dp`` (gradients accumulate until
    ``zero_grad``); an optimizer reads it in ``step``.

    Assigning ``p.data = values`` (or ``p.grad = ...``) copies the values into the
    existing array, which must have their shape: the arrays are not replaced. Once the
    first optimizer over the parameter is made, both are views into its block (see the
    module docstring).
    """

    __slots__ = ("_block", "_data", "_grad")

    def __init__(self, data: FloatArray) -> None:
        """Wrap ``data`` (a float array of any shape; not copied) with a zero gradient."""
        if not isinstance(data, np.ndarray) or data.dtype.kind != "f":
            got = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
            raise TypeError(f"Parameter: expected a float numpy array, got {got}")
        self._data = data
        self._grad: FloatArray = np.zeros_like(data)
        self._block: ParameterBlock | None = None

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
        return _unpickle, (self._data.copy(), self._grad.copy())

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


def _unpickle(data: FloatArray, grad: FloatArray) -> Parameter:
    p = Parameter(data)
    p.grad = grad
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
    """Parameters of one dtype whose arrays are views into two contiguous vectors.

    ``data`` and ``grad`` are 1-D, of length ``size``; parameter ``params[i]`` occupies
    ``slices[i]`` of both. Made by `pack`, which moves each parameter into it once.
    """

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
    """A contiguous stretch of one block: what an optimizer updates in one go.

    ``params`` are the parameters it covers, ``offsets`` their places within the span.
    ``data`` and ``grad`` are read through the block, so they follow `cast`.
    """

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
    """The spans an optimizer over ``params`` updates; parameters never packed are packed.

    Parameters not yet in a block are moved into new blocks, one per dtype, in the given
    order. Then a block all of whose parameters are in ``params`` is one span (the
    common case: one optimizer over a whole model); a block shared with parameters not
    in ``params`` gives one span per parameter.
    """
    loose: dict[np.dtype[Any], list[Parameter]] = {}
    for p in params:
        if p.block is None:
            loose.setdefault(p.dtype, []).append(p)
    for group in loose.values():
        ParameterBlock(group)
    wanted = {id(p) for p in params}
    spans: list[Span] = []
    seen: set[int] = set()
    for p in params:
        block = p.block
        assert block is not None  # packed above
        if id(block) in seen:
            continue
        seen.add(id(block))
        if all(id(q) in wanted for q in block.params):
            spans.append(Span(block, 0, block.size, tuple(block.params), tuple(block.slices)))
            continue
        for q, where in zip(block.params, block.slices, strict=True):
            if id(q) in wanted:
                whole = slice(0, where.stop - where.start)
                spans.append(Span(block, where.start, where.stop, (q,), (whole,)))
    return spans


def cast(params: Iterable[Parameter], dtype: DTypeLike) -> None:
    """Convert ``params`` (values and gradients) to the float ``dtype``, through their owner.

    A loose parameter gets new arrays; a packed one is converted with its whole block,
    which must then hold no parameter outside ``params`` (``ValueError`` otherwise:
    one block has one dtype). Optimizers over them follow (their state is cast at
    their next step).
    """
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
