"""Where packed parameters live: one contiguous ``data`` and one ``grad`` vector per
`ParameterBlock`, holding every parameter's arrays as views.

The first optimizer (or `pack`) over a parameter moves it, with the others it was given,
into a block, so an update is a dozen NumPy calls over all weights at once (as PyTorch's
``foreach`` optimizers). From then on the block owns the memory; `cast` converts whole
blocks. An update sees contiguous stretches (`Span`) cut at frozen parameters
(``requires_grad = False``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinynet.parameter import Parameter
from tinynet.typing import DTypeLike, FloatArray


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
