"""State dicts: a layer's parameters and buffers as ``name -> array``, checked and loaded.

Names are PyTorch's: a parameter or buffer is named after its attribute, prefixed by
the names of the layers that hold it (``0.weight``, ``2.bias``, ``3.running_mean``).
Entries come module by module, depth first, each module's parameters before its
buffers, as ``torch.nn.Module.state_dict`` orders them.

Loading checks every key before any value is written, so a state dict that does not
fit leaves the layer exactly as it was. Values are copied *into* the existing arrays
(``p.data[...] = value``), never rebound: optimizers hold views of them.

dtype rule: a value is cast to its target's dtype only when numpy's ``casting`` rule
allows it, ``"safe"`` by default (float32 into a float64 model is exact and allowed;
float64 into a float32 model would round and is an error). Pass ``casting="same_kind"``
to round as PyTorch's ``load_state_dict`` does silently, or ``"equiv"`` to demand the
same dtype (byte order aside).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypeAlias

import numpy as np

from tinynet.typing import Array, Shape

if TYPE_CHECKING:
    from tinynet.layers.base import Layer

Casting: TypeAlias = Literal["no", "equiv", "safe", "same_kind", "unsafe"]
"""numpy's casting rules (see ``numpy.can_cast``)."""

_NOT_NUMBERS = frozenset("OSUVMm")  # object, bytes, str, void, datetime, timedelta


class StateDictError(ValueError):
    """A state dict does not fit a layer: missing or unexpected keys, or arrays of the
    wrong shape or dtype. ``missing_keys``, ``unexpected_keys`` and ``mismatched``
    (one message per wrong array) say which; the message lists them all."""

    def __init__(self, message: str, mismatch: Mismatch) -> None:
        super().__init__(message)
        self.missing_keys = mismatch.missing
        self.unexpected_keys = mismatch.unexpected
        self.mismatched = mismatch.wrong


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` skipped (as PyTorch returns it)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class ArraySpec(NamedTuple):
    """The shape and dtype an array has or must have, without its values."""

    shape: Shape
    dtype: np.dtype[Any]


@dataclass
class Mismatch:
    """Every way a state dict differs from what a layer expects."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def fatal(self, strict: bool) -> bool:
        """Whether loading must stop: a wrong array always, missing or extra keys if strict."""
        return bool(self.wrong or (strict and (self.missing or self.unexpected)))

    def message(self, owner: str) -> str:
        """All the problems, one line each, under a first line naming ``owner``."""
        lines = [f"Error(s) in loading state dict for {owner}:"]
        if self.missing:
            lines.append("  missing keys: " + ", ".join(self.missing))
        if self.unexpected:
            lines.append("  unexpected keys: " + ", ".join(self.unexpected))
        lines.extend("  " + line for line in self.wrong)
        return "\n".join(lines)


# --- reading a layer ---------------------------------------------------------------------


def named_arrays(layer: Layer) -> Iterator[tuple[str, Array]]:
    """The live arrays (not copies) behind a state dict, in state-dict order."""
    params = {name: p.data for name, p in layer.named_parameters()}
    buffers = dict(layer.named_buffers())
    order = {prefix: i for i, (prefix, _) in enumerate(layer.named_modules())}
    after_all = len(order)

    def position(item: tuple[int, str]) -> tuple[int, int]:
        kind, name = item
        owner = name.rpartition(".")[0]
        return order.get(owner + "." if owner else "", after_all), kind

    keyed = [(0, name) for name in params] + [(1, name) for name in buffers]
    for kind, name in sorted(keyed, key=position):  # stable: attribute order is kept
        yield name, (params[name] if kind == 0 else buffers[name])


def specs(layer: Layer) -> dict[str, ArraySpec]:
    """The shape and dtype each state-dict key of ``layer`` must have."""
    return {name: ArraySpec(a.shape, a.dtype) for name, a in named_arrays(layer)}


def state_dict(layer: Layer) -> dict[str, Array]:
    """An ordered ``name -> array`` copy of ``layer``'s parameters and buffers.

    Each array is a C-contiguous copy with the parameter's shape and dtype: changing
    it does not change the layer. A parameter shared by two layers appears under both
    names, as in PyTorch.
    """
    return {name: np.array(array, order="C", copy=True) for name, array in named_arrays(layer)}


# --- checking and loading ----------------------------------------------------------------


def find_mismatch(
    expected: Mapping[str, ArraySpec],
    given: Mapping[Any, object],
    casting: Casting = "safe",
) -> Mismatch:
    """Compare ``given`` (arrays or `ArraySpec`s by name) with ``expected``, key by key."""
    mismatch = Mismatch()
    mismatch.missing = [name for name in expected if name not in given]
    mismatch.unexpected = [
        name if isinstance(name, str) else repr(name) for name in given if name not in expected
    ]
    for name, want in expected.items():
        if name in given:
            problem = _array_problem(want, given[name], casting)
            if problem:
                mismatch.wrong.append(f"{name}: {problem}")
    return mismatch


def _array_problem(want: ArraySpec, value: object, casting: Casting) -> str | None:
    """Why ``value`` cannot be copied into an array like ``want``, or None if it can."""
    expected = f"expected shape {want.shape} and dtype {want.dtype}"
    if not isinstance(value, (np.ndarray, ArraySpec)):
        return f"{expected}, got a {type(value).__name__}, not a numpy array"
    got = f"got shape {value.shape} and dtype {value.dtype}"
    if value.shape != want.shape:
        return f"{expected}, {got}"
    if value.dtype.kind in _NOT_NUMBERS or not np.can_cast(value.dtype, want.dtype, casting):
        return f"{expected}, {got} (not castable under casting={casting!r})"
    return None


def load_state_dict(
    layer: Layer,
    state: Mapping[str, Array],
    *,
    strict: bool = True,
    casting: Casting = "safe",
) -> IncompatibleKeys:
    """Copy ``state``'s arrays into ``layer``'s parameters and buffers, in place.

    Every key is checked first: with ``strict``, a missing or unexpected key is an
    error; a value of the wrong shape, a non-array or a dtype ``casting`` forbids is
    always one. On any error `StateDictError` lists every problem and nothing is
    written. Returns the keys skipped (both lists empty when ``strict``).
    """
    if not isinstance(state, Mapping):
        raise TypeError(
            f"load_state_dict: expected a mapping of names to arrays, got {type(state).__name__}"
        )
    targets = dict(named_arrays(layer))
    expected = {name: ArraySpec(a.shape, a.dtype) for name, a in targets.items()}
    mismatch = find_mismatch(expected, state, casting)
    if mismatch.fatal(strict):
        raise StateDictError(mismatch.message(type(layer).__name__), mismatch)
    for name, target in targets.items():
        if name in state:
            np.copyto(target, state[name], casting=casting)
    return IncompatibleKeys(mismatch.missing, mismatch.unexpected)
