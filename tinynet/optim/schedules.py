"""Learning-rate schedules (PyTorch's ``lr_scheduler`` names and formulas).

A scheduler sets ``optimizer.lr`` to a closed-form function of how many times its
``step()`` was called: once per epoch, or once per batch, as you choose. Any
optimizer works with any schedule; `SequentialLR` chains schedules (warm-up, then
cosine). Schedules start from the optimizer's ``initial_lr``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from tinynet.optim.optimizer import Optimizer
from tinynet.validation import is_integer, number, short


class LRScheduler(ABC):
    """Base: ``step()`` advances ``last_epoch`` and sets ``optimizer.lr = lr_at(last_epoch)``."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {optimizer!r}")
        self.optimizer = optimizer
        self.base_lr = optimizer.initial_lr
        self.last_epoch = 0
        optimizer.lr = self.lr_at(0)

    @abstractmethod
    def lr_at(self, t: int) -> float:
        """The learning rate after ``t`` calls of ``step()``."""

    def step(self) -> None:
        """Advance one epoch (or batch) and set the optimizer's learning rate."""
        self.last_epoch += 1
        self.optimizer.lr = self.lr_at(self.last_epoch)

    def get_last_lr(self) -> float:
        """The learning rate set last."""
        return self.optimizer.lr

    def state_dict(self) -> dict[str, Any]:
        """``{"last_epoch": int, "base_lr": float}``: all a closed-form schedule needs."""
        return {"last_epoch": self.last_epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` and set the optimizer's learning rate to match; ``ValueError``
        (nothing changed) unless ``last_epoch`` is an integer >= 0 and ``base_lr`` a
        finite number >= 0."""
        last_epoch = state["last_epoch"]
        if not (is_integer(last_epoch) and last_epoch >= 0):
            raise ValueError(
                f"{type(self).__name__}: the saved last_epoch must be an integer >= 0, "
                f"got {short(last_epoch)}"
            )
        base_lr = number(type(self).__name__, "the saved base_lr", state["base_lr"])
        self.last_epoch = int(last_epoch)
        self.base_lr = base_lr
        self.optimizer.lr = self.lr_at(self.last_epoch)


def _positive_int(owner: str, name: str, value: int) -> int:
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return value


class StepLR(LRScheduler):
    """``base_lr * gamma ** (t // step_size)``: decay by ``gamma`` every ``step_size`` steps."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * self.gamma ** (t // self.step_size)


class CosineAnnealingLR(LRScheduler):
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2``, flat after T_max."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        self.T_max = _positive_int("CosineAnnealingLR", "T_max", T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        progress = min(t, self.T_max) / self.T_max
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


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
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        progress = min(t, self.total_iters) / self.total_iters
        return self.base_lr * (self.start_factor + (self.end_factor - self.start_factor) * progress)


class LambdaLR(LRScheduler):
    """``base_lr * lr_lambda(t)`` for any function of the step count."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def lr_at(self, t: int) -> float:
        return self.base_lr * float(self.lr_lambda(t))


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

    def lr_at(self, t: int) -> float:
        index = sum(1 for m in self.milestones if m <= t)
        start = self.milestones[index - 1] if index else 0
        return self.schedulers[index].lr_at(t - start)
