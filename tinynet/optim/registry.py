"""The names of tinynet's optimizers and learning-rate schedules: one table of each.

`OPTIMIZERS` (a `tinynet.registry.Registry`, as layers' and losses') holds every
`Optimizer` subclass by the name recipes use (``"adam"``...), each registered when its
class is defined; `optimizer_class` finds one by ``module.QualifiedName`` too (how
model files name them). `SCHEDULES` maps a recipe's schedule names to a
`ScheduleMaker`, which makes the schedule for a run of a given length and knows which
arguments it takes. `tinynet.recipe` and `tinynet.io.native` read these tables; no
other module lists the names.
"""

from __future__ import annotations

import bisect
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tinynet.optim.optimizer import OPTIMIZERS, Optimizer
from tinynet.optim.schedules import (
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from tinynet.registry import qualified
from tinynet.validation import number


def optimizer_class(name: object) -> type[Optimizer]:
    """The `Optimizer` subclass registered as ``name`` in `OPTIMIZERS` (``"adam"``, a
    custom ``"my_module.Lion"``), or whose ``module.QualifiedName`` it is (how model
    files name tinynet's: ``"tinynet.optim.adam.Adam"``); nothing is imported.
    `UnknownNameError` (a ``ValueError``) listing the known names otherwise."""
    for cls in OPTIMIZERS.items().values():
        if name == qualified(cls):
            return cls
    return OPTIMIZERS.get(name if isinstance(name, str) else repr(name))


def keyword_arguments(target: Callable[..., Any], skip: set[str]) -> tuple[set[str], set[str]]:
    """The keyword arguments ``target`` takes (bar ``skip`` and ``*args``/``**kwargs``),
    and those of them without a default."""
    takes, needs = set(), set()
    for p in inspect.signature(target).parameters.values():
        if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            takes.add(p.name)
            if p.default is p.empty:
                needs.add(p.name)
    return takes, needs


Scheduler = LRScheduler | ReduceLROnPlateau
RUN = {"optimizer", "steps", "per_epoch"}
"""The arguments every `ScheduleMaker.build` gets from the run, not from ``args``."""


@dataclass(frozen=True)
class ScheduleMaker:
    """How a named schedule is made for a run.

    ``build(optimizer, steps, per_epoch, **args)`` makes it for ``steps`` schedule steps
    in all, ``per_epoch`` of them an epoch (``None``: a constant rate). ``args`` may
    hold ``build``'s own keyword arguments and, with ``forwards_to`` (a schedule
    class), that class's, except the ``given`` ones that ``build`` works out itself.
    ``check(args)`` checks the values of ``build``'s own arguments (``ValueError``).
    """

    build: Callable[..., Scheduler | None]
    forwards_to: Callable[..., Any] | None = None
    given: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any]], object] | None = None

    def arguments(self) -> tuple[set[str], set[str]]:
        """The names ``args`` may hold, and those it must."""
        takes, needs = keyword_arguments(self.build, RUN)
        if self.forwards_to is not None:
            more, required = keyword_arguments(self.forwards_to, {"optimizer", *self.given})
            takes, needs = takes | more, needs | required
        return takes, needs


def _constant(optimizer: Optimizer, steps: int, per_epoch: int) -> None:
    return None


def _step(optimizer: Optimizer, steps: int, per_epoch: int, **args: Any) -> Scheduler:
    return StepLR(optimizer, **args)


def _cosine(optimizer: Optimizer, steps: int, per_epoch: int, **args: Any) -> Scheduler:
    return CosineAnnealingLR(optimizer, T_max=max(steps, 1), **args)


def _warmup_cosine(
    optimizer: Optimizer,
    steps: int,
    per_epoch: int,
    *,
    warmup: float,
    start_factor: float = 0.1,
    **args: Any,
) -> Scheduler:
    """A linear warm-up over ``warmup`` epochs (may be fractional) from ``start_factor``,
    then a cosine to ``eta_min`` at the end."""
    warm_steps = round(float(warmup) * per_epoch)
    warm = LinearLR(optimizer, float(start_factor), 1.0, total_iters=max(warm_steps, 1))
    cosine = CosineAnnealingLR(optimizer, T_max=max(steps - warm_steps, 1), **args)
    return SequentialLR(optimizer, [warm, cosine], milestones=[warm_steps])


def _check_warmup(args: Mapping[str, Any]) -> None:
    number("warmup_cosine", "warmup", args["warmup"])


def _one_cycle(optimizer: Optimizer, steps: int, per_epoch: int, **args: Any) -> Scheduler:
    return OneCycleLR(optimizer, total_steps=max(steps, 1), **args)


def _plateau(
    optimizer: Optimizer, steps: int, per_epoch: int, *, monitor: str = "", **args: Any
) -> Scheduler:
    """`ReduceLROnPlateau`; ``monitor`` (what it watches) is read by the caller."""
    return ReduceLROnPlateau(optimizer, **args)


def _piecewise(
    optimizer: Optimizer,
    steps: int,
    per_epoch: int,
    *,
    milestones: list[float],
    factors: list[float],
) -> Scheduler:
    """``factors[i]`` times each group's rate from epoch ``milestones[i - 1]`` until
    ``milestones[i]`` (Keras's ``PiecewiseConstantDecay``)."""
    epochs, scales = piecewise_steps(milestones, factors)
    bounds = [round(m * per_epoch) for m in epochs]
    return LambdaLR(optimizer, lambda t: scales[bisect.bisect_right(bounds, t)])


def piecewise_steps(milestones: object, factors: object) -> tuple[list[float], list[float]]:
    """A ``"piecewise"`` schedule's milestones (epochs, increasing, >= 0) and factors (one
    more, each finite and >= 0) as floats; ``ValueError`` naming what came otherwise."""
    if not isinstance(milestones, (list, tuple)) or not isinstance(factors, (list, tuple)):
        raise ValueError(
            f"a piecewise schedule needs lists of milestones and factors, got "
            f"milestones {milestones!r} and factors {factors!r}"
        )
    bounds = [number("piecewise", "a piecewise milestone", m) for m in milestones]
    scales = [number("piecewise", "a piecewise factor", f) for f in factors]
    if len(scales) != len(bounds) + 1 or bounds != sorted(bounds):
        raise ValueError(
            f"a piecewise schedule needs increasing milestones and one factor more, "
            f"got milestones {bounds} and factors {scales}"
        )
    return bounds, scales


SCHEDULES: dict[str, ScheduleMaker] = {
    "constant": ScheduleMaker(_constant),
    "step": ScheduleMaker(_step, StepLR),
    "cosine": ScheduleMaker(_cosine, CosineAnnealingLR, ("T_max",)),
    "warmup_cosine": ScheduleMaker(
        _warmup_cosine, CosineAnnealingLR, ("T_max",), check=_check_warmup
    ),
    "one_cycle": ScheduleMaker(_one_cycle, OneCycleLR, ("total_steps",)),
    "plateau": ScheduleMaker(_plateau, ReduceLROnPlateau),
    "piecewise": ScheduleMaker(
        _piecewise, check=lambda args: piecewise_steps(args["milestones"], args["factors"])
    ),
}
"""The schedules by their recipe names."""
