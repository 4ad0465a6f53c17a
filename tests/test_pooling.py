"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d: finite-difference gradients and PyTorch
parity on random geometries, ties, worked examples, memory layout and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from helpers import Geometry, assert_inplace_is_exact, geometries, seeds
from hypothesis import assume, example, given
from hypothesis import strategies as st

from tinynet import (
    AdaptiveAvgPool2d,
    AvgPool2d,
    Conv2d,
    Layer,
    MaxPool2d,
    ReLU,
    Sequential,
    gradcheck,
)
from tinynet.layers import im2col
from tinynet.typing import FloatArray

TOL = 1e-6
TORCH_TOL = 1e-9

PAIRWISE = Geometry(2, 3, 8, 6, (2, 2), (2, 2), (0, 0), (1, 1))


def distinct(shape: tuple[int, ...], seed: int) -> FloatArray:
    """Values a unit apart in random order: no window has two maxima within the
    finite-difference step, so the max is differentiable at every input."""
    count = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(count).reshape(shape) * 1.0 - count / 2


def rand(shape: tuple[int, ...], seed: int) -> FloatArray:
    return np.random.default_rng((seed, 3)).standard_normal(shape)


def max_pool(g: Geometry) -> MaxPool2d:
    return MaxPool2d(g.kernel, g.stride, g.padding, g.dilation)


def avg_pool(g: Geometry, count_include_pad: bool = True) -> AvgPool2d:
    return AvgPool2d(g.kernel, g.stride, g.padding, count_include_pad=count_include_pad)


def torch_result(function: Callable[[Any], Any], x: FloatArray, grad_y: FloatArray) -> Any:
    """``function``'s output and input gradient in torch."""
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    y = function(tx)
    y.backward(torch.tensor(grad_y))
    return y.detach().numpy(), tx.grad.numpy()


def assert_matches(layer: Layer, function: Callable[[Any], Any], x: FloatArray, seed: int) -> None:
    y = layer(x)
    grad_y = rand(y.shape, seed + 1)
    want_y, want_grad = torch_result(function, x, grad_y)
    np.testing.assert_allclose(y, want_y, rtol=TORCH_TOL, atol=TORCH_TOL)
    np.testing.assert_allclose(layer.backward(grad_y), want_grad, rtol=TORCH_TOL, atol=TORCH_TOL)


# --- MaxPool2d ---------------------------------------------------------------------------


@given(g=geometries(pool=True), seed=seeds)
@example(g=PAIRWISE, seed=0)
def test_max_pool_gradcheck(g: Geometry, seed: int) -> None:
    layer, x = max_pool(g), distinct(g.shape, seed)
    # A dilated window can hold padding cells only (PyTorch allows it): its max is -inf.
    assume(np.all(np.isfinite(layer(x))))
    assert gradcheck(layer, x) < TOL


@given(g=geometries(pool=True), seed=seeds, ties=st.booleans())
@example(g=PAIRWISE, seed=0, ties=True)
@example(g=PAIRWISE, seed=1, ties=False)
def test_max_pool_matches_torch_in_float64(g: Geometry, seed: int, ties: bool) -> None:
    torch = pytest.importorskip("torch")
    x = rand(g.shape, seed)
    if ties:  # as after a ReLU: many windows of zeros, where the first cell must win
        x = np.maximum(np.round(x), 0)
    function = lambda t: torch.nn.functional.max_pool2d(  # noqa: E731
        t, g.kernel, g.stride, g.padding, g.dilation
    )
    assert_matches(max_pool(g), function, x, seed)


def test_max_pool_worked_example_with_ties_going_to_the_first_cell() -> None:
    # Windows [[1, 5], [5, 2]] and [[0, 0], [0, 0]]: maxima 5 (first at top right) and 0
    # (first at top left); the gradient goes there only.
    x = np.array([[[[1.0, 5, 0, 0], [5, 2, 0, 0]]]])
    layer = MaxPool2d(2)
    np.testing.assert_array_equal(layer(x), [[[[5.0, 0.0]]]])
    grad = layer.backward(np.array([[[[10.0, 20.0]]]]))
    np.testing.assert_array_equal(grad, [[[[0.0, 10, 20, 0], [0, 0, 0, 0]]]])


@pytest.mark.parametrize("shape", [(3, 2, 8, 6), (2, 1, 7, 9), (1, 4, 2, 2)])
def test_the_pairwise_path_equals_the_general_one(shape: tuple[int, ...]) -> None:
    x = np.maximum(np.round(rand(shape, 5) * 2), 0)  # with ties
    pairwise, general = MaxPool2d(2), MaxPool2d((2, 2), stride=2, dilation=1)
    assert pairwise._is_pairwise()
    general.window = im2col.Window((2, 2), (2, 2), (1, 1), (0, 0, 0, 0))
    general._is_pairwise = lambda: False  # type: ignore[method-assign]
    np.testing.assert_array_equal(pairwise(x), general(x))
    grad_y = rand(pairwise(x).shape, 6)
    np.testing.assert_array_equal(pairwise.backward(grad_y), general.backward(grad_y))


def test_the_pairwise_paths_kept_buffers_follow_shapes_layouts_and_modes() -> None:
    """The pairwise path keeps its work arrays between calls: a new shape or memory layout,
    eval mode between steps, and a batch-last input all give what a fresh layer gives."""
    kept = MaxPool2d(2)
    for shape, batch_last in [((3, 2, 8, 6), False), ((2, 3, 4, 4), True), ((3, 2, 8, 6), True)]:
        x = np.maximum(np.round(rand(shape, 7) * 2), 0).astype(np.float32)  # with ties
        if batch_last:
            x = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
        fresh = MaxPool2d(2)
        y = kept(x)
        np.testing.assert_array_equal(kept.eval()(x + 1), fresh.eval()(x + 1))
        kept.train()
        y = kept(x)
        np.testing.assert_array_equal(y, fresh.train()(x))
        grad_y = rand(y.shape, 8).astype(np.float32)
        np.testing.assert_array_equal(kept.backward(grad_y), fresh.backward(grad_y))


def test_max_pool_propagates_nan_as_torch_does() -> None:
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 0] = np.nan
    y = MaxPool2d(2)(x)
    assert np.isnan(y[0, 0, 0, 0])
    assert y[0, 0, 0, 1] == 0


# --- AvgPool2d ---------------------------------------------------------------------------


@given(g=geometries(pool=True, dilation=False), seed=seeds, include=st.booleans())
def test_avg_pool_gradcheck(g: Geometry, seed: int, include: bool) -> None:
    assert gradcheck(avg_pool(g, include), rand(g.shape, seed)) < TOL


@given(g=geometries(pool=True, dilation=False), seed=seeds, include=st.booleans())
@example(g=PAIRWISE, seed=0, include=True)
def test_avg_pool_matches_torch_in_float64(g: Geometry, seed: int, include: bool) -> None:
    torch = pytest.importorskip("torch")
    function = lambda t: torch.nn.functional.avg_pool2d(  # noqa: E731
        t, g.kernel, g.stride, g.padding, count_include_pad=include
    )
    assert_matches(avg_pool(g, include), function, rand(g.shape, seed), seed)


def test_avg_pool_divisor_override_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    x = rand((2, 3, 7, 6), 1)
    function = lambda t: torch.nn.functional.avg_pool2d(t, 3, 2, 1, divisor_override=5)  # noqa: E731
    assert_matches(AvgPool2d(3, 2, 1, divisor_override=5), function, x, 1)


def test_avg_pool_worked_example() -> None:
    # 2x2 windows of [[1, 2, 3, 4], [5, 6, 7, 8]]: means 3.5 and 5.5; each cell gets a
    # quarter of its window's gradient.
    x = np.array([[[[1.0, 2, 3, 4], [5, 6, 7, 8]]]])
    layer = AvgPool2d(2)
    np.testing.assert_array_equal(layer(x), [[[[3.5, 5.5]]]])
    grad = layer.backward(np.array([[[[4.0, 8.0]]]]))
    np.testing.assert_array_equal(grad, [[[[1.0, 1, 2, 2], [1, 1, 2, 2]]]])


# --- AdaptiveAvgPool2d -------------------------------------------------------------------

ADAPTIVE_SIZES = [1, 2, (3, None), (None, 2), (4, 3), (7, 9), (9, 11)]


@pytest.mark.parametrize("size", ADAPTIVE_SIZES)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 8), w=st.integers(1, 8))
def test_adaptive_avg_pool_gradcheck(size: Any, n: int, c: int, h: int, w: int) -> None:
    assert gradcheck(AdaptiveAvgPool2d(size), rand((n, c, h, w), h * w)) < TOL


@pytest.mark.parametrize("size", ADAPTIVE_SIZES)
@pytest.mark.parametrize("shape", [(2, 3, 7, 9), (1, 2, 5, 5), (3, 1, 1, 4)])
def test_adaptive_avg_pool_matches_torch(size: Any, shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    function = lambda t: torch.nn.functional.adaptive_avg_pool2d(t, size)  # noqa: E731
    assert_matches(AdaptiveAvgPool2d(size), function, rand(shape, 2), 2)


def test_global_average_pooling_then_flatten_gives_channel_means() -> None:
    x = rand((4, 3, 5, 6), 0)
    y = AdaptiveAvgPool2d(1)(x)
    assert y.shape == (4, 3, 1, 1)
    np.testing.assert_allclose(y[:, :, 0, 0], x.mean(axis=(2, 3)), rtol=1e-14)


# --- all pools ---------------------------------------------------------------------------

POOLS: dict[str, Callable[[], Layer]] = {
    "max": lambda: MaxPool2d(2),
    "max-padded": lambda: MaxPool2d(3, 2, 1),
    "avg": lambda: AvgPool2d(2),
    "avg-overlapping": lambda: AvgPool2d(3, 1, 1, count_include_pad=False),
    "adaptive": lambda: AdaptiveAvgPool2d(1),
    "adaptive-grid": lambda: AdaptiveAvgPool2d((2, 3)),
}


@pytest.mark.parametrize("name", POOLS)
def test_pools_keep_a_batch_last_layout_and_float32(name: str) -> None:
    conv = Conv2d(2, 3, 3, seed=0)
    x = conv(rand((4, 2, 10, 10), 0).astype(np.float32))  # batch-last in memory
    pool = POOLS[name]()
    y = pool(x)
    assert y.dtype == np.float32
    grad = pool.backward(np.ones_like(y))
    assert grad.dtype == np.float32
    assert grad.shape == x.shape
    if name != "adaptive-grid":  # a product of matrices, laid out by matmul
        assert grad.transpose(1, 2, 3, 0).flags.c_contiguous  # what conv.backward reads in place
    # the same values (sums may differ in the last bit: another order of additions)
    np.testing.assert_allclose(y, POOLS[name]()(np.ascontiguousarray(x)), rtol=1e-6)


@pytest.mark.parametrize("name", POOLS)
def test_relu_in_place_after_a_pool_is_exact(name: str) -> None:
    x = rand((3, 2, 6, 6), 4).astype(np.float32)
    assert_inplace_is_exact(lambda inplace: Sequential(POOLS[name](), ReLU(inplace)), x)


def test_shapes_follow_pytorchs_formula_and_stride_defaults_to_the_kernel() -> None:
    x = np.zeros((2, 6, 28, 28), np.float32)
    assert MaxPool2d(2)(x).shape == (2, 6, 14, 14)
    assert MaxPool2d(3, stride=2, padding=1)(x).shape == (2, 6, 14, 14)
    assert MaxPool2d((2, 3), stride=(2, 1), dilation=(1, 2))(x).shape == (2, 6, 14, 24)
    assert AvgPool2d(2)(np.zeros((2, 6, 9, 7), np.float32)).shape == (2, 6, 4, 3)
    assert AvgPool2d(5, stride=1, padding=2)(x).shape == x.shape


def test_repr_and_config() -> None:
    assert repr(MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2))"
    assert repr(AvgPool2d(3, 1, 1, count_include_pad=False)) == (
        "AvgPool2d(kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), count_include_pad=False)"
    )
    assert repr(AdaptiveAvgPool2d(1)) == "AdaptiveAvgPool2d(output_size=1)"
    assert repr(AdaptiveAvgPool2d((2, None))) == "AdaptiveAvgPool2d(output_size=(2, None))"
    for layer in (
        MaxPool2d(3, 2, 1, dilation=2),
        AvgPool2d(2, divisor_override=3),
        AdaptiveAvgPool2d((2, None)),
    ):
        rebuilt = type(layer).from_config(layer.config(), [])
        assert repr(rebuilt) == repr(layer)
        assert rebuilt.config() == layer.config()


def test_errors_name_the_layer_and_the_shapes() -> None:
    with pytest.raises(ValueError, match=r"MaxPool2d: padding \(2, 2\) must be at most half the"):
        MaxPool2d(3, padding=2)
    with pytest.raises(ValueError, match=r"AvgPool2d: kernel_size must be an int or a pair"):
        AvgPool2d(0)
    with pytest.raises(ValueError, match="AvgPool2d: divisor_override must be a positive int"):
        AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d: output_size must be"):
        AdaptiveAvgPool2d(0)
    layer = MaxPool2d(3)
    with pytest.raises(ValueError, match=r"MaxPool2d\(.*expected input of shape \(N, D1, D2, D3\)"):
        layer(np.zeros((2, 9), np.float32))
    with pytest.raises(
        ValueError, match=r"input of shape \(1, 1, 2, 5\) is smaller than the window"
    ):
        layer(np.zeros((1, 1, 2, 5), np.float32))
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((1, 1, 1, 1), np.float32))
    layer(np.zeros((1, 1, 6, 6), np.float32))
    with pytest.raises(
        ValueError, match=r"grad_y of shape \(1, 1, 2, 2\), got shape \(1, 1, 3, 3\)"
    ):
        layer.backward(np.zeros((1, 1, 3, 3), np.float32))


def test_adaptive_average_keeps_infinities_and_nan_in_their_own_bins() -> None:
    """r3 d17: the averaging products gave 0 * -inf = NaN in every bin. PyTorch's rule:
    a bin holding -inf is -inf, +inf and -inf together or a NaN is NaN, others unharmed.
    Bins of a 4x4 map into (2, 2): rows 0-1 / 2-3, the same for columns."""
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x[0, 0, 0, 0] = -np.inf  # bin (0, 0)
    x[0, 0, 0, 3] = np.inf  # bin (0, 1)
    x[0, 0, 1, 2] = -np.inf  # bin (0, 1) too: inf - inf
    x[0, 0, 3, 3] = np.nan  # bin (1, 1)
    y = AdaptiveAvgPool2d(2)(x)[0, 0]
    assert y[0, 0] == -np.inf
    assert np.isnan(y[0, 1])
    assert y[1, 0] == (8 + 9 + 12 + 13) / 4
    assert np.isnan(y[1, 1])
    x = np.zeros((1, 1, 3, 1), np.float32)
    x[0, 0, 0, 0] = -np.inf  # overlapping bins of 3 rows into 2: rows 0-1 and 1-2
    np.testing.assert_array_equal(AdaptiveAvgPool2d((2, 1))(x)[0, 0, :, 0], [-np.inf, 0.0])
    x[0, 0, 1, 0] = np.inf  # the middle row is in both bins: -inf + inf, then inf + 0
    np.testing.assert_array_equal(AdaptiveAvgPool2d((2, 1))(x)[0, 0, :, 0], [np.nan, np.inf])
