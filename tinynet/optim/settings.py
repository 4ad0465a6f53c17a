"""What an update rule is configured by: its declared `Setting`s, the checks they run,
the constructor signature they give, and the parameter groups that carry them.

An `Optimizer` subclass declares each setting once, in its ``settings`` table; this
module turns the table into the constructor's signature and checks every group against
it, so the optimizer itself only updates.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinynet.parameter import Parameter
from tinynet.validation import is_real, number, short

Check = Callable[[str, str, Any], Any]
"""``check(owner, name, value)``: ``value`` normalized, or ``ValueError`` naming both."""


@dataclass(frozen=True)
class Setting:
    """One setting of an update rule, declared once in its class's ``settings`` table,
    which gives the constructor's signature, every group's check, the state dict and the
    repr. ``check`` (default: a finite number >= 0) normalizes a value or raises."""

    default: Any
    check: Check = number
    keyword_only: bool = False


def between(low: float, high: float) -> Check:
    """A `Setting` check: a finite number in ``[low, high]``."""

    def check(owner: str, name: str, value: Any) -> float:
        return number(owner, name, value, low, high)

    return check


def one_of(choices: tuple[str, ...]) -> Check:
    """A `Setting` check: one of ``choices``."""

    def check(owner: str, name: str, value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{owner}: {name} must be one of {choices}, got {short(value)}")
        return str(value)

    return check


def betas(owner: str, name: str, value: Any) -> tuple[float, float]:
    """A `Setting` check: two numbers in [0, 1), as a tuple of floats (Adam's ``betas``)."""
    if not (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(is_real(b) and 0.0 <= b < 1.0 for b in value)
    ):
        raise ValueError(f"{owner}: {name} must be two numbers in [0, 1), got {short(value)}")
    return (float(value[0]), float(value[1]))


def signature(settings: Mapping[str, Setting]) -> inspect.Signature:
    """The constructor's signature for a ``settings`` table: ``(params, lr=..., ...)``."""
    kinds = inspect.Parameter
    return inspect.Signature(
        [
            kinds("params", kinds.POSITIONAL_OR_KEYWORD),
            *(
                kinds(
                    k,
                    kinds.KEYWORD_ONLY if s.keyword_only else kinds.POSITIONAL_OR_KEYWORD,
                    default=s.default,
                )
                for k, s in settings.items()
            ),
        ]
    )


def check_settings(
    owner: str, table: Mapping[str, Setting], values: Mapping[str, Any]
) -> dict[str, Any]:
    """``values`` (one per name of ``table``) checked and normalized by each `Setting`;
    ``ValueError`` naming an unknown setting or a bad value."""
    unknown = sorted(set(values) - set(table))
    if unknown:
        raise ValueError(f"{owner}: unknown settings {unknown}; it takes {list(table)}")
    return {k: s.check(owner, k, values[k]) for k, s in table.items()}


GROUP_KEYS = ("params", "initial_lr")
"""Keys of a parameter group besides the rule's settings (``initial_lr``: schedules')."""


def as_groups(owner: str, params: object) -> list[dict[str, Any]]:
    """``params`` (Parameters, or dicts with a ``"params"`` key) as a list of groups,
    each ``{"params": [Parameter, ...], ...}``; ``TypeError``/``ValueError`` otherwise."""
    if isinstance(params, (Parameter, dict)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{owner}: expected an iterable of Parameters (model.parameters()) or of "
            f"parameter groups (dicts), got {type(params).__name__}"
        )
    items = list(params)
    if not items:
        raise ValueError(f"{owner}: got an empty parameter list")
    if not any(isinstance(item, dict) for item in items):
        items = [{"params": items}]
    groups = []
    for g, group in enumerate(items):
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(
                f"{owner}: expected Parameters or parameter groups (dicts with 'params'), "
                f"got {type(group).__name__} at position {g}"
            )
        members = group["params"]
        members = [members] if isinstance(members, Parameter) else list(members)
        if not members:
            raise ValueError(f"{owner}: parameter group {g} has no parameters")
        for i, p in enumerate(members):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{owner}: expected Parameters (model.parameters()), "
                    f"got {type(p).__name__} at position {i}"
                    + (f" of group {g}" if len(items) > 1 else "")
                )
        groups.append({**group, "params": members})
    return groups


def require_trainable(owner: str, dtype: np.dtype[Any]) -> None:
    """``TypeError`` unless ``dtype`` is float32 or float64 (the message says why: doing
    float16 properly needs float32 master weights and loss scaling)."""
    if dtype.kind == "f" and dtype.itemsize >= 4:
        return
    raise TypeError(
        f"{owner}: cannot train {dtype} parameters; tinynet's optimizers need float32 or "
        f"float64 (in float16, eps 1e-8 and squared gradients below 2.4e-4 underflow to 0 "
        f"and small updates are rounded away, so training stalls or turns NaN whatever the "
        f"learning rate): train with model.astype(np.float32)"
    )


def settings_repr(name: str, defaults: Mapping[str, Any], groups: list[dict[str, Any]]) -> str:
    """``Name(lr=..., ...)``: the settings, and each group's own ones if there are several."""
    several = len(groups) > 1
    shown = defaults if several else {k: groups[0][k] for k in defaults}
    text = ", ".join(f"{k}={v}" for k, v in shown.items())
    if several:
        own = [{k: g[k] for k in defaults if g[k] != shown[k]} for g in groups]
        text += f", groups={own}"
    return f"{name}({text})"
