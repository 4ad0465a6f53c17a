"""State dicts checked against what a layer expects: array specs, mismatches, errors.

A state dict maps PyTorch-style names (``0.weight``, ``3.running_mean``) to arrays;
`layer_state` makes one (``Layer.state_dict``) and `load_layer_state` loads one
(``Layer.load_state_dict``), after comparing what is given with what is expected, name by
name, shape and dtype, so a loader can refuse a file before reading its data.

dtype rule: a value is cast to its target's dtype only when numpy's ``casting`` rule
allows it, ``"safe"`` by default (float32 into a float64 model is exact and allowed;
float64 into a float32 model would round and is an error). Pass ``casting="same_kind"``
to round as PyTorch's ``load_state_dict`` does silently, or ``"equiv"`` to demand the
same dtype (byte order aside).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, NamedTuple, Protocol, TypeAlias

import numpy as np

from tinynet.parameter import Parameter
from tinynet.typing import Array, Shape

Casting: TypeAlias = Literal["no", "equiv", "safe", "same_kind", "unsafe"]
"""numpy's casting rules (see ``numpy.can_cast``)."""

_NOT_NUMBERS = frozenset("OSUVMm")  # object, bytes, str, void, datetime, timedelta
_TRANSPOSED_HINT = (
    " (the transpose: PyTorch's Linear weight is (out, in), tinynet's Dense weight "
    "(in, out); tinynet.io.load_safetensors and tinynet.io.from_torch transpose Linear "
    "weights, load_state_dict does not)"
)
_TORCH_HINT = (
    " (a torch tensor: convert the module with tinynet.io.from_torch(module), or save it "
    "with safetensors and use tinynet.io.load_safetensors, which transposes Linear weights)"
)


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

    @classmethod
    def of(cls, array: Array) -> ArraySpec:
        """The spec of an existing array."""
        return cls(array.shape, array.dtype)


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
        hint = _TORCH_HINT if type(value).__module__.split(".")[0] == "torch" else ""
        return f"{expected}, got a {type(value).__name__}, not a numpy array{hint}"
    got = f"got shape {value.shape} and dtype {value.dtype}"
    if value.shape != want.shape:
        transposed = len(want.shape) == 2 and value.shape == want.shape[::-1]
        return f"{expected}, {got}{_TRANSPOSED_HINT if transposed else ''}"
    if value.dtype.kind in _NOT_NUMBERS or not np.can_cast(value.dtype, want.dtype, casting):
        return f"{expected}, {got} (not castable under casting={casting!r})"
    return None


def require_fit(
    owner: str,
    expected: Mapping[str, ArraySpec],
    given: Mapping[Any, object],
    *,
    strict: bool = True,
    casting: Casting = "safe",
) -> Mismatch:
    """`find_mismatch`, raising `StateDictError` (its message headed by ``owner``) when the
    mismatch is fatal: a wrong array always, a missing or unexpected key if ``strict``."""
    mismatch = find_mismatch(expected, given, casting)
    if mismatch.fatal(strict):
        raise StateDictError(mismatch.message(owner), mismatch)
    return mismatch


class Stateful(Protocol):
    """What `layer_state` reads of a layer (this module imports none): its attributes
    (`Parameter`s among them), ``buffer_names`` and its children."""

    buffer_names: ClassVar[tuple[str, ...]]

    def named_children(self) -> Iterator[tuple[str, Any]]: ...


def layer_state(layer: Stateful, *, copy: bool = True) -> dict[str, Array]:
    """``layer``'s parameters and buffers by attribute path, in PyTorch's order (each
    layer's parameters, then its buffers, then its children's): C-contiguous copies, or
    the live arrays with ``copy=False``."""
    arrays = dict(_state_arrays(layer, ""))
    if copy:
        return {name: np.array(array, order="C", copy=True) for name, array in arrays.items()}
    return arrays


def _state_arrays(layer: Stateful, prefix: str) -> Iterator[tuple[str, Array]]:
    for name, value in vars(layer).items():
        if isinstance(value, Parameter):
            yield prefix + name, value.data
    for name in layer.buffer_names:
        yield prefix + name, getattr(layer, name)
    for name, child in layer.named_children():
        yield from _state_arrays(child, f"{prefix}{name}.")


def load_layer_state(
    layer: Stateful, state_dict: Mapping[str, Array], *, strict: bool, casting: Casting
) -> IncompatibleKeys:
    """Copy ``state_dict`` into ``layer``'s live arrays once all fit (`require_fit`)."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"load_state_dict: expected a mapping of names to arrays, "
            f"got {type(state_dict).__name__}"
        )
    targets = layer_state(layer, copy=False)
    expected = {name: ArraySpec.of(a) for name, a in targets.items()}
    mismatch = require_fit(
        type(layer).__name__, expected, state_dict, strict=strict, casting=casting
    )
    for name, target in targets.items():
        if name in state_dict:
            np.copyto(target, state_dict[name], casting=casting)
    return IncompatibleKeys(mismatch.missing, mismatch.unexpected)
