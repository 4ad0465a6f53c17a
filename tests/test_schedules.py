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


# --- OneCycleLR and ReduceLROnPlateau: PyTorch's values, float64 -------------------------

ONE_CYCLE_CASES = [
    {"max_lr": 0.5, "total_steps": 20},
    {"max_lr": 0.5, "epochs": 4, "steps_per_epoch": 5, "anneal_strategy": "linear"},
    {"max_lr": 0.2, "total_steps": 30, "three_phase": True, "pct_start": 0.25},
    {"max_lr": 1.0, "total_steps": 17, "div_factor": 10.0, "final_div_factor": 100.0},
    {"max_lr": 0.3, "total_steps": 12, "cycle_momentum": False},
]


@pytest.mark.parametrize("kwargs", ONE_CYCLE_CASES)
@pytest.mark.parametrize("kind", ["sgd", "adam"])
def test_one_cycle_matches_torch_lr_momentum_and_steps(kwargs: dict[str, Any], kind: str) -> None:
    torch = pytest.importorskip("torch")
    from tinynet.optim import Adam, OneCycleLR

    start = np.random.default_rng(0).standard_normal(5)
    ours_p = Parameter(start.copy())
    theirs_p = torch.tensor(start.copy(), requires_grad=True)
    if kind == "sgd":
        ours_opt: Any = SGD([ours_p], lr=0.1, momentum=0.9)
        theirs_opt: Any = torch.optim.SGD([theirs_p], lr=0.1, momentum=0.9)
    else:
        ours_opt = Adam([ours_p], lr=0.1)
        theirs_opt = torch.optim.Adam([theirs_p], lr=0.1)
    ours = OneCycleLR(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.OneCycleLR(theirs_opt, **kwargs)
    total = kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]
    for step in range(total):
        group = theirs_opt.param_groups[0]
        momentum = group["betas"][0] if kind == "adam" else group["momentum"]
        ours_group = ours_opt.param_groups[0]
        ours_momentum = ours_group["betas"][0] if kind == "adam" else ours_group["momentum"]
        assert ours_opt.lr == pytest.approx(group["lr"], rel=1e-12), step
        assert ours_momentum == pytest.approx(momentum, rel=1e-12), step
        grad = np.sin(np.arange(5.0) + step)  # the same gradient for both
        ours_p.grad = grad
        theirs_p.grad = torch.tensor(grad)
        ours_opt.step()
        theirs_opt.step()
        ours.step()
        theirs.step()
    np.testing.assert_allclose(ours_p.data, theirs_p.detach().numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="tried to step"):
        ours.step()


def test_one_cycle_refuses_what_cannot_run() -> None:
    from tinynet.optim import OneCycleLR

    with pytest.raises(ValueError, match="give total_steps, or epochs and steps_per_epoch"):
        OneCycleLR(optimizer(), max_lr=1.0)
    with pytest.raises(ValueError, match="too few for pct_start"):
        OneCycleLR(optimizer(), max_lr=1.0, total_steps=3)
    plain = optimizer()
    OneCycleLR(plain, max_lr=1.0, total_steps=10)  # PyTorch sets SGD's momentum too
    assert plain.param_groups[0]["momentum"] == 0.95


def test_one_cycle_state_dict_restores_lr_and_momentum() -> None:
    from tinynet.optim import OneCycleLR

    saved_opt = SGD([Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
    saved = OneCycleLR(saved_opt, max_lr=1.0, total_steps=20)
    lrs(saved, 7)
    resumed_opt = SGD([Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
    resumed = OneCycleLR(resumed_opt, max_lr=1.0, total_steps=20)
    resumed.load_state_dict(saved.state_dict())
    assert resumed_opt.state_dict()["param_groups"] == saved_opt.state_dict()["param_groups"]


PLATEAU_CASES = [
    {},
    {"mode": "max", "factor": 0.5, "patience": 1},
    {"patience": 0, "cooldown": 2, "factor": 0.5, "min_lr": 0.02},
    {"threshold_mode": "abs", "threshold": 0.05, "patience": 1},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.1, "patience": 2, "cooldown": 1},
]


@pytest.mark.parametrize("kwargs", PLATEAU_CASES)
def test_reduce_lr_on_plateau_matches_torch(kwargs: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    from tinynet.optim import ReduceLROnPlateau

    rng = np.random.default_rng(1)
    values = np.concatenate([np.linspace(1.0, 0.5, 6), 0.5 + 0.02 * rng.standard_normal(30)])
    values[20] = np.nan  # never an improvement, as in PyTorch
    ours_opt = optimizer(0.1)
    theirs_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    ours = ReduceLROnPlateau(ours_opt, **kwargs)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs_opt, **kwargs)
    for epoch, value in enumerate(values):
        ours.step(float(value))
        theirs.step(float(value))
        assert ours_opt.lr == theirs_opt.param_groups[0]["lr"], epoch
        assert ours.num_bad_epochs == theirs.num_bad_epochs, epoch
    assert ours_opt.lr < 0.1  # the case reduced at least once


def test_reduce_lr_on_plateau_through_fit_watches_the_monitored_value() -> None:
    from tinynet import Dense, MSELoss
    from tinynet.callbacks import LearningRateScheduler
    from tinynet.optim import ReduceLROnPlateau
    from tinynet.train import fit

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = rng.standard_normal((64, 1)).astype(np.float32)  # noise: the loss plateaus at once
    model = Dense(2, 1, seed=0)
    opt = SGD(model.parameters(), lr=0.01)
    plateau = ReduceLROnPlateau(opt, patience=0, factor=0.5, threshold=0.5)
    history = fit(
        model,
        x,
        y,
        loss=MSELoss(),
        optimizer=opt,
        epochs=4,
        batch_size=64,
        verbose=0,
        callbacks=[LearningRateScheduler(plateau, monitor="loss")],
    )
    # epoch 1 sets the best; each later one fails to beat it by half: halve every epoch
    assert history["lr"] == [0.01, 0.01, 0.005, 0.0025]
    with pytest.raises(ValueError, match="steps once per epoch"):
        LearningRateScheduler(plateau, per="batch")
