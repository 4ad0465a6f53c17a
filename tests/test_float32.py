"""A float32 run stays float32: no array anywhere in a training step is silently float64."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from tinynet import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    CrossEntropyLoss,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPool2d,
    ReLU,
    Residual,
    Sequential,
    SiLU,
    Unflatten,
)
from tinynet.augment import RandomShift
from tinynet.callbacks import Callback, LearningRateScheduler, Run
from tinynet.optim import SGD, Adam, AdamW, CosineAnnealingLR, Optimizer, RMSProp
from tinynet.train import fit


def float_arrays(value: Any, seen: set[int], path: str) -> Iterator[tuple[str, np.ndarray]]:
    """Every float ndarray reachable from ``value`` through attributes, lists, tuples
    and dicts (each object visited once)."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from float_arrays(item, seen, f"{path}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from float_arrays(item, seen, f"{path}[{i}]")
    elif hasattr(value, "__dict__") or hasattr(value, "__slots__"):
        names = list(getattr(value, "__dict__", {})) + list(getattr(value, "__slots__", ()))
        for name in names:
            if hasattr(value, name) and not isinstance(value, np.random.Generator):
                yield from float_arrays(getattr(value, name), seen, f"{path}.{name}")


class AfterEachBatch(Callback):
    """Calls ``look(run)`` after every optimizer step (a run's arrays are all live then)."""

    def __init__(self, look: Callable[[Run], None]) -> None:
        self.look = look

    def on_batch_end(self, run: Run) -> None:
        self.look(run)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: Adam(ps, lr=1e-3, weight_decay=1e-4),
        lambda ps: AdamW(ps),
        lambda ps: SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4),
        lambda ps: RMSProp(ps, momentum=0.5, centered=True),
    ],
)
def test_every_array_of_a_float32_training_run_is_float32(make_optimizer: Any) -> None:
    rng = np.random.default_rng(0)
    model = Sequential(
        Dense(784, 32, rng=rng),
        BatchNorm1d(32),
        ReLU(),
        Dropout(0.1, rng=rng),
        Residual(Sequential(Dense(32, 32, rng=rng), GELU())),
        SiLU(),
        Dense(32, 10, rng=rng),
    )
    x = rng.random((96, 784), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    loss = CrossEntropyLoss(label_smoothing=0.1)
    optimizer: Optimizer = make_optimizer(model.parameters())
    found: dict[str, str] = {}

    def inspect(run: Run) -> None:
        for owner, name in (
            (run.model, "model"),
            (run.loss, "loss"),
            (run.optimizer, "optimizer"),
            (run.loader, "loader"),
        ):
            for path, array in float_arrays(owner, set(), name):
                found[path] = str(array.dtype)

    fit(
        model,
        x,
        y,
        loss=loss,
        optimizer=optimizer,
        epochs=2,
        batch_size=32,
        verbose=0,
        transform=RandomShift(1, rng=rng),
        callbacks=[
            LearningRateScheduler(CosineAnnealingLR(optimizer, T_max=2)),
            AfterEachBatch(inspect),
        ],
    )
    assert any(".state" in path for path in found)  # the walk reached optimizer state
    model.forward(x[:32])  # the caches a backward would read (each backward consumes them)
    for path, array in float_arrays(model, set(), "model"):
        found[path] = str(array.dtype)
    assert any("_x" in path or "_saved" in path for path in found)  # and layer caches
    wrong = {path: dtype for path, dtype in found.items() if dtype != "float32"}
    assert wrong == {}
    model.eval()
    assert model(x).dtype == np.float32
    assert isinstance(optimizer.lr, float)


def cnn(rng: np.random.Generator) -> Sequential:
    """Every image layer: (N, 1, 12, 12) -> 10 logits."""
    return Sequential(
        Conv2d(1, 4, 3, padding=1, rng=rng),
        BatchNorm2d(4),
        ReLU(inplace=True),
        MaxPool2d(2),
        Conv2d(4, 6, 3, stride=2, padding=1, rng=rng),
        GELU(),
        Dropout(0.1, rng=rng),
        AvgPool2d(3, stride=1, padding=1),
        Conv2d(6, 8, 2, padding="same", dilation=2, rng=rng),
        AdaptiveAvgPool2d(1),
        Flatten(),
        Dense(8, 10, rng=rng),
    )


@pytest.mark.parametrize(
    "make_optimizer",
    [lambda ps: Adam(ps, lr=1e-3, weight_decay=1e-4), lambda ps: SGD(ps, lr=0.05, momentum=0.9)],
)
def test_every_array_of_a_float32_cnn_training_run_is_float32(make_optimizer: Any) -> None:
    rng = np.random.default_rng(3)
    model = cnn(rng)
    x = rng.random((96, 1, 12, 12), dtype=np.float32)
    y = rng.integers(0, 10, 96)
    optimizer: Optimizer = make_optimizer(model.parameters())
    found: dict[str, str] = {}

    def inspect(run: Run) -> None:
        run.model.forward(x[:4])  # backward consumed the caches: make them again to look
        for path, array in float_arrays(run.model, set(), "model"):
            found[path] = str(array.dtype)

    fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=2,
        batch_size=32,
        verbose=0,
        transform=RandomShift(1, (12, 12), rng=rng),
        callbacks=[AfterEachBatch(inspect)],
    )
    assert any("_workspaces" in path and "columns" in path for path in found)  # conv buffers
    assert any("_saved" in path for path in found)  # and activation caches
    wrong = {path: dtype for path, dtype in found.items() if dtype != "float32"}
    assert wrong == {}
    model.eval()
    assert model(x).dtype == np.float32
    assert all(str(a.dtype) == "float32" for _, a in float_arrays(model, set(), "m"))


def test_no_transient_float64_in_a_cnn() -> None:
    rng = np.random.default_rng(4)
    model = Sequential(Unflatten(1, (1, 12, 12)), *cnn(rng).layers)
    for p in model.parameters():
        p.data = p.data.view(NoFloat64)
        p.grad = p.grad.view(NoFloat64)
    x = rng.random((6, 144), dtype=np.float32).view(NoFloat64)
    loss = CrossEntropyLoss()
    value = loss.forward(model(x), rng.integers(0, 10, 6))
    grad_x = model.backward(loss.backward())
    assert grad_x.dtype == np.float32
    assert np.isfinite(value)
    assert set(collect(model)) == {"float32"}


def collect(layer: Layer) -> list[str]:
    return [str(a.dtype) for _, a in float_arrays(layer, set(), "m")]


def test_backward_of_a_float32_model_returns_float32() -> None:
    rng = np.random.default_rng(1)
    model = Sequential(Dense(8, 8, rng=rng), GELU(), BatchNorm1d(8), Dense(8, 3, rng=rng))
    x = rng.random((5, 8), dtype=np.float32)
    loss = CrossEntropyLoss()
    loss.forward(model(x), rng.integers(0, 3, 5))
    grad_x = model.backward(loss.backward())
    assert grad_x.dtype == np.float32
    assert set(collect(model)) == {"float32"}


class NoFloat64(np.ndarray):
    """An array type whose every derived array (any ufunc, matmul, slice, reduction over
    it) must not be float64: catches transient upcasts no stored array would show."""

    def __array_finalize__(self, obj: Any) -> None:
        if self.dtype == np.float64:
            raise AssertionError("a float64 array was derived in a float32 computation")


def test_no_transient_float64_in_forward_loss_and_backward() -> None:
    rng = np.random.default_rng(2)
    model = Sequential(
        Dense(12, 16, rng=rng),
        BatchNorm1d(16),
        GELU(),
        Dropout(0.2, rng=rng),
        Residual(Sequential(Dense(16, 16, rng=rng), SiLU())),
        ReLU(),
        Dense(16, 4, rng=rng),
    )
    for p in model.parameters():
        p.data = p.data.view(NoFloat64)
        p.grad = p.grad.view(NoFloat64)
    x = rng.random((6, 12), dtype=np.float32).view(NoFloat64)
    loss = CrossEntropyLoss(label_smoothing=0.05)
    value = loss.forward(model(x), rng.integers(0, 4, 6))
    grad_x = model.backward(loss.backward())
    assert isinstance(grad_x, NoFloat64)
    assert np.isfinite(value)
    with pytest.raises(AssertionError, match="float64"):  # the guard itself works
        _ = x * np.float64(2.0) + np.ones(1)
