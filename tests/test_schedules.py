"""Learning-rate schedules: closed forms, PyTorch's values, state dicts, effect on steps."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinynet import Parameter
from tinynet.optim import (
    SGD,
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
)


def optimizer(lr: float = 0.1) -> SGD:
    return SGD([Parameter(np.zeros(2))], lr=lr)


def lrs(schedule: LRScheduler, steps: int) -> list[float]:
    """The learning rate before any step, then after each of ``steps`` calls of step()."""
    values = [schedule.optimizer.lr]
    for _ in range(steps):
        schedule.step()
        values.append(schedule.optimizer.lr)
    return values


def test_step_lr_closed_form() -> None:
    # 0.1 * 0.5 ** (t // 3)
    expected = [0.1] * 3 + [0.05] * 3 + [0.025] * 3 + [0.0125]
    np.testing.assert_allclose(lrs(StepLR(optimizer(), step_size=3, gamma=0.5), 9), expected)


def test_cosine_annealing_closed_form_and_flat_after_t_max() -> None:
    schedule = CosineAnnealingLR(optimizer(), T_max=10, eta_min=0.001)
    values = lrs(schedule, 12)
    # eta_min + (0.1 - eta_min) (1 + cos(pi t / 10)) / 2
    assert values[0] == pytest.approx(0.1, rel=1e-15)
    assert values[5] == pytest.approx(0.001 + 0.099 * 0.5, rel=1e-14)  # cos(pi/2) = 0
    assert values[10] == pytest.approx(0.001, rel=1e-14)  # cos(pi) = -1
    assert values[2] == pytest.approx(0.001 + 0.099 * (1 + math.cos(0.2 * math.pi)) / 2)
    assert values[11] == values[12] == values[10]  # documented: flat after T_max


def test_linear_lr_closed_form() -> None:
    schedule = LinearLR(optimizer(), start_factor=0.25, end_factor=1.0, total_iters=4)
    # factor 0.25 + 0.75 * min(t, 4) / 4: 0.25, 0.4375, 0.625, 0.8125, 1, 1
    np.testing.assert_allclose(lrs(schedule, 5), [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1])


def test_linear_lr_can_decay() -> None:
    schedule = LinearLR(optimizer(), start_factor=1.0, end_factor=0.0, total_iters=2)
    np.testing.assert_allclose(lrs(schedule, 3), [0.1, 0.05, 0.0, 0.0])


def test_lambda_lr_closed_form() -> None:
    schedule = LambdaLR(optimizer(), lambda t: 1 / (1 + t))
    np.testing.assert_allclose(lrs(schedule, 3), [0.1, 0.05, 0.1 / 3, 0.025])


def test_sequential_lr_warm_up_then_cosine() -> None:
    opt = optimizer()
    warm_up = LinearLR(opt, start_factor=0.1, total_iters=3)
    cosine = CosineAnnealingLR(opt, T_max=4)
    schedule = SequentialLR(opt, [warm_up, cosine], milestones=[3])
    values = lrs(schedule, 8)
    # warm-up for t = 0, 1, 2: 0.1 * (0.1 + 0.9 t / 3) = 0.01, 0.04, 0.07
    np.testing.assert_allclose(values[:3], [0.01, 0.04, 0.07])
    # from the milestone the cosine counts from 0: 0.1 (1 + cos(pi s / 4)) / 2, s = t - 3
    cos = [0.05 * (1 + math.cos(math.pi * s / 4)) for s in range(5)]
    np.testing.assert_allclose(values[3:8], cos, atol=1e-17)
    assert values[8] == values[7]


def test_a_schedule_drives_the_optimizers_steps() -> None:
    p = Parameter(np.array([1.0]))
    opt = SGD([p], lr=0.1)
    schedule = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad[...] = 1.0
        opt.step()
        schedule.step()
    # steps of 0.1, 0.05, 0.025
    assert p.data[0] == pytest.approx(1 - 0.175, rel=1e-15)
    assert schedule.get_last_lr() == 0.0125


def test_schedules_start_from_initial_lr_even_if_lr_was_changed() -> None:
    opt = optimizer(0.1)
    opt.lr = 0.7
    assert StepLR(opt, step_size=2).get_last_lr() == 0.1


# --- state dicts ----------------------------------------------------------------------

MAKERS: list[Callable[[SGD], LRScheduler]] = [
    lambda o: StepLR(o, step_size=2, gamma=0.3),
    lambda o: CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    lambda o: LinearLR(o, start_factor=0.2, total_iters=5),
    lambda o: LambdaLR(o, lambda t: 0.9**t),
    lambda o: SequentialLR(
        o, [LinearLR(o, 0.1, total_iters=2), CosineAnnealingLR(o, T_max=6)], milestones=[2]
    ),
]


@pytest.mark.parametrize("make", MAKERS)
def test_state_dict_round_trip(make: Callable[[SGD], LRScheduler]) -> None:
    straight = make(optimizer())
    expected = lrs(straight, 9)
    first = make(optimizer())
    lrs(first, 4)
    resumed_opt = optimizer()
    resumed = make(resumed_opt)
    resumed.load_state_dict(first.state_dict())
    assert resumed_opt.lr == expected[4]
    assert lrs(resumed, 5) == expected[4:]


# --- PyTorch's values, where torch is installed ---------------------------------------

TORCH_CASES: list[tuple[Callable[[SGD], LRScheduler], Callable[[Any, Any], Any], int]] = [
    (
        lambda o: StepLR(o, step_size=3, gamma=0.5),
        lambda s, o: s.StepLR(o, step_size=3, gamma=0.5),
        12,
    ),
    (
        lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        lambda s, o: s.CosineAnnealingLR(o, T_max=10, eta_min=0.001),
        10,  # torch's cosine is periodic after T_max; ours stays flat (documented)
    ),
    (
        lambda o: LinearLR(o, start_factor=0.25, total_iters=4),
        lambda s, o: s.LinearLR(o, start_factor=0.25, total_iters=4),
        8,
    ),
    (
        lambda o: LambdaLR(o, lambda t: 0.95**t),
        lambda s, o: s.LambdaLR(o, lambda t: 0.95**t),
        8,
    ),
    (
        lambda o: SequentialLR(
            o,
            [LinearLR(o, start_factor=0.1, total_iters=3), CosineAnnealingLR(o, T_max=8)],
            milestones=[3],
        ),
        lambda s, o: s.SequentialLR(
            o,
            [s.LinearLR(o, start_factor=0.1, total_iters=3), s.CosineAnnealingLR(o, T_max=8)],
            milestones=[3],
        ),
        11,
    ),
]


@pytest.mark.parametrize(("ours", "theirs", "steps"), TORCH_CASES)
def test_schedules_match_torch(
    ours: Callable[[SGD], LRScheduler], theirs: Callable[[Any, Any], Any], steps: int
) -> None:
    torch = pytest.importorskip("torch")
    reference_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    reference = theirs(torch.optim.lr_scheduler, reference_opt)
    expected = [reference.get_last_lr()[0]]
    for _ in range(steps):
        reference_opt.step()
        reference.step()
        expected.append(reference.get_last_lr()[0])
    np.testing.assert_allclose(lrs(ours(optimizer()), steps), expected, rtol=1e-12, atol=1e-17)


def test_load_state_dict_restores_the_base_lr() -> None:
    saved = StepLR(optimizer(0.1), step_size=2, gamma=0.5)
    lrs(saved, 3)  # t = 3: 0.1 * 0.5 ** 1
    resumed_opt = optimizer(1.0)
    resumed = StepLR(resumed_opt, step_size=2, gamma=0.5)
    resumed.load_state_dict(saved.state_dict())
    assert resumed_opt.lr == 0.05
    resumed.step()  # t = 4: 0.1 * 0.5 ** 2, from the saved base, not the new optimizer's
    assert resumed_opt.lr == 0.025
