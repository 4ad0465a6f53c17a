"""Learning-rate schedules (PyTorch's ``lr_scheduler`` names and formulas).

A scheduler sets each parameter group's ``lr`` to a closed-form function of how many
times its ``step()`` was called (once per epoch, or once per batch, as you choose) and
of the group's own ``initial_lr``: two groups at 1e-2 and 1e-3 keep their ratio, as in
PyTorch. Any optimizer works with any schedule; `SequentialLR` chains schedules
(warm-up, then cosine). `OneCycleLR` gives every group the rates of its own ``max_lr``.
`ReduceLROnPlateau` is the exception: it reacts to a monitored value, not to the step
count, and divides every group's rate.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from tinynet.optim.optimizer import Optimizer
from tinynet.validation import is_integer, number, positive_int, short


class LRScheduler(ABC):
    """Base: ``step()`` advances ``last_epoch`` and sets each parameter group's ``lr`` to
    ``lr_at(last_epoch, base)``, ``base`` the group's entry of ``base_lrs`` (its
    ``initial_lr`` when the schedule was made)."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {optimizer!r}")
        self.optimizer = optimizer
        self.base_lrs = self._start_lrs()
        self.last_epoch = 0
        self._set_lrs()

    def _start_lrs(self) -> list[float]:
        """Each group's base rate: its ``initial_lr``."""
        return [float(group["initial_lr"]) for group in self.optimizer.param_groups]

    @abstractmethod
    def lr_at(self, t: int, base_lr: float) -> float:
        """The learning rate after ``t`` calls of ``step()`` of a group starting at ``base_lr``."""

    @property
    def base_lr(self) -> float:
        """The first group's base rate."""
        return self.base_lrs[0]

    def _set_lrs(self) -> None:
        groups = self.optimizer.param_groups[: len(self.base_lrs)]  # not those added since
        for group, base_lr in zip(groups, self.base_lrs, strict=True):
            group["lr"] = self.lr_at(self.last_epoch, base_lr)

    def step(self) -> None:
        """Advance one epoch (or batch) and set every group's learning rate."""
        self.last_epoch += 1
        self._set_lrs()

    def get_last_lr(self) -> float:
        """The first group's learning rate, set last (every group's: ``param_groups``)."""
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        """``{"last_epoch": int, "base_lrs": [float, ...]}``: all a closed-form schedule needs."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` and set the groups' learning rates to match; ``ValueError``
        (nothing changed) unless ``last_epoch`` is an integer >= 0 and ``base_lrs`` one
        finite number >= 0 per group (a state from before groups has one ``base_lr``)."""
        name = type(self).__name__
        last_epoch = state["last_epoch"]
        if not (is_integer(last_epoch) and last_epoch >= 0):
            raise ValueError(
                f"{name}: the saved last_epoch must be an integer >= 0, got {short(last_epoch)}"
            )
        groups = len(self.base_lrs)
        saved = state["base_lrs"] if "base_lrs" in state else [state["base_lr"]] * groups
        if not isinstance(saved, list) or len(saved) != groups:
            raise ValueError(
                f"{name}: the saved base_lrs must be a list of {groups} numbers (one per "
                f"parameter group), got {short(saved)}"
            )
        base_lrs = [number(name, "a saved base_lr", lr) for lr in saved]
        self.last_epoch = int(last_epoch)
        self.base_lrs = base_lrs
        self._set_lrs()


class StepLR(LRScheduler):
    """``base_lr * gamma ** (t // step_size)``: decay by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = positive_int("StepLR", "step_size", step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``, flat after T_max."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        progress = min(t, self.T_max) / self.T_max
        return self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


class LinearLR(LRScheduler):
    """Linear warm-up (or decay): the factor goes from ``start_factor`` to ``end_factor``
    over ``total_iters`` steps, then stays: ``base_lr * factor``."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
    ) -> None:
        if not (0 < start_factor <= 1 and 0 <= end_factor <= 1):
            raise ValueError("LinearLR: expected 0 < start_factor <= 1 and 0 <= end_factor <= 1")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        progress = min(t, self.total_iters) / self.total_iters
        return base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class LambdaLR(LRScheduler):
    """``base_lr * lr_lambda(t)`` for any function of the step count."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        return base_lr * float(self.lr_lambda(t))


class SequentialLR(LRScheduler):
    """Run ``schedulers`` one after another, switching at ``milestones`` (PyTorch's).

    Scheduler ``i`` is used from step ``milestones[i-1]`` and counts its own steps from
    there, e.g. ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=2),
    CosineAnnealingLR(opt, T_max=18)], milestones=[2])``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: Sequence[LRScheduler],
        milestones: Sequence[int],
    ) -> None:
        if len(milestones) != len(schedulers) - 1 or list(milestones) != sorted(milestones):
            raise ValueError(
                "SequentialLR: expected increasing milestones, one fewer than schedulers, "
                f"got {len(schedulers)} schedulers and milestones {list(milestones)}"
            )
        if any(s.optimizer is not optimizer for s in schedulers):
            raise ValueError("SequentialLR: every scheduler must drive the same optimizer")
        self.schedulers = list(schedulers)
        self.milestones = [int(m) for m in milestones]
        super().__init__(optimizer)

    def lr_at(self, t: int, base_lr: float) -> float:
        index = sum(1 for m in self.milestones if m <= t)
        start = self.milestones[index - 1] if index else 0
        return self.schedulers[index].lr_at(t - start, base_lr)


ANNEAL_STRATEGIES = ("cos", "linear")


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin), PyTorch's ``OneCycleLR``, stepped every batch.

    The learning rate rises from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then falls to
    ``max_lr / div_factor / final_div_factor``, by a cosine (``anneal_strategy="cos"``:
    ``end + (start - end) * (1 + cos(pi * pct)) / 2``) or linearly; ``three_phase``
    adds PyTorch's symmetric descent back to the initial rate before the final fall.
    Each phase ends at PyTorch's step (``pct_start * total_steps - 1``, ...). With
    ``cycle_momentum`` the momentum (SGD's and RMSProp's ``momentum``, Adam's first
    beta) moves the other way between ``max_momentum`` and ``base_momentum``; as in
    PyTorch it is set from the start, even on an SGD made without momentum. Stepping
    more than ``total_steps`` times is a ``ValueError``. ``max_lr`` may be one number
    per parameter group (PyTorch's list); these are the schedule's ``base_lrs``.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float = 0.85,
        max_momentum: float = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
    ) -> None:
        name = "OneCycleLR"
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
            total_steps = positive_int(name, "epochs", epochs) * positive_int(
                name, "steps_per_epoch", steps_per_epoch
            )
        self.total_steps = positive_int(name, "total_steps", total_steps)
        if not 0 <= pct_start <= 1:
            raise ValueError(f"{name}: expected pct_start in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ANNEAL_STRATEGIES:
            raise ValueError(
                f"{name}: anneal_strategy must be one of {ANNEAL_STRATEGIES}, "
                f"got {anneal_strategy!r}"
            )
        groups = len(optimizer.param_groups)
        self.max_lrs = [
            float(lr) for lr in (max_lr if isinstance(max_lr, Sequence) else [max_lr] * groups)
        ]
        if len(self.max_lrs) != groups:
            raise ValueError(
                f"{name}: expected one max_lr or one per parameter group ({groups}), "
                f"got {len(self.max_lrs)}"
            )
        self.div_factor, self.final_div_factor = float(div_factor), float(final_div_factor)
        self.anneal_strategy = anneal_strategy
        self.base_momentum, self.max_momentum = float(base_momentum), float(max_momentum)
        self.cycle_momentum = bool(cycle_momentum)
        self.phases = self._phases(float(pct_start), bool(three_phase))
        if self.cycle_momentum and not _has_momentum(optimizer):
            raise ValueError(
                f"{name}: {type(optimizer).__name__} has no momentum or beta1 to cycle; "
                f"pass cycle_momentum=False"
            )
        super().__init__(optimizer)
        self._set_momentum(0)

    def _start_lrs(self) -> list[float]:
        return list(self.max_lrs)

    def _phases(
        self, pct_start: float, three_phase: bool
    ) -> list[tuple[float, str, str, float, float]]:
        """Each phase's (last step, start and end rate by name (``_rates``), start and end
        momentum)."""
        up, total = pct_start * self.total_steps - 1, float(self.total_steps - 1)
        mo, base = self.max_momentum, self.base_momentum
        if three_phase:
            phases = [
                (up, "initial", "max", mo, base),
                (2 * pct_start * self.total_steps - 2, "max", "initial", base, mo),
                (total, "initial", "min", mo, mo),
            ]
        else:
            phases = [(up, "initial", "max", mo, base), (total, "max", "min", base, mo)]
        ends = [0.0, *(phase[0] for phase in phases)]
        if any(not end > start for start, end in itertools.pairwise(ends)):
            raise ValueError(
                f"OneCycleLR: total_steps={self.total_steps} is too few for pct_start="
                f"{pct_start}: a phase would last no step"
            )
        return phases

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _rates(self, max_lr: float) -> dict[str, float]:
        """The rates a phase starts and ends at, for a group peaking at ``max_lr``."""
        initial = max_lr / self.div_factor
        return {"initial": initial, "max": max_lr, "min": initial / self.final_div_factor}

    def _at(self, t: int, max_lr: float) -> tuple[float, float]:
        """(learning rate, momentum) after ``t`` steps, PyTorch's phase arithmetic."""
        if t > self.total_steps:
            raise ValueError(
                f"OneCycleLR: tried to step {t} times; the specified number of total steps "
                f"is {self.total_steps}"
            )
        start = 0.0
        for i, (end, lr_start, lr_end, mo_start, mo_end) in enumerate(self.phases):
            if t <= end or i == len(self.phases) - 1:
                pct = (t - start) / (end - start)
                rates = self._rates(max_lr)
                return (
                    self._anneal(rates[lr_start], rates[lr_end], pct),
                    self._anneal(mo_start, mo_end, pct),
                )
            start = end
        raise AssertionError("unreachable")  # pragma: no cover

    def lr_at(self, t: int, base_lr: float) -> float:
        return self._at(t, base_lr)[0]

    def _set_momentum(self, t: int) -> None:
        if not self.cycle_momentum:
            return
        momentum = self._at(t, self.max_lrs[0])[1]
        for group in self.optimizer.param_groups:
            if "betas" in group:
                group["betas"] = (momentum, *group["betas"][1:])
            else:
                group["momentum"] = momentum

    def step(self) -> None:
        super().step()
        self._set_momentum(self.last_epoch)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "base_lrs" not in state:  # saved before groups: the rates came from max_lr alone
            state = {**state, "base_lrs": self.max_lrs}
        super().load_state_dict(state)
        self._set_momentum(self.last_epoch)


def _has_momentum(optimizer: Optimizer) -> bool:
    return "betas" in optimizer.settings or "momentum" in optimizer.settings


PLATEAU_MODES = ("min", "max")
THRESHOLD_MODES = ("rel", "abs")


class ReduceLROnPlateau:
    """Divide the learning rate when a monitored value stops improving (PyTorch's).

    ``step(value)`` once per epoch with the value (say the validation loss). A value is
    better than the best so far if, for ``mode="min"`` and ``threshold_mode="rel"``, it
    is below ``best * (1 - threshold)`` (``"abs"``: below ``best - threshold``; ``"max"``
    mirrors both); NaN never is. After more than ``patience`` epochs without a better
    value, each group's ``lr = max(lr * factor, min_lr)`` (if that changes it by more
    than ``eps``),
    then ``cooldown`` epochs pass before bad epochs count again. Not a closed-form
    schedule, so not an `LRScheduler`; `tinynet.callbacks.LearningRateScheduler` steps
    it with its ``monitor`` (Keras's ``ReduceLROnPlateau`` callback is that pair).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float = 0.0,
        eps: float = 1e-8,
    ) -> None:
        name = "ReduceLROnPlateau"
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected an Optimizer, got {optimizer!r}")
        if not 0 <= factor < 1:
            raise ValueError(f"{name}: factor must be in [0, 1), got {factor!r}")
        if mode not in PLATEAU_MODES or threshold_mode not in THRESHOLD_MODES:
            raise ValueError(
                f"{name}: mode must be one of {PLATEAU_MODES} and threshold_mode one of "
                f"{THRESHOLD_MODES}, got {mode!r} and {threshold_mode!r}"
            )
        for what, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: {what} must be an integer >= 0, got {value!r}")
        self.optimizer = optimizer
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.threshold = float(factor), float(threshold)
        self.patience, self.cooldown = patience, cooldown
        self.min_lr, self.eps = float(min_lr), float(eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by the threshold."""
        relative, t = self.threshold_mode == "rel", self.threshold
        if self.mode == "min":
            return value < (best * (1 - t) if relative else best - t)
        return value > (best * (1 + t) if relative else best + t)

    def step(self, value: float) -> None:
        """Record one epoch's monitored ``value``; reduce the learning rate if it is time."""
        current = float(value)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                new_lr = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0

    def get_last_lr(self) -> float:
        """The first group's learning rate now."""
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        """The counters, the best value (``None`` for none yet) and every group's rate."""
        return {
            "best": self.best if math.isfinite(self.best) else None,
            "num_bad_epochs": self.num_bad_epochs,
            "cooldown_counter": self.cooldown_counter,
            "last_epoch": self.last_epoch,
            "lrs": [group["lr"] for group in self.optimizer.param_groups],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict`, the groups' learning rates included (a state from before
        groups has one ``lr``, for every group)."""
        groups = self.optimizer.param_groups
        lrs = state["lrs"] if "lrs" in state else [state["lr"]] * len(groups)
        if not isinstance(lrs, list) or len(lrs) != len(groups):
            raise ValueError(
                f"ReduceLROnPlateau: the saved lrs must be a list of {len(groups)} numbers "
                f"(one per parameter group), got {short(lrs)}"
            )
        checked = [number("ReduceLROnPlateau", "a saved lr", lr) for lr in lrs]
        best = state["best"]
        worst = math.inf if self.mode == "min" else -math.inf
        self.best = worst if best is None else float(best)
        self.num_bad_epochs = int(state["num_bad_epochs"])
        self.cooldown_counter = int(state["cooldown_counter"])
        self.last_epoch = int(state["last_epoch"])
        for group, lr in zip(groups, checked, strict=True):
            group["lr"] = lr
