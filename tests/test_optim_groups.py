"""Parameter groups and freezing, against ``torch.optim`` in float64, and their state dicts."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from helpers import edit_header

import tinynet
from tinynet import CrossEntropyLoss, Dense, Parameter, ReLU, Sequential
from tinynet.blocks import pack
from tinynet.callbacks import LearningRateScheduler
from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint
from tinynet.optim import (
    SGD,
    Adam,
    AdamW,
    CosineAnnealingLR,
    LinearLR,
    Momentum,
    OneCycleLR,
    Optimizer,
    ReduceLROnPlateau,
    RMSProp,
    StepLR,
)
from tinynet.registry import UnknownNameError, is_builtin
from tinynet.train import fit

SHAPES = [(3, 4), (4,), (2, 3), (5,)]


def start_values() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.standard_normal(shape) for shape in SHAPES]


def gradient(step: int, i: int, shape: tuple[int, ...]) -> np.ndarray:
    """A deterministic, step-dependent gradient for parameter ``i``."""
    return np.sin(np.arange(np.prod(shape), dtype=np.float64).reshape(shape) * (i + 1) + step)


def groups_of(params: list[Any], first: dict[str, Any]) -> list[dict[str, Any]]:
    """Two groups: parameters 0 and 2 with ``first``'s settings, 1 and 3 with the defaults
    (a group spread over a packed block, so spans are cut per parameter)."""
    return [{"params": [params[0], params[2]], **first}, {"params": [params[1], params[3]]}]


# (ours, torch's name, defaults, the first group's own settings)
CASES: list[tuple[type[Optimizer], str, dict[str, Any], dict[str, Any]]] = [
    (SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3}, {"lr": 0.03}),
    (
        SGD,
        "SGD",
        {"lr": 0.1, "momentum": 0.8, "nesterov": True},
        {"lr": 0.02, "weight_decay": 0.05, "momentum": 0.5},
    ),
    (Adam, "Adam", {"lr": 1e-2, "weight_decay": 1e-3}, {"lr": 5e-2, "weight_decay": 0.1}),
    (AdamW, "AdamW", {"lr": 1e-2}, {"lr": 3e-2, "weight_decay": 0.2, "betas": (0.8, 0.99)}),
    (RMSProp, "RMSprop", {"lr": 1e-2, "momentum": 0.9}, {"lr": 2e-3, "centered": True}),
]


def run_torch(name: str, defaults: dict[str, Any], first: dict[str, Any], steps: int) -> list[Any]:
    torch = pytest.importorskip("torch")
    params = [torch.tensor(v, requires_grad=True) for v in start_values()]
    optimizer = getattr(torch.optim, name)(groups_of(params, first), **defaults)
    for step in range(steps):
        for i, p in enumerate(params):
            p.grad = torch.tensor(gradient(step, i, SHAPES[i]))
        optimizer.step()
    return [p.detach().numpy() for p in params]


def run_ours(
    cls: type[Optimizer],
    defaults: dict[str, Any],
    first: dict[str, Any],
    steps: int,
    how: str = "groups",
) -> tuple[list[Parameter], Optimizer]:
    """``how``: groups given to the constructor, the same after the parameters were
    packed together (so each group's spans are cut), or the second group added later."""
    params = [Parameter(v) for v in start_values()]
    if how == "prepacked":
        pack(params)
    groups = groups_of(params, first)
    optimizer = cls(groups[:1] if how == "added" else groups, **defaults)
    if how == "added":
        optimizer.add_param_group(groups[1])
    for step in range(steps):
        for i, p in enumerate(params):
            p.grad = gradient(step, i, p.shape)
        optimizer.step()
    return params, optimizer


@pytest.mark.parametrize("how", ["groups", "prepacked", "added"])
@pytest.mark.parametrize(("cls", "name", "defaults", "first"), CASES)
def test_two_groups_match_torch_optim(
    cls: type[Optimizer], name: str, defaults: dict[str, Any], first: dict[str, Any], how: str
) -> None:
    expected = run_torch(name, defaults, first, steps=7)
    params, optimizer = run_ours(cls, defaults, first, steps=7, how=how)
    assert len(optimizer.spans) == (4 if how == "prepacked" else 2)
    for p, want in zip(params, expected, strict=True):
        np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-13)
    assert [len(g["params"]) for g in optimizer.param_groups] == [2, 2]
    assert optimizer.param_groups[0]["lr"] == first["lr"]
    assert optimizer.param_groups[1]["lr"] == defaults["lr"]  # the constructor's default


def test_a_frozen_parameter_is_skipped_as_torch_skips_one_without_gradient() -> None:
    """Parameter 1 frozen for steps 2-4, then trained again: its own step count (Adam's
    bias correction) lags, as PyTorch's per-parameter ``step``."""
    torch = pytest.importorskip("torch")
    theirs = [torch.tensor(v, requires_grad=True) for v in start_values()]
    reference = torch.optim.Adam(theirs, lr=0.05, weight_decay=0.1)
    ours = [Parameter(v) for v in start_values()]
    optimizer = Adam(ours, lr=0.05, weight_decay=0.1)
    for step in range(8):
        frozen = 2 <= step <= 4
        ours[1].requires_grad = not frozen
        before = ours[1].data.copy()
        for i, (mine, their) in enumerate(zip(ours, theirs, strict=True)):
            mine.grad = gradient(step, i, mine.shape)  # a frozen one's gradient is ignored
            their.grad = None if frozen and i == 1 else torch.tensor(gradient(step, i, mine.shape))
        optimizer.step()
        reference.step()
        if frozen:
            np.testing.assert_array_equal(ours[1].data, before)
    for mine, their in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine.data, their.detach().numpy(), rtol=1e-12, atol=1e-13)
    counts = {i: entry["step"] for i, entry in optimizer.state_dict()["state"].items()}
    assert counts == {0: 8, 1: 5, 2: 8, 3: 8}


def blobs(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 4)) + y[:, None]
    return x, y


@pytest.mark.parametrize(
    "make",
    [
        lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        lambda p: AdamW(p, lr=0.01),
        lambda p: RMSProp(p, lr=0.01, momentum=0.5, weight_decay=0.01),
    ],
)
def test_a_frozen_layer_is_bit_identical_after_fit(make: Callable[[Any], Optimizer]) -> None:
    model = Sequential(Dense(4, 8, seed=0), ReLU(), Dense(8, 3, seed=1)).astype(np.float64)
    assert model[0].requires_grad_(False) is model[0]
    frozen = [p.data.copy() for p in model[0].parameters()]
    trained = [p.data.copy() for p in model[2].parameters()]
    optimizer = make(model.parameters())  # over every parameter, with weight decay
    x, y = blobs()
    fit(model, x, y, loss=CrossEntropyLoss(), optimizer=optimizer, epochs=3, seed=0, verbose=0)
    for p, before in zip(model[0].parameters(), frozen, strict=True):
        np.testing.assert_array_equal(p.data, before)
    for p, before in zip(model[2].parameters(), trained, strict=True):
        assert not np.allclose(p.data, before)
    assert set(optimizer.state_dict()["state"]) == {2, 3}  # no state for the frozen two
    model[0].requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_requires_grad_must_be_a_bool_and_survives_pickling() -> None:
    import pickle

    p = Parameter(np.zeros(2))
    assert p.requires_grad is True
    with pytest.raises(TypeError, match="requires_grad: expected True or False, got 0"):
        p.requires_grad = 0  # type: ignore[assignment]
    p.requires_grad = False
    assert pickle.loads(pickle.dumps(p)).requires_grad is False


# --- state dicts ---------------------------------------------------------------------


def test_state_dict_round_trip_with_groups_continues_the_same_run() -> None:
    defaults, first = {"lr": 1e-2, "weight_decay": 1e-3}, {"lr": 5e-2, "betas": (0.8, 0.9)}
    straight, _ = run_ours(Adam, defaults, first, steps=6)
    params, optimizer = run_ours(Adam, defaults, first, steps=3)
    saved = optimizer.state_dict()
    assert [g["params"] for g in saved["param_groups"]] == [[0, 1], [2, 3]]
    assert saved["param_groups"][0]["betas"] == (0.8, 0.9)
    assert saved["param_groups"][1]["betas"] == (0.9, 0.999)
    assert set(saved["state"]) == {0, 1, 2, 3}
    assert saved["state"][1]["exp_avg"].shape == SHAPES[2]  # position 1 is parameter 2
    copies = [Parameter(p.data.copy()) for p in params]
    resumed = Adam(groups_of(copies, {}), **defaults)  # the settings come from the state
    resumed.load_state_dict(saved)
    assert resumed.state_dict()["param_groups"] == saved["param_groups"]
    for step in range(3, 6):
        for i, p in enumerate(copies):
            p.grad = gradient(step, i, p.shape)
        resumed.step()
    for p, want in zip(copies, straight, strict=True):
        np.testing.assert_array_equal(p.data, want.data)


def test_load_state_dict_refuses_other_groups_and_changes_nothing() -> None:
    _, optimizer = run_ours(SGD, {"lr": 0.1, "momentum": 0.9}, {"lr": 0.01}, steps=2)
    saved = optimizer.state_dict()
    params = [Parameter(v) for v in start_values()]
    one_group = SGD(params, lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"parameter groups hold \[2, 2\] parameters, .* \[4\]"):
        one_group.load_state_dict(saved)
    bad = {
        **saved,
        "param_groups": [{**saved["param_groups"][0], "lr": -1}, saved["param_groups"][1]],
    }
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got -1"):
        optimizer.load_state_dict(bad)
    assert optimizer.state_dict()["param_groups"] == saved["param_groups"]
    with pytest.raises(ValueError, match=r"unexpected state entry 9"):
        optimizer.load_state_dict({**saved, "state": {9: {"step": 1}}})


def test_a_model_file_keeps_groups_in_any_order(tmp_path: Path) -> None:
    model = Sequential(Dense(4, 8, seed=0), ReLU(), Dense(8, 3, seed=1)).astype(np.float64)
    head, body = model[2].parameters(), model[0].parameters()
    optimizer = Adam([{"params": head, "lr": 0.05}, {"params": body}], lr=0.01)
    model[0].bias.requires_grad = False  # frozen: no state entry to save
    x, y = blobs()
    fit(model, x, y, loss=CrossEntropyLoss(), optimizer=optimizer, epochs=1, seed=0, verbose=0)
    tinynet.save(model, tmp_path / "m.npz", optimizer=optimizer)
    loaded = tinynet.io.load_full(tmp_path / "m.npz")
    restored = loaded.optimizer
    assert restored is not None
    assert restored.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    ours, theirs = optimizer.state_dict()["state"], restored.state_dict()["state"]
    assert set(ours) == set(theirs) == {0, 1, 2}
    for i in ours:
        for key, value in ours[i].items():
            np.testing.assert_array_equal(theirs[i][key], value)
    assert restored.params[0] is loaded.model.parameters()[2]  # the head's weight first


def test_a_model_file_from_before_groups_still_loads(tmp_path: Path) -> None:
    """Version-1 files had one group without ``initial_lr`` and the rate beside it."""
    model = Sequential(Dense(3, 2, seed=0))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    StepLR(optimizer, step_size=1, gamma=0.5).step()  # lr 0.05, initial_lr 0.1
    tinynet.save(model, tmp_path / "new.npz", optimizer=optimizer)

    def old_layout(header: dict[str, Any]) -> None:
        section = header["optimizer"]
        section["initial_lr"] = section["param_groups"][0].pop("initial_lr")

    edit_header(tmp_path / "new.npz", old_layout, tmp_path / "old.npz")
    restored = tinynet.io.load_full(tmp_path / "old.npz").optimizer
    assert restored is not None
    assert (restored.lr, restored.initial_lr) == (0.05, 0.1)


# --- schedules per group -------------------------------------------------------------

SCHEDULE_CASES: list[tuple[Callable[[Optimizer], Any], Callable[[Any, Any], Any], int]] = [
    (lambda o: StepLR(o, step_size=2, gamma=0.5), lambda s, o: s.StepLR(o, 2, 0.5), 7),
    (
        lambda o: CosineAnnealingLR(o, T_max=6, eta_min=1e-4),
        lambda s, o: s.CosineAnnealingLR(o, T_max=6, eta_min=1e-4),
        6,
    ),
    (
        lambda o: LinearLR(o, start_factor=0.2, total_iters=4),
        lambda s, o: s.LinearLR(o, start_factor=0.2, total_iters=4),
        6,
    ),
    (
        lambda o: OneCycleLR(o, max_lr=0.5, total_steps=10),
        lambda s, o: s.OneCycleLR(o, max_lr=0.5, total_steps=10),
        9,
    ),
    (
        lambda o: OneCycleLR(o, max_lr=[0.3, 0.6], total_steps=12, three_phase=True),
        lambda s, o: s.OneCycleLR(o, max_lr=[0.3, 0.6], total_steps=12, three_phase=True),
        11,
    ),
]


@pytest.mark.parametrize(("ours", "theirs", "steps"), SCHEDULE_CASES)
def test_schedules_scale_each_groups_own_rate_as_torch(
    ours: Callable[[Optimizer], Any], theirs: Callable[[Any, Any], Any], steps: int
) -> None:
    torch = pytest.importorskip("torch")
    defaults, first = {"lr": 0.1, "momentum": 0.9}, {"lr": 0.02}
    their_params = [torch.tensor(v, requires_grad=True) for v in start_values()]
    reference_opt = torch.optim.SGD(groups_of(their_params, first), **defaults)
    reference = theirs(torch.optim.lr_scheduler, reference_opt)
    params = [Parameter(v) for v in start_values()]
    optimizer = SGD(groups_of(params, first), **defaults)
    schedule = ours(optimizer)
    for step in range(steps):
        want = [(g["lr"], g["momentum"]) for g in reference_opt.param_groups]
        got = [(g["lr"], g["momentum"]) for g in optimizer.param_groups]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15, err_msg=f"step {step}")
        for i, (mine, their) in enumerate(zip(params, their_params, strict=True)):
            mine.grad = gradient(step, i, mine.shape)
            their.grad = torch.tensor(gradient(step, i, mine.shape))
        optimizer.step()
        reference_opt.step()
        schedule.step()
        reference.step()
    for mine, their in zip(params, their_params, strict=True):
        np.testing.assert_allclose(mine.data, their.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_reduce_lr_on_plateau_divides_every_groups_rate_as_torch() -> None:
    torch = pytest.importorskip("torch")
    their_params = [torch.tensor(v, requires_grad=True) for v in start_values()]
    reference_opt = torch.optim.SGD(groups_of(their_params, {"lr": 0.02}), lr=0.1)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        reference_opt, factor=0.5, patience=1, min_lr=0.015
    )
    optimizer = SGD(groups_of([Parameter(v) for v in start_values()], {"lr": 0.02}), lr=0.1)
    schedule = ReduceLROnPlateau(optimizer, factor=0.5, patience=1, min_lr=0.015)
    for value in [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]:
        schedule.step(value)
        reference.step(value)
        got = [g["lr"] for g in optimizer.param_groups]
        assert got == pytest.approx([g["lr"] for g in reference_opt.param_groups], rel=1e-15)
    fresh = SGD(groups_of([Parameter(v) for v in start_values()], {"lr": 0.02}), lr=0.1)
    ReduceLROnPlateau(fresh, factor=0.5).load_state_dict(schedule.state_dict())
    assert [g["lr"] for g in fresh.param_groups] == got
    old = {k: v for k, v in schedule.state_dict().items() if k != "lrs"}
    ReduceLROnPlateau(fresh, factor=0.5).load_state_dict({**old, "lr": 0.03})  # before groups
    assert [g["lr"] for g in fresh.param_groups] == [0.03, 0.03]


def test_one_cycle_takes_one_max_lr_per_group_and_old_states() -> None:
    optimizer = SGD(groups_of([Parameter(v) for v in start_values()], {"lr": 0.02}), lr=0.1)
    with pytest.raises(ValueError, match=r"one max_lr or one per parameter group \(2\), got 3"):
        OneCycleLR(optimizer, max_lr=[0.1, 0.2, 0.3], total_steps=10)
    schedule = OneCycleLR(optimizer, max_lr=[0.1, 0.2], total_steps=10)
    for _ in range(3):
        schedule.step()
    rates = [g["lr"] for g in optimizer.param_groups]
    assert rates[1] == pytest.approx(2 * rates[0], rel=1e-14)
    schedule.load_state_dict({"last_epoch": 3, "base_lr": 0.02})  # before groups: ignored
    assert [g["lr"] for g in optimizer.param_groups] == rates


def test_a_schedule_state_from_before_groups_loads() -> None:
    optimizer = SGD(groups_of([Parameter(v) for v in start_values()], {"lr": 0.02}), lr=0.1)
    schedule = StepLR(optimizer, step_size=1, gamma=0.5)
    schedule.load_state_dict({"last_epoch": 2, "base_lr": 0.4})  # one rate for all groups
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.1]
    with pytest.raises(ValueError, match="base_lrs must be a list of 2 numbers"):
        schedule.load_state_dict({"last_epoch": 2, "base_lrs": [0.4]})


# --- the settings table --------------------------------------------------------------


def test_the_settings_table_gives_the_signature_and_the_repr() -> None:
    assert str(inspect.signature(Adam)) == (
        "(params, lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)"
    )
    assert str(inspect.signature(AdamW)).endswith("weight_decay=0.01)")
    assert str(inspect.signature(SGD)) == (
        "(params, lr=0.01, momentum=0.0, *, dampening=0.0, nesterov=False, "
        "weight_decay=0.0, initial_buffer='grad')"
    )
    params = [Parameter(v) for v in start_values()]
    assert SGD(params, 0.5, 0.9).hyperparameters()["momentum"] == 0.9  # by position
    with pytest.raises(TypeError, match="SGD: too many positional arguments"):
        SGD(params, 0.5, 0.9, 0.1)
    with pytest.raises(TypeError, match=r"SGD: got an unexpected keyword argument 'betas'"):
        SGD(params, betas=(0.9, 0.99))
    adam = Adam(groups_of(params, {"lr": 0.1}), lr=0.01)
    assert repr(adam) == (
        "Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, groups=[{'lr': 0.1}, {}])"
    )


@pytest.mark.parametrize(
    ("groups", "error", "message"),
    [
        ([], ValueError, "empty parameter list"),
        ([{"params": []}], ValueError, "parameter group 0 has no parameters"),
        ([{"lr": 0.1}], TypeError, r"dicts with 'params'\), got dict at position 0"),
        ([{"params": [0]}], TypeError, "got int at position 0"),
        ("group", TypeError, "got str"),
        ([{"params": ["p"], "lr": 0.1}], TypeError, "got str at position 0"),
        ([{"params": [0], "learning_rate": 0.1}], TypeError, "got int"),
    ],
)
def test_bad_groups_are_refused_naming_what_came(
    groups: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Adam(groups)


def test_a_group_with_an_unknown_setting_or_a_shared_parameter_is_refused() -> None:
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"Adam: unknown settings \['momentum'\]"):
        Adam([{"params": [a], "momentum": 0.9}])
    with pytest.raises(ValueError, match="a parameter appears more than once"):
        Adam([{"params": [a, b]}, {"params": b}])
    adam = Adam([a])
    with pytest.raises(ValueError, match="a parameter appears more than once"):
        adam.add_param_group({"params": [b, a]})
    with pytest.raises(
        TypeError, match=r"add_param_group: expected a dict with 'params', got list"
    ):
        adam.add_param_group([b])
    assert len(adam.param_groups) == 1  # nothing added
    with pytest.raises(ValueError, match="nesterov needs momentum > 0"):
        SGD([{"params": [a], "momentum": 0.0}], momentum=0.9, nesterov=True)


def test_the_registries_name_every_optimizer_and_schedule() -> None:
    from tinynet import optim
    from tinynet.recipe import Recipe

    assert optim.optimizer_class("adamw") is AdamW
    assert optim.optimizer_class("tinynet.optim.rmsprop.RMSProp") is RMSProp
    with pytest.raises(
        UnknownNameError, match=r"unknown optimizer type 'lion'.*Known: adagrad, adam, "
    ):
        optim.optimizer_class("lion")
    builtin = {n: c for n, c in optim.OPTIMIZERS.items().items() if is_builtin(c)}
    assert builtin == {
        "sgd": SGD, "momentum": Momentum, "adam": Adam, "adamw": AdamW, "rmsprop": RMSProp,
        "adagrad": optim.Adagrad,
    }  # fmt: skip
    for name, cls in builtin.items():
        made = Recipe(optimizer=name, optimizer_args={}).make_optimizer(Sequential(Dense(2, 2)))
        assert type(made) is cls
    assert set(optim.SCHEDULES) == {
        "constant", "step", "cosine", "warmup_cosine", "one_cycle", "plateau", "piecewise",
    }  # fmt: skip
    takes, needs = optim.SCHEDULES["warmup_cosine"].arguments()
    assert (takes, needs) == ({"warmup", "start_factor", "eta_min"}, {"warmup"})


def grouped_run() -> tuple[Sequential, SGD, list[Any]]:
    model = Sequential(
        Dense(4, 6, seed=0), ReLU(), Dense(6, 5, seed=2), ReLU(), Dense(5, 3, seed=1)
    )
    model[2].requires_grad_(False)
    optimizer = SGD(
        [{"params": model[4].parameters(), "lr": 0.2}, {"params": model[0].parameters()}],
        lr=0.05,
        momentum=0.9,
        weight_decay=1e-3,
    )
    return model, optimizer, [LearningRateScheduler(StepLR(optimizer, step_size=1, gamma=0.5))]


def train_grouped(
    run: tuple[Sequential, Optimizer, list[Any]], epochs: int, *extra: Any
) -> Sequential:
    model, optimizer, callbacks = run
    x, y = blobs()
    fit(model, x, y, loss=CrossEntropyLoss(), optimizer=optimizer, epochs=epochs, batch_size=16,
        seed=0, verbose=0, callbacks=[*callbacks, *extra])  # fmt: skip
    return model


def test_a_grouped_partly_frozen_run_resumes_bit_identically(tmp_path: Path) -> None:
    path = tmp_path / "ck.npz"
    train_grouped(grouped_run(), 2, ModelCheckpoint(path))
    resumed_run = grouped_run()
    resumed = train_grouped(resumed_run, 3, BackupAndRestore(path))
    straight = train_grouped(grouped_run(), 3)
    for (name, a), (_, b) in zip(
        resumed.state_dict().items(), straight.state_dict().items(), strict=True
    ):
        assert np.array_equal(a, b), name
    assert [g["lr"] for g in resumed_run[1].param_groups] == [0.2 * 0.5**3, 0.05 * 0.5**3]
    frozen = Sequential(Dense(4, 6, seed=0), ReLU(), Dense(6, 5, seed=2))[2]
    np.testing.assert_array_equal(resumed[2].weight.data, frozen.weight.data)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s["param_groups"][0].__setitem__("params", [0, 0]), "each once"),
        (lambda s: s["param_groups"][0].__setitem__("params", [0, 7]), "some of the model's 4"),
        (lambda s: s["param_groups"][0].__setitem__("params", "all"), "a list of indices"),
        (lambda s: s.__setitem__("param_groups", [s["param_groups"][1]]), r"no group lists"),
        (lambda s: s["param_groups"][1].__setitem__("lr", "fast"), "lr must be a finite number"),
    ],
)
def test_a_file_with_bad_groups_is_refused_naming_what_is_wrong(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    model = Sequential(Dense(3, 4, seed=0), ReLU(), Dense(4, 2, seed=1))
    optimizer = Adam([{"params": model[2].parameters()}, {"params": model[0].parameters()}])
    model.forward(np.ones((2, 3), np.float32))
    model.backward(np.ones((2, 2), np.float32))
    optimizer.step()
    tinynet.save(model, tmp_path / "m.npz", optimizer=optimizer)
    bad = edit_header(tmp_path / "m.npz", lambda h: edit(h["optimizer"]), tmp_path / "bad.npz")
    with pytest.raises(tinynet.io.ModelFormatError, match=f"bad.npz: optimizer: .*{message}"):
        tinynet.io.load_full(bad)
    assert tinynet.io.load_full(tmp_path / "m.npz").optimizer is not None


def test_a_custom_rule_declares_its_settings_once() -> None:
    """A subclass with a settings table and an update: signature, checks, state dict."""
    from tinynet.optim import Setting, Update
    from tinynet.optim.settings import between

    class SignSGD(Optimizer):
        settings: ClassVar[Mapping[str, Setting]] = {
            "lr": Setting(0.01),
            "shrink": Setting(0.5, between(0.0, 1.0)),
        }

        def update(self, u: Update, group: Mapping[str, Any]) -> None:
            np.sign(u.grad, out=u.scratch[0])
            u.data -= group["lr"] * group["shrink"] ** (u.step - 1) * u.scratch[0]

    assert str(inspect.signature(SignSGD)) == "(params, lr=0.01, shrink=0.5)"
    p = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"SignSGD: shrink must be a finite number in \[0, 1\]"):
        SignSGD([p], shrink=2)
    optimizer = SignSGD([{"params": [p], "shrink": 0.25}], lr=1.0)
    for _ in range(2):
        p.grad = np.array([1.0, -2.0, 0.0])
        optimizer.step()
    np.testing.assert_array_equal(p.data, [-1.25, 1.25, 0.0])
    assert optimizer.state_dict()["param_groups"][0]["shrink"] == 0.25
    assert repr(optimizer) == "SignSGD(lr=1.0, shrink=0.25)"


def test_a_checkpoint_from_before_groups_resumes_bit_identically(tmp_path: Path) -> None:
    """The layout tinynet wrote before groups: ``initial_lr`` beside the one group, and
    the schedule's state with one ``base_lr``."""

    def run() -> tuple[Sequential, Adam, list[Any]]:
        model = Sequential(Dense(4, 5, seed=0), ReLU(), Dense(5, 3, seed=1))
        optimizer = Adam(model.parameters(), lr=0.01)
        return model, optimizer, [LearningRateScheduler(StepLR(optimizer, 1, 0.5))]

    def old_layout(header: dict[str, Any]) -> None:
        section = header["optimizer"]
        section["initial_lr"] = section["param_groups"][0].pop("initial_lr")
        schedule = header["metadata"]["tinynet_checkpoint"]["callbacks"][0]["state"]
        schedule["base_lr"] = schedule.pop("base_lrs")[0]

    train_grouped(run(), 1, ModelCheckpoint(tmp_path / "new.npz"))
    edit_header(tmp_path / "new.npz", old_layout, tmp_path / "old.npz")
    resumed = train_grouped(run(), 3, BackupAndRestore(tmp_path / "old.npz"))
    straight = train_grouped(run(), 3)
    for (name, a), (_, b) in zip(
        resumed.state_dict().items(), straight.state_dict().items(), strict=True
    ):
        assert np.array_equal(a, b), name


def test_clipping_leaves_frozen_parameters_out_as_torch_leaves_out_missing_gradients() -> None:
    torch = pytest.importorskip("torch")
    from tinynet.optim import clip_grad_norm_

    ours = [Parameter(v) for v in start_values()]
    theirs = [torch.tensor(v) for v in start_values()]
    for i, (mine, their) in enumerate(zip(ours, theirs, strict=True)):
        mine.grad = 3 * gradient(0, i, mine.shape)
        their.grad = None if i == 2 else torch.tensor(mine.grad.copy())
    ours[2].requires_grad = False
    frozen_grad = ours[2].grad.copy()
    norm = clip_grad_norm_(ours, max_norm=1.0)
    assert norm == pytest.approx(float(torch.nn.utils.clip_grad_norm_(theirs, 1.0)), rel=1e-14)
    for i, (mine, their) in enumerate(zip(ours, theirs, strict=True)):
        want = frozen_grad if i == 2 else their.grad.numpy()
        np.testing.assert_allclose(mine.grad, want, rtol=1e-14)
