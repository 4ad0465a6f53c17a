"""Hostile optimizer settings and checkpoint state (issue 12, phase 2; ``shared/repro``
06, 07, 07b): every malformed value is refused by name, the same way from a file as
from code, and a refused checkpoint changes nothing of the run it was to restore."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import edit_header

import tinynet
from tinynet import Dense, Dropout, ReLU, Sequential
from tinynet.callbacks import EarlyStopping, LearningRateScheduler
from tinynet.checkpoint import BackupAndRestore, CheckpointError, ModelCheckpoint
from tinynet.io import ModelFormatError, load_full
from tinynet.losses import CrossEntropyLoss
from tinynet.optim import SGD, Adam, AdamW, Momentum, Optimizer, RMSProp, StepLR
from tinynet.train import fit


def params() -> list[tinynet.Parameter]:
    return Dense(3, 2, seed=0).parameters()


# --- optimizer settings: one check, for code and files alike -----------------------------

BAD_SETTINGS: list[tuple[Callable[..., Optimizer], str, object, str]] = [
    (Adam, "lr", "0.001", r"lr must be a finite number >= 0, got '0.001' \(a str\)"),
    (Adam, "lr", float("inf"), "lr must be a finite number >= 0, got inf"),
    (Adam, "lr", float("nan"), "lr must be a finite number"),
    (Adam, "lr", -1e-3, "lr must be a finite number >= 0"),
    (Adam, "lr", True, r"lr must be a finite number >= 0, got True \(a bool\)"),
    (Adam, "lr", 10**400, "lr must be a finite number"),
    (Adam, "weight_decay", "0", "weight_decay must be a finite number"),
    (Adam, "eps", None, "eps must be a finite number"),
    (Adam, "betas", (0.9, 1.0), r"betas must be two numbers in \[0, 1\)"),
    (Adam, "betas", ("0.9", 0.999), r"betas must be two numbers in \[0, 1\)"),
    (Adam, "betas", 0.9, r"betas must be two numbers in \[0, 1\)"),
    (AdamW, "betas", (0.9,), r"betas must be two numbers in \[0, 1\)"),
    (SGD, "nesterov", "false", r"nesterov must be True or False, got 'false' \(a str\)"),
    (SGD, "nesterov", 1, "nesterov must be True or False, got 1"),
    (SGD, "momentum", -0.9, "momentum must be a finite number >= 0"),
    (SGD, "dampening", 1.5, r"dampening must be a finite number in \[0, 1\]"),
    (SGD, "initial_buffer", "ones", "initial_buffer must be one of"),
    (Momentum, "momentum", "0.9", "momentum must be a finite number"),
    (RMSProp, "alpha", 1.5, r"alpha must be a finite number in \[0, 1\]"),
    (RMSProp, "centered", "no", "centered must be True or False"),
]


@pytest.mark.parametrize(("make", "setting", "value", "message"), BAD_SETTINGS)
def test_a_bad_setting_is_refused_by_the_constructor_and_by_load_state_dict_alike(
    make: Callable[..., Optimizer], setting: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make(params(), **{setting: value})
    optimizer = make(params())
    before = optimizer.hyperparameters()
    state = optimizer.state_dict()
    state["param_groups"][0][setting] = value
    with pytest.raises(ValueError, match=f"load_state_dict: .*{message}"):
        optimizer.load_state_dict(state)
    assert optimizer.hyperparameters() == before  # nothing changed


@pytest.mark.parametrize("step", [-5, 0, 2.0, float("inf"), True, "3", None, 2**62 + 1])
def test_a_step_count_must_be_an_integer_from_one(step: object) -> None:
    p = params()
    optimizer = Adam(p)
    for q in p:
        q.grad[...] = 1.0
    optimizer.step()
    state = optimizer.state_dict()
    for entry in state["state"].values():
        entry["step"] = step
    fresh = Adam(params())
    with pytest.raises(ValueError, match=r"needs 'step', an integer in \[1, 2\*\*62\]"):
        fresh.load_state_dict(state)
    assert fresh.steps == 0
    assert fresh.state_dict()["state"] == {}


def saved_with_optimizer(tmp_path: Path, make: Callable[..., Optimizer]) -> Path:
    model = Sequential(Dense(4, 3, seed=0), ReLU(), Dense(3, 2, seed=1))
    optimizer = make(model.parameters())
    x, y = np.ones((4, 4), np.float32), np.array([0, 1, 0, 1])
    fit(model, x, y, loss=CrossEntropyLoss(), optimizer=optimizer, epochs=1, verbose=0)
    path = tmp_path / "m.npz"
    tinynet.save(model, path, optimizer=optimizer)
    return path


def set_step(value: object) -> Callable[[dict[str, Any]], object]:
    return lambda h: [e.__setitem__("step", value) for e in h["optimizer"]["state"].values()]


def set_group(key: str, value: object) -> Callable[[dict[str, Any]], object]:
    return lambda h: h["optimizer"]["param_groups"][0].__setitem__(key, value)


@pytest.mark.parametrize(
    ("make", "edit", "message"),
    [
        (Adam, set_step(float("inf")), "needs 'step', an integer"),
        (Adam, set_step(-5), "needs 'step', an integer"),
        (Adam, set_group("lr", "0.001"), "lr must be a finite number >= 0, got '0.001'"),
        (Adam, set_group("weight_decay", "0"), "weight_decay must be a finite number"),
        (Adam, set_group("betas", [0.9, 2]), r"betas must be two numbers in \[0, 1\)"),
        (lambda p: SGD(p, lr=0.1, momentum=0.9), set_group("nesterov", "false"), "nesterov"),
        (Adam, lambda h: h["optimizer"].__setitem__("initial_lr", float("nan")), "initial_lr"),
    ],
)
def test_a_file_with_a_bad_optimizer_setting_is_refused_naming_the_file_and_setting(
    tmp_path: Path,
    make: Callable[..., Optimizer],
    edit: Callable[[dict[str, Any]], object],
    message: str,
) -> None:
    """repro 06: these used to load and fail at the first step (or train as nesterov)."""
    bad = edit_header(saved_with_optimizer(tmp_path, make), edit, tmp_path / "bad.npz")
    with pytest.raises(ModelFormatError, match=f"bad.npz: optimizer: .*{message}"):
        load_full(bad)


# --- float16: refused at the optimizer -----------------------------------------------


def test_float16_parameters_are_refused_with_the_reason() -> None:
    model = Sequential(Dense(3, 2, seed=0)).astype(np.float16)
    with pytest.raises(TypeError, match=r"cannot train float16 parameters.*underflow"):
        Adam(model.parameters())


def test_parameters_cast_to_float16_after_the_optimizer_are_refused_at_the_step() -> None:
    model = Sequential(Dense(3, 2, seed=0))
    optimizer = SGD(model.parameters(), lr=0.1)
    model.astype(np.float16)
    with pytest.raises(TypeError, match="SGD: cannot train float16 parameters"):
        optimizer.step()
    assert optimizer.steps == 0
    model.astype(np.float64)  # float64 trains
    optimizer.step()
    assert optimizer.steps == 1


# --- checkpoint state: checked whole before anything changes --------------------------

X = np.random.default_rng(0).random((16, 4), np.float32)
Y = np.random.default_rng(1).integers(0, 3, 16)


def make_run(width: int = 5) -> tuple[Sequential, Adam, list[Any]]:
    model = Sequential(
        Dense(4, width, seed=0), ReLU(), Dropout(0.2, seed=2), Dense(width, 3, seed=1)
    )
    optimizer = Adam(model.parameters())
    callbacks = [
        LearningRateScheduler(StepLR(optimizer, step_size=1, gamma=0.5)),
        EarlyStopping("loss", patience=5),
    ]
    return model, optimizer, callbacks


def train(run: tuple[Sequential, Adam, list[Any]], epochs: int, *extra: Any) -> Sequential:
    """``fit`` the run's model for ``epochs`` with its callbacks and ``extra`` ones."""
    model, optimizer, callbacks = run
    fit(
        model,
        X,
        Y,
        loss=CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=epochs,
        batch_size=8,
        seed=0,
        verbose=0,
        callbacks=[*callbacks, *extra],
    )
    return model


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "ck.npz"
    train(make_run(), 2, ModelCheckpoint(path))
    return path


def training_state(edit: Callable[[dict[str, Any]], object]) -> Callable[[dict[str, Any]], Any]:
    return lambda header: edit(header["metadata"]["tinynet_checkpoint"])


BAD_STATES: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("no callbacks", lambda s: s.pop("callbacks"), "missing 'callbacks'"),
    ("no generators", lambda s: s.pop("generators"), "missing 'generators'"),
    ("epochs_done -5", lambda s: s.__setitem__("epochs_done", -5), "'epochs_done' must be"),
    ("epochs_done 1.5", lambda s: s.__setitem__("epochs_done", 1.5), "'epochs_done' must be"),
    ("epochs_done True", lambda s: s.__setitem__("epochs_done", True), "'epochs_done' must"),
    (
        "history_epochs too long",
        lambda s: s.__setitem__("history_epochs", [0, 1, 2]),
        "'history_epochs' must list increasing epoch numbers below epochs_done 2",
    ),
    (
        "history_epochs unordered",
        lambda s: s.__setitem__("history_epochs", [1, 0]),
        "'history_epochs' must list increasing",
    ),
    ("history an int", lambda s: s["history"].__setitem__("loss", 5), "history 'loss' must be"),
    (
        "history too short",
        lambda s: s["history"].__setitem__("loss", [1.0]),
        "history 'loss' must be a list of 2 numbers",
    ),
    ("history strings", lambda s: s["history"].__setitem__("lr", ["a", "b"]), "history 'lr'"),
    ("history a list", lambda s: s.__setitem__("history", [1]), "'history' must be an object"),
    ("callbacks a dict", lambda s: s.__setitem__("callbacks", {}), "'callbacks' must be a list"),
    (
        "callback without state",
        lambda s: s["callbacks"][0].pop("state"),
        "'callbacks' must be a list",
    ),
    (
        "callbacks reordered",
        lambda s: s["callbacks"].reverse(),
        "callbacks with state .* differ from this run's",
    ),
    (
        "scheduler state malformed",
        lambda s: s["callbacks"][0]["state"].__setitem__("last_epoch", "2"),
        r"callback 0 \(LearningRateScheduler\) does not load: .*last_epoch",
    ),
    (
        "early stopping state malformed",
        lambda s: s["callbacks"][1]["state"].__setitem__("wait", -1),
        r"callback 1 \(EarlyStopping\) does not load",
    ),
    (
        "early stopping best a string",
        lambda s: s["callbacks"][1]["state"].__setitem__("best", "x"),
        r"callback 1 \(EarlyStopping\) does not load: .*best",
    ),
    (
        "generator state malformed",
        lambda s: s["generators"]["loader"].__setitem__("state", {"state": "x"}),
        "generator 'loader': not a PCG64 state",
    ),
    (
        "generator of another kind",
        lambda s: s["generators"]["loader"].__setitem__("bit_generator", "MT19937"),
        "generator 'loader'",
    ),
    ("generator missing", lambda s: s["generators"].pop("loader"), "random generators"),
]


def snapshot(
    model: Sequential, optimizer: Adam, callbacks: list[Any]
) -> tuple[dict[str, Any], ...]:
    return (
        {k: v.copy() for k, v in model.state_dict().items()},
        copy.deepcopy(optimizer.state_dict()),
        {"lr": optimizer.lr, "steps": optimizer.steps},
        {str(i): c.state_dict() for i, c in enumerate(callbacks)},
        {"dropout": model[2].rng.bit_generator.state},  # type: ignore[attr-defined]
    )


def assert_same(a: tuple[dict[str, Any], ...], b: tuple[dict[str, Any], ...]) -> None:
    assert a[0].keys() == b[0].keys()
    assert all(np.array_equal(a[0][k], b[0][k]) for k in a[0])
    assert json.dumps(a[2:], sort_keys=True) == json.dumps(b[2:], sort_keys=True)
    assert a[1]["state"] == b[1]["state"] == {}


@pytest.mark.parametrize(("label", "edit", "message"), BAD_STATES, ids=[s[0] for s in BAD_STATES])
def test_a_malformed_checkpoint_state_is_refused_and_changes_nothing(
    checkpoint: Path,
    tmp_path: Path,
    label: str,
    edit: Callable[[dict[str, Any]], object],
    message: str,
) -> None:
    """repro 07: bare KeyError/IndexError/TypeError after the model was overwritten,
    or epochs -5..2 trained; now one CheckpointError naming the file, nothing changed."""
    bad = edit_header(checkpoint, training_state(edit), tmp_path / "bad.npz")
    run = make_run()
    before = snapshot(*run)
    with pytest.raises(CheckpointError, match=f"bad.npz: .*{message}"):
        train(run, 3, BackupAndRestore(bad))
    assert_same(snapshot(*run), before)


def test_a_checkpoint_of_another_architecture_is_refused_before_anything_changes(
    checkpoint: Path,
) -> None:
    run = make_run(width=6)
    before = snapshot(*run)
    with pytest.raises(CheckpointError, match=r"ck\.npz: the checkpoint's model does not fit"):
        train(run, 3, BackupAndRestore(checkpoint))
    assert_same(snapshot(*run), before)


def test_a_sound_checkpoint_still_resumes_bit_identically(checkpoint: Path) -> None:
    resumed = train(make_run(), 3, BackupAndRestore(checkpoint))
    straight = train(make_run(), 3)
    for (name, a), (_, b) in zip(
        resumed.state_dict().items(), straight.state_dict().items(), strict=True
    ):
        assert np.array_equal(a, b), name
