"""Residual, Parallel/Concat: gradients, naming, nesting, errors; rebuilding layers from
config."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
from helpers import f64, perturb, rand
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import (
    GELU,
    BatchNorm1d,
    Concat,
    Dense,
    Dropout,
    Flatten,
    Layer,
    Parallel,
    ReLU,
    Residual,
    Sequential,
    SiLU,
    Swish,
    Tanh,
    gradcheck,
)

TOLERANCE = 1e-6
SHAPES = st.tuples(st.integers(1, 5), st.integers(1, 6))
"""(batch, features): batch size 1 included."""


# --- Residual, Parallel, Concat -------------------------------------------------------------


def dense(i: int, o: int, seed: int) -> Dense:
    return Dense(i, o, seed=seed, dtype=np.float64)


CONTAINERS: dict[str, Callable[[int], Layer]] = {
    "residual": lambda d: Residual(Sequential(dense(d, 3, 0), Tanh(), dense(3, d, 1))),
    "residual_of_residual": lambda d: Residual(Residual(Sequential(dense(d, d, 2), SiLU()))),
    "parallel_concat": lambda d: Parallel(
        dense(d, 2, 3), Sequential(dense(d, 3, 4), GELU()), Tanh()
    ),
    "parallel_sum": lambda d: Parallel(
        dense(d, d, 5), Tanh(), Residual(dense(d, d, 6)), mode="sum"
    ),
    "concat": lambda d: Concat(dense(d, 1, 7), SiLU()),
    "nested": lambda d: Sequential(
        Residual(Parallel(dense(d, 2, 8), dense(d, d - 2, 9))) if d > 2 else Tanh(),
        Concat(Residual(dense(d, d, 10)), Sequential(BatchNorm1d(d, dtype=np.float64), ReLU())),
    ),
}


@pytest.mark.parametrize("name", CONTAINERS)
@settings(max_examples=15, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_container_gradcheck(name: str, shape: tuple[int, int], seed: int) -> None:
    n, d = shape
    if name == "nested":
        n += 1  # BatchNorm1d trains on batches of two or more
    assert gradcheck(CONTAINERS[name](d), rand((n, d), seed)) < TOLERANCE


@pytest.mark.parametrize("name", CONTAINERS)
def test_container_backward_params_accumulates_what_backward_does(name: str) -> None:
    x, full, params_only = rand((3, 4)), CONTAINERS[name](4), CONTAINERS[name](4)
    grad_y = rand(full(x).shape, seed=1)
    full.backward(grad_y)
    params_only(x)
    params_only.backward_params(grad_y)
    pairs = zip(full.named_parameters(), params_only.named_parameters(), strict=True)
    for (name_a, a), (name_b, b) in pairs:
        assert name_a == name_b
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-14)


def test_residual_adds_the_input_and_names_parameters_after_the_block() -> None:
    block = Sequential(dense(3, 3, 0), ReLU())
    layer = Residual(block)
    x = rand((2, 3))
    np.testing.assert_allclose(layer(x), x + block(x))
    assert [name for name, _ in layer.named_parameters()] == ["block.0.weight", "block.0.bias"]
    nested = Sequential(Residual(Residual(dense(3, 3, 1))))
    assert [name for name, _ in nested.named_parameters()] == [
        "0.block.block.weight",
        "0.block.block.bias",
    ]


def test_residual_gradient_is_the_skip_plus_the_block() -> None:
    # Block y = 2x (a Dense with weight 2I, no bias): residual y = 3x, so grad_x = 3 grad_y.
    block = Dense(2, 2, bias=False, dtype=np.float64)
    block.weight.data[:] = 2 * np.eye(2)
    layer = Residual(block)
    layer(np.ones((1, 2)))
    np.testing.assert_allclose(layer.backward(np.array([[1.0, -1.0]])), [[3.0, -3.0]])


def test_residual_does_not_modify_its_input_when_the_block_returns_it() -> None:
    x = rand((2, 3))
    original = x.copy()
    y = Residual(Dropout(0.5)).eval()(x)  # Dropout in inference mode returns x itself
    np.testing.assert_array_equal(x, original)
    np.testing.assert_array_equal(y, 2 * original)


def test_residual_rejects_a_shape_changing_block_clearly() -> None:
    with pytest.raises(
        ValueError,
        match=r"Residual: the block must keep its input's shape, but Dense\(4, 3\) "
        r"mapped input of shape \(2, 4\) to \(2, 3\)",
    ):
        Residual(Dense(4, 3))(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="Residual: block must be a Layer, got int"):
        Residual(3)  # type: ignore[arg-type]


def test_parallel_concatenates_or_sums_and_names_branches_by_position() -> None:
    a, b = dense(3, 2, 0), Sequential(dense(3, 4, 1), Tanh())
    x = rand((5, 3))
    np.testing.assert_allclose(Parallel(a, b)(x), np.concatenate([a(x), b(x)], axis=1))
    np.testing.assert_allclose(Concat(a, b)(x), np.concatenate([a(x), b(x)], axis=1))
    c = dense(3, 2, 2)
    np.testing.assert_allclose(Parallel(a, c, mode="sum")(x), a(x) + c(x))
    names = [name for name, _ in Sequential(Parallel(a, b)).named_parameters()]
    assert names == ["0.0.weight", "0.0.bias", "0.1.0.weight", "0.1.0.bias"]


def test_parallel_gradient_splits_the_output_gradient_and_sums_input_gradients() -> None:
    # Branches x -> x (ReLU on positive x) and x -> 2x (Dense 2I): concat y = [x, 2x], so
    # grad_x = grad_y[:, :2] + 2 grad_y[:, 2:].
    double = Dense(2, 2, bias=False, dtype=np.float64)
    double.weight.data[:] = 2 * np.eye(2)
    layer = Parallel(ReLU(), double)
    layer(np.ones((1, 2)))
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 2.0, 10.0, 20.0]])), [[21.0, 42.0]])


def test_parallel_errors_are_clear() -> None:
    x = np.zeros((2, 3, 4), np.float32)  # Flatten: (2, 12); ReLU: (2, 3, 4)
    with pytest.raises(
        ValueError,
        match=r"Parallel: to concatenate .*\(2, 12\) from Flatten\(\), \(2, 3, 4\) from ReLU\(\)",
    ):
        Parallel(Flatten(), ReLU())(x)
    with pytest.raises(
        ValueError,
        match=r"Parallel: mode='sum' needs branch outputs of one shape, "
        r"got shapes \(2, 12\) from Flatten",
    ):
        Parallel(Flatten(), ReLU(), mode="sum")(x)
    with pytest.raises(
        ValueError, match=r"Parallel: mode must be one of \('concat', 'sum'\), got 'stack'"
    ):
        Parallel(ReLU(), mode="stack")
    with pytest.raises(ValueError, match="Concat: expected at least one branch"):
        Concat()
    with pytest.raises(TypeError, match="Parallel: argument 1 must be a Layer, got str"):
        Parallel(ReLU(), "relu")  # type: ignore[arg-type]
    layer = Parallel(ReLU(), Tanh())
    layer(np.zeros((2, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"Parallel: expected grad_y of shape \(2, 6\), got shape \(2, 3\)"
    ):
        layer.backward(np.zeros((2, 3), np.float32))
    layer.eval()(np.zeros((2, 3), np.float32))  # inference mode keeps nothing for backward
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((2, 6), np.float32))


def test_train_and_eval_reach_every_nested_layer() -> None:
    model = Sequential(
        Residual(Sequential(dense(3, 3, 0), Dropout(0.5))), Concat(BatchNorm1d(3), Tanh())
    )
    model.eval()
    assert all(not layer.training for layer in model.modules())
    assert sum(1 for _ in model.modules()) == 8
    model.train()
    assert all(layer.training for layer in model.modules())


def test_container_reprs() -> None:
    assert repr(Residual(ReLU())) == "Residual(\n  (block): ReLU()\n)"
    assert repr(Parallel(ReLU(), Tanh(), mode="sum")) == (
        "Parallel(\n  mode='sum'\n  (0): ReLU()\n  (1): Tanh()\n)"
    )
    assert repr(Concat(ReLU())) == "Concat(\n  (0): ReLU()\n)"


# --- rebuilding from config ------------------------------------------------------------------


def rebuild(layer: Layer) -> Layer:
    """What a loader does: JSON config plus rebuilt children, then the arrays by name."""
    children = [rebuild(child) for _, child in layer.named_children()]
    config = json.loads(json.dumps(layer.config()))
    copy = type(layer).from_config(config, children).astype(np.float64)  # dtype: not config
    for (name, p), (copy_name, q) in zip(
        layer.named_parameters(), copy.named_parameters(), strict=True
    ):
        assert name == copy_name
        q.data = p.data.copy()
        q.grad = np.zeros_like(q.data)
    for (name, b), (copy_name, c) in zip(layer.named_buffers(), copy.named_buffers(), strict=True):
        assert name == copy_name
        c[...] = b
    return copy


REBUILDABLE: dict[str, Callable[[], Layer]] = {
    "gelu_tanh": lambda: GELU(approximate="tanh"),
    "swish": Swish,
    "batchnorm": lambda: perturb(f64(BatchNorm1d(4, eps=1e-3, momentum=0.25))),
    "batchnorm_plain": lambda: f64(BatchNorm1d(4, affine=False)),
    "sum": lambda: Parallel(dense(4, 4, 0), GELU(), mode="sum"),
    **{name: (lambda make=make: make(4)) for name, make in CONTAINERS.items()},
}


@pytest.mark.parametrize("name", REBUILDABLE)
def test_from_config_rebuilds_an_equivalent_layer(name: str) -> None:
    layer = REBUILDABLE[name]()
    x = rand((3, 4), scale=2.0)
    layer(x)  # moves BatchNorm's running statistics away from their start
    copy = rebuild(layer)
    assert type(copy) is type(layer)
    assert repr(copy) == repr(layer)
    assert copy.config() == layer.config()
    for model in (layer, copy):
        model.eval()
    np.testing.assert_array_equal(copy(x), layer(x))
