"""Layers: finite-difference gradients on random shapes, worked examples, numerics, dtypes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from helpers import ReseededDropout, away_from_zero, batch_sizes, features, seeds, shapes
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tinynet import (
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Parallel,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    gradcheck,
)
from tinynet.init import normal, uniform

TOL = 1e-6

# Inputs of saturating layers are kept bounded: gradcheck's relative error has no
# absolute floor, so where a saturated tanh/sigmoid/softmax makes every gradient of an
# array ~1e-6 or less, the finite difference's rounding noise (~1e-10 per entry) alone
# exceeds a relative 1e-6 (found with --hypothesis-profile=thorough; see the report).

# --- gradcheck on random shapes (float64) ---------------------------------------------


@given(n=batch_sizes, d_in=features, d_out=features, bias=st.booleans(), seed=seeds)
@example(n=1, d_in=1, d_out=1, bias=True, seed=0)
@example(n=1, d_in=5, d_out=3, bias=False, seed=1)
def test_dense_gradcheck(n: int, d_in: int, d_out: int, bias: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    layer = Dense(d_in, d_out, bias=bias, rng=rng, dtype=np.float64)
    if layer.bias is not None:  # a non-zero bias, so a wrong bias path would show
        layer.bias.data[...] = rng.standard_normal(d_out)
    x = rng.standard_normal((n, d_in))
    assert gradcheck(layer, x) < TOL


@pytest.mark.parametrize("layer_type", [ReLU, LeakyReLU])
@given(shape=shapes, seed=seeds)
@example(shape=(1,), seed=0)
def test_piecewise_linear_gradcheck(layer_type: type, shape: tuple[int, ...], seed: int) -> None:
    x = away_from_zero(np.random.default_rng(seed), shape)
    assert gradcheck(layer_type(), x) < TOL


@given(shape=shapes, seed=seeds, slope=st.floats(0.01, 0.5))
def test_leaky_relu_gradcheck_any_slope(shape: tuple[int, ...], seed: int, slope: float) -> None:
    x = away_from_zero(np.random.default_rng(seed), shape)
    assert gradcheck(LeakyReLU(slope), x) < TOL


@pytest.mark.parametrize("layer_type", [Sigmoid, Tanh, Softmax])
@given(shape=shapes, seed=seeds)
@example(shape=(1, 1), seed=0)
@example(shape=(1, 4), seed=0)
def test_smooth_activation_gradcheck(layer_type: type, shape: tuple[int, ...], seed: int) -> None:
    x = np.random.default_rng(seed).uniform(-3, 3, shape)  # tanh'(3) = 0.0099
    assert gradcheck(layer_type(), x) < TOL


@given(shape=shapes.filter(lambda s: len(s) >= 2), seed=seeds, axis=st.integers(0, 1))
def test_softmax_gradcheck_other_axis(shape: tuple[int, ...], seed: int, axis: int) -> None:
    x = np.random.default_rng(seed).uniform(-3, 3, shape)
    assert gradcheck(Softmax(axis=axis), x) < TOL


@given(shape=shapes, seed=seeds, p=st.sampled_from([0.1, 0.5, 0.8]))
@example(shape=(1,), seed=0, p=0.5)
def test_dropout_with_fixed_mask_gradcheck(shape: tuple[int, ...], seed: int, p: float) -> None:
    x = np.random.default_rng(seed).standard_normal(shape)
    assert gradcheck(ReseededDropout(p, mask_seed=seed), x) < TOL


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), seed=seeds)
@example(shape=(1, 1, 1), seed=0)
def test_flatten_gradcheck(shape: tuple[int, ...], seed: int) -> None:
    x = np.random.default_rng(seed).standard_normal(shape)
    assert gradcheck(Flatten(), x) < TOL


@given(n=batch_sizes, dims=st.tuples(features, features, features, features), seed=seeds)
@example(n=1, dims=(3, 4, 2, 3), seed=0)
def test_nested_sequential_gradcheck(n: int, dims: tuple[int, int, int, int], seed: int) -> None:
    a, b, c, d = dims
    rng = np.random.default_rng(seed)
    glorot = {"rng": rng, "init": "glorot", "dtype": np.float64}  # bounded weights
    inner = Sequential(
        Dense(b, c, **glorot), ReLU(), ReseededDropout(0.3, seed), Dense(c, d, bias=False, **glorot)
    )
    model = Sequential(Dense(a, b, **glorot), Tanh(), inner, Softmax())
    for p in model.parameters():
        if p.data.ndim == 1:  # non-zero biases
            p.data[...] = rng.uniform(-0.5, 0.5, p.shape)
    x = rng.uniform(-1, 1, (n, a))
    pre_relu = inner[0](model[1](model[0](x)))
    assume(np.abs(pre_relu).min() > 1e-3)  # central differences must not cross ReLU's kink
    assert gradcheck(model, x) < TOL


# --- Dense: a worked example ----------------------------------------------------------


def dense_2_to_3() -> Dense:
    layer = Dense(2, 3, dtype=np.float64)
    layer.weight.data[...] = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert layer.bias is not None
    layer.bias.data[...] = [0.5, -0.5, 1.0]
    return layer


def test_dense_forward_and_backward_worked_example() -> None:
    layer = dense_2_to_3()
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    # row 0: [1*1 + 2*4, 1*2 + 2*5, 1*3 + 2*6] + b = [9, 12, 15] + [.5, -.5, 1]
    # row 1: [3*1 - 1*4, 3*2 - 1*5, 3*3 - 1*6] + b = [-1, 1, 3] + [.5, -.5, 1]
    np.testing.assert_array_equal(layer(x), [[9.5, 11.5, 16.0], [-0.5, 0.5, 4.0]])
    g = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    grad_x = layer.backward(g)
    # grad_x = g @ W.T: [1 - 3, 4 - 6] and [2 + 2, 8 + 5]
    np.testing.assert_array_equal(grad_x, [[-2.0, -2.0], [4.0, 13.0]])
    # weight.grad = x.T @ g: [[1*1 + 3*2, 0 + 3*1, -1 + 0], [2*1 - 1*2, 0 - 1*1, -2 - 0]]
    np.testing.assert_array_equal(layer.weight.grad, [[7.0, 3.0, -1.0], [0.0, -1.0, -2.0]])
    # bias.grad = g summed over the batch, with the bias's shape (3,), not (N, 3)
    assert layer.bias is not None
    assert layer.bias.grad.shape == (3,)
    np.testing.assert_array_equal(layer.bias.grad, [3.0, 1.0, -1.0])


def test_gradients_accumulate_until_zero_grad() -> None:
    layer = dense_2_to_3()
    x = np.array([[1.0, 2.0]])
    g = np.array([[1.0, 1.0, 1.0]])
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)  # each backward needs its own forward (it consumes the cache)
    layer.backward(g)
    np.testing.assert_array_equal(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any()
    assert layer.bias is not None
    assert not layer.bias.grad.any()


def test_dense_without_bias_has_only_a_weight() -> None:
    layer = Dense(3, 2, bias=False, seed=0)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((4, 3), np.float32)
    np.testing.assert_allclose(layer(x), x @ layer.weight.data, rtol=1e-6)


def test_dense_bias_starts_at_zero_and_weight_has_torch_transposed_layout() -> None:
    layer = Dense(5, 7, seed=0)
    assert layer.weight.shape == (5, 7)
    assert layer.bias is not None
    assert layer.bias.shape == (7,)
    assert not layer.bias.data.any()


# --- activations: worked examples -----------------------------------------------------


def test_relu_values_and_gradient_zero_at_the_kink() -> None:
    relu = ReLU()
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(relu(x), [[0.0, 0.0, 0.0, 0.5, 2.0]])
    # slope 0 for x <= 0 (PyTorch takes 0 at 0), 1 for x > 0
    np.testing.assert_array_equal(relu.backward(np.full_like(x, 3.0)), [[0, 0, 0, 3.0, 3.0]])


def test_relu_inplace_writes_over_its_input_and_keeps_values_and_gradient() -> None:
    x = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]])
    relu = ReLU(inplace=True)
    y = relu(x)
    assert y is x  # no new array: the output is the input, overwritten
    np.testing.assert_array_equal(x, [[0.0, 0.0, 0.0, 0.5, 2.0]])
    np.testing.assert_array_equal(relu.backward(np.full_like(x, 3.0)), [[0, 0, 0, 3.0, 3.0]])
    assert repr(relu) == "ReLU(inplace=True)"
    assert repr(ReLU()) == "ReLU()"


@given(n=batch_sizes, d_in=features, d_out=features, seed=seeds)
def test_relu_inplace_after_dense_gradcheck(n: int, d_in: int, d_out: int, seed: int) -> None:
    # Where in-place belongs: a Dense's output, which nothing else keeps.
    rng = np.random.default_rng(seed)
    dense = Dense(d_in, d_out, rng=rng, dtype=np.float64)
    dense.bias.data[...] = rng.standard_normal(d_out)  # type: ignore[union-attr]
    model = Sequential(dense, ReLU(inplace=True))
    x = rng.standard_normal((n, d_in))
    pre_relu = x @ dense.weight.data + dense.bias.data  # type: ignore[union-attr]
    assume(np.abs(pre_relu).min() > 1e-3)  # central differences must not cross the kink
    assert gradcheck(model, x) < TOL


def test_relu_inplace_trains_exactly_as_the_allocating_relu() -> None:
    rng = np.random.default_rng(0)
    x, target = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))

    def grads(inplace: bool) -> list[np.ndarray]:
        model = Sequential(
            Dense(5, 6, seed=1, dtype=np.float64),
            ReLU(inplace=inplace),
            Dense(6, 3, seed=2, dtype=np.float64),
        )
        model.backward(model(x) - target)
        return [p.grad for p in model.parameters()]

    for a, b in zip(grads(True), grads(False), strict=True):
        np.testing.assert_array_equal(a, b)


def _with_relu(inplace: bool) -> list[Layer]:
    """Nets where ReLU(inplace=True) overwrites an array another layer keeps or reads:
    after an activation keeping its output, a view of it, first in a skip block or in
    one of two branches."""
    relu = lambda: ReLU(inplace=inplace)  # noqa: E731
    f64 = np.float64
    return [
        Sequential(Dense(3, 3, seed=1, dtype=f64), Tanh(), relu(), Dense(3, 2, seed=2, dtype=f64)),
        Sequential(Dense(3, 3, seed=1, dtype=f64), Sigmoid(), Flatten(), relu()),
        Sequential(Dense(3, 3, seed=1, dtype=f64), Softmax(), relu()),
        Sequential(Dense(3, 3, seed=1, dtype=f64), Residual(relu())),
        Sequential(
            Dense(3, 3, seed=1, dtype=f64), Parallel(relu(), Dense(3, 3, seed=3, dtype=f64))
        ),
        Sequential(relu(), Dense(3, 2, seed=2, dtype=f64)),
    ]


@pytest.mark.parametrize("index", range(len(_with_relu(True))))
def test_relu_inplace_anywhere_equals_relu_and_passes_gradcheck(index: int) -> None:
    # Each net writes in place over an array someone keeps; each must be exact.
    x = np.random.default_rng(0).standard_normal((4, 3))
    given = x.copy()
    inplace, plain = _with_relu(True)[index], _with_relu(False)[index]
    y = inplace(x)
    np.testing.assert_array_equal(y, plain(x))
    np.testing.assert_array_equal(x, given)  # the caller's batch is never written
    grad_y = np.random.default_rng(1).standard_normal(y.shape)
    np.testing.assert_array_equal(inplace.backward(grad_y), plain.backward(grad_y))
    for a, b in zip(inplace.parameters(), plain.parameters(), strict=True):
        np.testing.assert_array_equal(a.grad, b.grad)
    assert gradcheck(_with_relu(True)[index], x) < TOL


def test_relu_inplace_may_follow_a_dense_anywhere() -> None:
    inner = Sequential(Dense(3, 3, seed=0), ReLU(inplace=True))
    model = Sequential(Dense(3, 3, seed=1), ReLU(inplace=True), Residual(inner), Dense(3, 2))
    assert model(np.ones((2, 3), np.float32)).shape == (2, 2)


def test_leaky_relu_values_and_gradient() -> None:
    layer = LeakyReLU(0.1)
    x = np.array([[-2.0, 3.0]])
    np.testing.assert_allclose(layer(x), [[-0.2, 3.0]], rtol=1e-15)
    np.testing.assert_allclose(layer.backward(np.array([[1.0, 1.0]])), [[0.1, 1.0]], rtol=1e-15)
    assert LeakyReLU().negative_slope == 0.01  # PyTorch's default


def test_sigmoid_and_tanh_values() -> None:
    x = np.array([[0.0, np.log(3.0), -np.log(3.0)]])
    sig = Sigmoid()
    # sigmoid(log 3) = 1 / (1 + 1/3) = 3/4; sigmoid(-log 3) = 1/4
    np.testing.assert_allclose(sig(x), [[0.5, 0.75, 0.25]], rtol=1e-15)
    # derivative y (1 - y): 1/4, 3/16, 3/16
    np.testing.assert_allclose(sig.backward(np.ones((1, 3))), [[0.25, 0.1875, 0.1875]], rtol=1e-15)
    tanh = Tanh()
    y = tanh(np.array([[np.arctanh(0.5)]]))
    np.testing.assert_allclose(y, [[0.5]], rtol=1e-15)
    np.testing.assert_allclose(tanh.backward(np.ones((1, 1))), [[0.75]], rtol=1e-15)  # 1 - 0.5^2


def test_softmax_values_rows_sum_to_one() -> None:
    # softmax(log [1, 2, 5]) = [1, 2, 5] / 8
    x = np.log(np.array([[1.0, 2.0, 5.0], [4.0, 4.0, 4.0]]))
    np.testing.assert_allclose(Softmax()(x), [[1 / 8, 2 / 8, 5 / 8], [1 / 3, 1 / 3, 1 / 3]])
    columns = Softmax(axis=0)(x)
    np.testing.assert_allclose(columns.sum(axis=0), np.ones(3))
    np.testing.assert_allclose(columns[:, 0], [0.2, 0.8])  # softmax(log [1, 4]) = [1, 4] / 5


def test_softmax_backward_is_the_jacobian_vector_product() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 4))
    g = rng.standard_normal((1, 4))
    layer = Softmax()
    s = layer(x)[0]
    jacobian = np.diag(s) - np.outer(s, s)  # d s_i / d x_j = s_i (delta_ij - s_j)
    np.testing.assert_allclose(layer.backward(g)[0], jacobian.T @ g[0], rtol=1e-13, atol=1e-15)


# --- numerics at logits of magnitude 1e4 -----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_is_finite_and_exact_at_huge_logits(dtype: type) -> None:
    x = np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], dtype)
    layer = Softmax()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer(x)
        grad = layer.backward(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], dtype))
    np.testing.assert_array_equal(y, np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], dtype))
    # row 0: s = e_0, so s * (g - <g, s>) = e_0 * (1 - 1) = 0
    # row 1: s = 1/3, <g, s> = 2, so grad = (g - 2) / 3 = [-1/3, 0, 1/3]
    np.testing.assert_allclose(grad, [[0, 0, 0], [-1 / 3, 0, 1 / 3]], atol=1e-7)
    assert y.dtype == dtype
    assert grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_finite_and_exact_at_huge_logits(dtype: type) -> None:
    x = np.array([[1e4, -1e4, 0.0]], dtype)
    layer = Sigmoid()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        y = layer(x)
        grad = layer.backward(np.ones_like(x))
    # exact: sigmoid(1e4) = 1 - e^-1e4 rounds to 1, sigmoid(-1e4) = e^-1e4 rounds to 0
    np.testing.assert_array_equal(y, np.array([[1.0, 0.0, 0.5]], dtype))
    np.testing.assert_array_equal(grad, np.array([[0.0, 0.0, 0.25]], dtype))


# --- Dropout --------------------------------------------------------------------------


def test_dropout_zeroes_about_p_and_scales_the_rest() -> None:
    layer = Dropout(0.25, seed=0)
    x = np.ones((400, 250), np.float32)
    y = layer(x)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    # 100,000 Bernoulli(0.25) draws: the zero fraction has std sqrt(.25 * .75 / 1e5) = 0.0014
    assert abs((y == 0).mean() - 0.25) < 0.01
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    grad = layer.backward(np.full_like(x, 2.0))
    np.testing.assert_array_equal(grad, 2 * y)  # the same mask, the same scale
    assert y.dtype == np.float32
    assert grad.dtype == np.float32


def test_dropout_is_the_identity_in_eval_mode_and_with_p_zero() -> None:
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(Dropout(0.5, seed=0).eval()(x), x)
    layer = Dropout(0.0, seed=0)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_masks_differ_between_calls_but_repeat_with_the_seed() -> None:
    x = np.ones((10, 10))
    a, b = Dropout(0.5, seed=1), Dropout(0.5, seed=1)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))


# --- Flatten --------------------------------------------------------------------------


def test_flatten_reshapes_without_copying_and_restores_the_gradient_shape() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    layer = Flatten()
    y = layer(x)
    assert y.shape == (2, 12)
    assert np.shares_memory(x, y)
    np.testing.assert_array_equal(y[1], np.arange(12, 24))
    grad = layer.backward(np.ones((2, 12), np.float32))
    assert grad.shape == (2, 3, 4)
    assert grad.dtype == np.float32


# --- dtype is kept end to end ---------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Dense(4, 3, seed=0),
        lambda: Dense(4, 3, bias=False, seed=0),
        ReLU,
        LeakyReLU,
        Sigmoid,
        Tanh,
        Softmax,
        lambda: Dropout(0.5, seed=0),
        Flatten,
        lambda: Sequential(Dense(4, 5, seed=0), ReLU(), Sequential(Dense(5, 3, seed=1), Tanh())),
    ],
)
def test_float32_in_float32_out_and_float32_gradients(make: Callable[[], Layer]) -> None:
    layer = make()
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    y = layer(x)
    grad = layer.backward(np.ones_like(y))
    assert y.dtype == np.float32
    assert grad.dtype == np.float32
    assert grad.shape == x.shape
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


# --- Dense(bias_init=...): a drawn bias, as the classic networks have ---


def test_bias_init_draws_the_bias_after_the_weight_from_the_same_generator() -> None:
    layer = Dense(5, 3, init=uniform(-0.5, 0.5), bias_init=uniform(-0.5, 0.5), seed=7)
    expected = np.random.default_rng(7)
    weight = expected.uniform(-0.5, 0.5, (5, 3)).astype(np.float32)
    bias = expected.uniform(-0.5, 0.5, (3,)).astype(np.float32)
    assert layer.bias is not None
    np.testing.assert_array_equal(layer.weight.data, weight)
    np.testing.assert_array_equal(layer.bias.data, bias)
    assert layer.bias.data.dtype == np.float32


def test_bias_init_by_name_and_the_default_zero_bias_draws_nothing() -> None:
    drawn = Dense(4, 6, bias_init=normal(1.0), seed=1, dtype=np.float64)
    assert drawn.bias is not None
    assert drawn.bias.data.dtype == np.float64
    assert np.all(drawn.bias.data != 0)
    default = Dense(4, 6, seed=1)
    named = Dense(4, 6, bias_init="zeros", seed=1)
    assert default.bias is not None
    assert named.bias is not None
    np.testing.assert_array_equal(default.bias.data, np.zeros(6, np.float32))
    np.testing.assert_array_equal(named.bias.data, np.zeros(6, np.float32))
    # the zero bias consumes no draws: the next layer from a shared generator is unchanged
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    Dense(4, 6, rng=rng_a)
    Dense(4, 6, bias_init="zeros", rng=rng_b)
    np.testing.assert_array_equal(
        Dense(6, 2, rng=rng_a).weight.data, Dense(6, 2, rng=rng_b).weight.data
    )
    with pytest.raises(ValueError, match="unknown initializer 'nope'"):
        Dense(4, 6, bias_init="nope")
