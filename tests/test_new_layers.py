"""GELU, SiLU/Swish, BatchNorm1d, Residual, Parallel/Concat: gradients, PyTorch parity,
running statistics, naming, nesting, errors and rebuilding from config."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
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
from tinynet.typing import FloatArray

TOLERANCE = 1e-6
SHAPES = st.tuples(st.integers(1, 5), st.integers(1, 6))
"""(batch, features): batch size 1 included."""


def rand(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> FloatArray:
    """Standard normal x. Not from default_rng(seed): gradcheck draws its upstream gradient
    from that, and an upstream gradient affine in x is one BatchNorm's input ignores."""
    return np.random.default_rng((seed, 1)).standard_normal(shape) * scale


def f64(layer: Layer) -> Layer:
    return layer.astype(np.float64)


def perturb(layer: Layer, seed: int = 1) -> Layer:
    """Move every parameter away from its initial value (BatchNorm's 1 and 0 hide bugs)."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data += rng.standard_normal(p.shape) * 0.5
    return layer


# --- activations -------------------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "gelu": GELU,
    "gelu_tanh": lambda: GELU(approximate="tanh"),
    "silu": SiLU,
    "swish": Swish,
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@settings(max_examples=25, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_activation_gradcheck(name: str, shape: tuple[int, int], seed: int) -> None:
    # scale 4: about half the entries of x land beyond |x| = 3, GELU's other branch.
    assert gradcheck(ACTIVATIONS[name](), rand(shape, seed, scale=4.0)) < TOLERANCE


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradcheck_across_the_series_and_tail_boundary(name: str) -> None:
    x = np.array([[-3.0, 3.0, -3 - 1e-7, 3 + 1e-7, -2.9999999, 2.9999999, 0.0, -12.0, 12.0]])
    assert gradcheck(ACTIVATIONS[name](), x) < TOLERANCE


TORCH_ACTIVATIONS = {
    "gelu": ("gelu", {}),
    "gelu_tanh": ("gelu", {"approximate": "tanh"}),
    "silu": ("silu", {}),
    "swish": ("silu", {}),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch_in_float64(name: str) -> None:
    torch = pytest.importorskip("torch")
    function, kwargs = TORCH_ACTIVATIONS[name]
    x = np.concatenate([np.linspace(-40, 40, 8001), np.linspace(-4, 4, 8001)])[None, :]
    grad_y = rand(x.shape)
    t = torch.tensor(x, requires_grad=True)
    want = getattr(torch.nn.functional, function)(t, **kwargs)
    want.backward(torch.tensor(grad_y))
    layer = ACTIVATIONS[name]()
    np.testing.assert_allclose(layer(x), want.detach(), rtol=1e-14, atol=1e-14)
    # atol: torch's 1 + tanh(u) cancels to 0 near x = -7 where the gradient is 1e-14.
    np.testing.assert_allclose(layer.backward(grad_y), t.grad, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch_in_float32(name: str) -> None:
    torch = pytest.importorskip("torch")
    function, kwargs = TORCH_ACTIVATIONS[name]
    x = rand((64, 33), scale=4.0).astype(np.float32)
    y = ACTIVATIONS[name]()(x)
    assert y.dtype == np.float32
    want = getattr(torch.nn.functional, function)(torch.tensor(x), **kwargs)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


def test_gelu_worked_example() -> None:
    # GELU(1) = 1 * Phi(1) = 0.8413447460685429; GELU(-1) = -Phi(-1) = -0.15865525393145707
    # (Phi(1) = (1 + erf(1/sqrt 2)) / 2). GELU'(1) = Phi(1) + phi(1) = 0.8413... + 0.2419707...
    layer = GELU()
    y = layer(np.array([[1.0, -1.0, 0.0]]))
    np.testing.assert_allclose(y, [[0.8413447460685429, -0.15865525393145707, 0.0]], rtol=1e-15)
    grad = layer.backward(np.ones((1, 3)))
    np.testing.assert_allclose(grad[0, 0], 0.8413447460685429 + 0.24197072451914337, rtol=1e-15)
    np.testing.assert_allclose(grad[0, 2], 0.5, rtol=1e-15)


def test_silu_and_gelu_are_finite_and_exact_for_huge_inputs() -> None:
    x = np.array([[-1e4, -800.0, 800.0, 1e4]])  # exp(-800) underflows to 0
    for layer in (SiLU(), GELU(), GELU(approximate="tanh")):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = layer(x)
            grad = layer.backward(np.ones_like(x))
        np.testing.assert_array_equal(y, [[0, 0, 800, 1e4]])  # x * 0 and x * 1
        np.testing.assert_array_equal(grad, [[0, 0, 1, 1]])


def test_gelu_tail_keeps_relative_precision() -> None:
    # torch's (1 + erf(x / sqrt 2)) / 2 is exactly 0 at x = -10; GELU(-10) = -10 Phi(-10)
    # = -7.619853024160527e-23 (Phi(-10) = 7.619853024160527e-24).
    np.testing.assert_allclose(GELU()(np.array([[-10.0]])), -7.619853024160527e-23, rtol=1e-14)


def test_swish_is_silu_under_another_name() -> None:
    x = rand((3, 4))
    assert isinstance(Swish(), SiLU)
    np.testing.assert_array_equal(Swish()(x), SiLU()(x))
    assert repr(Swish()) == "Swish()"


def test_gelu_rejects_unknown_approximation() -> None:
    with pytest.raises(ValueError, match=r"GELU: approximate must be one of .*'sigmoid'"):
        GELU(approximate="sigmoid")
    assert repr(GELU(approximate="tanh")) == "GELU(approximate='tanh')"


# --- BatchNorm1d ---------------------------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 6), c=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_batchnorm_gradcheck(affine: bool, n: int, c: int, seed: int) -> None:
    layer = perturb(f64(BatchNorm1d(c, affine=affine)), seed)
    assert gradcheck(layer, rand((n, c), seed, scale=3.0) + 2) < TOLERANCE


def test_batchnorm_gradcheck_with_two_samples() -> None:
    # With N = 2, x_hat = +-sqrt(var / (var + eps)) barely depends on x: dy/dx is of order
    # eps / var, below what finite differences resolve. A large eps makes it measurable.
    layer = perturb(f64(BatchNorm1d(3, eps=1.0)))
    assert gradcheck(layer, rand((2, 3), scale=2.0)) < TOLERANCE


def test_batchnorm_gradcheck_in_a_network_with_batch_size_one_is_refused() -> None:
    # One sample has no batch variance: PyTorch raises, and so do we, in training mode.
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3.*more than one value per channel.*\(1, 3\).*eval"
    ):
        gradcheck(f64(BatchNorm1d(3)), rand((1, 3)))


def test_batchnorm_worked_example() -> None:
    # One feature, x = [1, 3]: batch mean 2, biased var 1, so x_hat = [-1, 1] / sqrt(1 + eps).
    # running_mean = 0.9 * 0 + 0.1 * 2 = 0.2; running_var = 0.9 * 1 + 0.1 * 2 = 1.1
    # (the unbiased variance of [1, 3] is 2).
    layer = BatchNorm1d(1, dtype=np.float64)
    y = layer(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(y, [[-1 / np.sqrt(1 + 1e-5)], [1 / np.sqrt(1 + 1e-5)]])
    np.testing.assert_allclose(layer.running_mean, [0.2])
    np.testing.assert_allclose(layer.running_var, [1.1])
    layer.eval()  # (x - 0.2) / sqrt(1.1 + eps), one sample at a time is fine now
    np.testing.assert_allclose(layer(np.array([[0.2 + np.sqrt(1.1 + 1e-5)]])), [[1.0]])


def test_batchnorm_updates_its_buffers_in_place_and_only_in_training() -> None:
    layer = BatchNorm1d(4)
    mean, var = layer.running_mean, layer.running_var
    layer(rand((8, 4)).astype(np.float32) + 5)
    assert layer.running_mean is mean
    assert layer.running_var is var
    assert np.all(mean > 0.3)
    before = mean.copy(), var.copy()
    layer.eval()(rand((8, 4), seed=2).astype(np.float32))
    np.testing.assert_array_equal(mean, before[0])
    np.testing.assert_array_equal(var, before[1])
    assert list(dict(layer.named_buffers())) == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert layer.num_batches_tracked == 1  # the training forward only
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_batchnorm_astype_casts_buffers() -> None:
    layer = BatchNorm1d(3).astype(np.float64)
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64
    assert layer(rand((4, 3))).dtype == np.float64


@pytest.mark.parametrize(("momentum", "eps", "affine"), [(0.1, 1e-5, True), (0.3, 1e-3, False)])
def test_batchnorm_matches_torch_over_several_batches(
    momentum: float, eps: float, affine: bool
) -> None:
    torch = pytest.importorskip("torch")
    c = 5
    ours = perturb(BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine, dtype=np.float64))
    theirs = torch.nn.BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine).double()
    if affine:
        assert ours.weight is not None
        assert ours.bias is not None
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.data))
            theirs.bias.copy_(torch.tensor(ours.bias.data))
    for step in range(4):
        x = rand((7 + step, c), seed=step, scale=3.0) - 1
        grad_y = rand(x.shape, seed=100 + step)
        t = torch.tensor(x, requires_grad=True)
        want = theirs(t)
        want.backward(torch.tensor(grad_y))
        np.testing.assert_allclose(ours(x), want.detach(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(ours.backward(grad_y), t.grad, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean, rtol=1e-13)
    np.testing.assert_allclose(ours.running_var, theirs.running_var, rtol=1e-13)
    if affine:
        assert ours.weight is not None
        assert ours.bias is not None
        # Both accumulated over the four steps (nothing zeroed them).
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-12)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad, rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rand((3, c), seed=9)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach(), rtol=1e-12, atol=1e-13)


def test_batchnorm_backward_params_accumulates_what_backward_does() -> None:
    x, grad_y = rand((6, 3)), rand((6, 3), seed=1)
    full, params_only = perturb(f64(BatchNorm1d(3))), perturb(f64(BatchNorm1d(3)))
    full(x)
    full.backward(grad_y)
    params_only(x)
    params_only.backward_params(grad_y)
    for (_, a), (_, b) in zip(full.named_parameters(), params_only.named_parameters(), strict=True):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-15)
        assert np.any(a.grad != 0)


def test_batchnorm_errors_name_the_layer_and_the_shapes() -> None:
    layer = BatchNorm1d(3)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm1d\(3.*expected input of shape \(N, 3\) or \(N, 3, L\), got shape "
        r"\(2, 4\)",
    ):
        layer(np.zeros((2, 4), np.float32))
    with pytest.raises(
        ValueError,
        match=r"expected input of shape \(N, 3\) or \(N, 3, L\), got shape \(2, 3, 1, 1\)",
    ):
        layer(np.zeros((2, 3, 1, 1), np.float32))
    with pytest.raises(TypeError, match=r"BatchNorm1d\(3.*dtype float32, got float64"):
        layer(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="needs a forward"):
        BatchNorm1d(3).backward(np.zeros((2, 3), np.float32))
    layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"grad_y of shape \(2, 3\), got shape \(3, 3\)"):
        layer.backward(np.zeros((3, 3), np.float32))
    for kwargs in (
        {"num_features": 0},
        {"num_features": 2, "eps": 0},
        {"num_features": 2, "momentum": 1.5},
    ):
        with pytest.raises(ValueError, match="BatchNorm1d: "):
            BatchNorm1d(**kwargs)  # type: ignore[arg-type]


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
