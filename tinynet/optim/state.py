"""An optimizer's state dict in PyTorch's layout: writing it, and reading it back checked.

The layout is ``{"state": {i: {"step": int, name: array, ...}}, "param_groups":
[{settings..., "initial_lr": float, "params": [i, ...]}, ...]}``, where ``i`` is a
parameter's position in the optimizer's groups, one after the other, and each array has
that parameter's shape. Parameters never updated (frozen, or before the first step)
have no entry. `tinynet.optim.Optimizer.state_dict` and ``load_state_dict`` call these.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from tinynet.blocks import Span
from tinynet.parameter import Parameter
from tinynet.typing import FloatArray
from tinynet.validation import is_integer, short


class Optimizer(Protocol):
    """What these functions read and write of a `tinynet.optim.Optimizer` (a protocol,
    so that this module need not import the optimizer's)."""

    params: list[Parameter]
    spans: list[Span]
    state: list[dict[str, FloatArray]]
    counts: list[list[int]]
    group_of: list[int]
    param_groups: list[dict[str, Any]]

    def state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]: ...

    def checked_group(self, group: Mapping[str, Any]) -> dict[str, Any]: ...


MAX_STEPS = 2**62
"""The largest step count a state may hold (``beta ** step`` must stay a float operation)."""


def optimizer_state(optimizer: Optimizer) -> dict[str, Any]:
    """``optimizer``'s state dict (the module's layout), every buffer copied."""
    position = {id(p): i for i, p in enumerate(optimizer.params)}
    state: dict[int, dict[str, Any]] = {}
    for span, buffers, counts in zip(
        optimizer.spans, optimizer.state, optimizer.counts, strict=True
    ):
        for p, where, count in zip(span.params, span.offsets, counts, strict=True):
            if count:
                entry: dict[str, Any] = {"step": count}
                for name, vector in buffers.items():
                    entry[name] = vector[where].reshape(p.shape).copy()
                state[position[id(p)]] = entry
    groups = [
        {
            **{k: v for k, v in group.items() if k != "params"},
            "params": [position[id(p)] for p in group["params"]],
        }
        for group in optimizer.param_groups
    ]
    return {"state": dict(sorted(state.items())), "param_groups": groups}


def load_optimizer_state(optimizer: Optimizer, state_dict: Mapping[str, Any]) -> None:
    """Restore ``state_dict`` into ``optimizer``, its settings too (as PyTorch: they decide
    which buffers the state must hold), checked as the constructor checks them.

    ``ValueError`` names the setting, the group, or the parameter and buffer whose shape
    or presence does not fit, or a step count that is not an integer in [1, 2**62],
    before anything is changed.
    """
    name = type(optimizer).__name__
    try:
        saved = list(state_dict["param_groups"])
        state = state_dict["state"]
        sizes = [len(g["params"]) for g in saved]
    except (KeyError, IndexError, TypeError) as error:
        raise ValueError(f"{name}.load_state_dict: not an optimizer state dict") from error
    ours = [len(g["params"]) for g in optimizer.param_groups]
    if sizes != ours:
        raise ValueError(
            f"{name}.load_state_dict: the state's parameter groups hold {sizes} "
            f"parameters, this optimizer's {ours}"
        )
    try:
        groups = [
            optimizer.checked_group({**group, **saved_group, "params": group["params"]})
            for group, saved_group in zip(optimizer.param_groups, saved, strict=True)
        ]
    except ValueError as error:
        raise ValueError(f"{name}.load_state_dict: {error}") from error
    entries = _checked_entries(optimizer, state, groups)
    optimizer.param_groups[:] = groups
    position = {id(p): i for i, p in enumerate(optimizer.params)}
    for i, span in enumerate(optimizer.spans):
        found = [entries.get(position[id(p)]) for p in span.params]
        optimizer.counts[i] = [entry["step"] if entry else 0 for entry in found]
        optimizer.state[i] = {}
        if not any(found):
            continue
        for buffer in optimizer.state_names(groups[optimizer.group_of[i]]):
            vector = np.zeros(span.size, span.block.dtype)
            for entry, where in zip(found, span.offsets, strict=True):
                if entry:
                    vector[where] = entry[buffer].ravel()
            optimizer.state[i][buffer] = vector


def _checked_entries(
    optimizer: Optimizer, state: Any, groups: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The per-parameter entries of ``state`` by position, ``step`` as an int, each
    holding the buffers its group's settings need in its parameter's shape."""
    name = f"{type(optimizer).__name__}.load_state_dict"
    if not isinstance(state, Mapping):
        raise ValueError(f"{name}: 'state' must be a dict")
    keys = {str(i): i for i in range(len(optimizer.params))}
    entries: dict[int, dict[str, Any]] = {}
    for key, entry in state.items():
        i = keys.get(str(key))
        if i is None or not isinstance(entry, Mapping):
            raise ValueError(
                f"{name}: unexpected state entry {short(key)} (the optimizer has "
                f"{len(optimizer.params)} parameters)"
            )
        step = entry.get("step")
        if not (is_integer(step) and 1 <= step <= MAX_STEPS):
            raise ValueError(
                f"{name}: parameter {i} needs 'step', an integer in [1, 2**62], got {short(step)}"
            )
        entries[i] = {**entry, "step": int(step)}
    members = [(group, p) for group in groups for p in group["params"]]
    for i, (group, p) in enumerate(members):
        for buffer in optimizer.state_names(group) if i in entries else ():
            value = entries[i].get(buffer)
            if not isinstance(value, np.ndarray) or value.shape != p.shape:
                got = getattr(value, "shape", type(value).__name__)
                raise ValueError(
                    f"{name}: parameter {i} needs '{buffer}' of shape {p.shape}, got {got}"
                )
    return entries
