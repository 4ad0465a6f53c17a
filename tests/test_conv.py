"""Conv2d: finite-difference gradients and PyTorch parity on random geometries, a worked
example, the memory layout it hands on, buffers kept between calls, modes and errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import Geometry, assert_inplace_is_exact, geometries, seeds
from hypothesis import example, given
from hypothesis import strategies as st

from tinynet import Conv2d, MaxPool2d, ReLU, Sequential, gradcheck
from tinynet.layers import conv as conv_module
from tinynet.layers import im2col
from tinynet.typing import FloatArray

TOL = 1e-6

LENET_FIRST = Geometry(2, 1, 6, 6, (5, 5), (1, 1), (2, 2), (1, 1))


def make(g: Geometry, out: int, bias: bool, seed: int, same: bool = False) -> Conv2d:
    """A float64 Conv2d for geometry ``g``, with a non-zero bias."""
    layer = Conv2d(
        g.channels,
        out,
        g.kernel,
        stride=g.stride,
        padding="same" if same else g.padding,
        dilation=g.dilation,
        bias=bias,
        seed=seed,
        dtype=np.float64,
    )
    if layer.bias is not None:
        layer.bias.data[...] = np.random.default_rng(seed).standard_normal(out)
    return layer


def rand(shape: tuple[int, ...], seed: int) -> FloatArray:
    return np.random.default_rng((seed, 7)).standard_normal(shape)


# --- gradients ---------------------------------------------------------------------------


@given(g=geometries(), out=st.integers(1, 3), bias=st.booleans(), seed=seeds)
@example(g=LENET_FIRST, out=2, bias=True, seed=0)
@example(g=Geometry(1, 1, 1, 1, (1, 1), (1, 1), (0, 0), (1, 1)), out=1, bias=False, seed=0)
def test_conv2d_gradcheck(g: Geometry, out: int, bias: bool, seed: int) -> None:
    assert gradcheck(make(g, out, bias, seed), rand(g.shape, seed)) < TOL


@given(g=geometries(), out=st.integers(1, 3), seed=seeds)
def test_conv2d_same_padding_gradcheck(g: Geometry, out: int, seed: int) -> None:
    g = g._replace(stride=(1, 1))
    layer = make(g, out, True, seed, same=True)
    x = rand(g.shape, seed)
    assert layer(x).shape[2:] == x.shape[2:]
    assert gradcheck(layer, x) < TOL


# --- PyTorch parity ----------------------------------------------------------------------


def torch_conv(layer: Conv2d, x: FloatArray, grad_y: FloatArray) -> dict[str, Any]:
    """torch.nn.functional.conv2d's output and gradients for ``layer``'s weights."""
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tb = None if layer.bias is None else torch.tensor(layer.bias.data, requires_grad=True)
    y = torch.nn.functional.conv2d(
        tx, tw, tb, stride=layer.stride, padding=layer.padding, dilation=layer.dilation
    )
    y.backward(torch.tensor(grad_y))
    result = {"y": y.detach().numpy(), "x": tx.grad.numpy(), "weight": tw.grad.numpy()}
    if tb is not None:
        result["bias"] = tb.grad.numpy()
    return result


def assert_matches_torch(layer: Conv2d, x: FloatArray, seed: int, tol: float = 1e-9) -> None:
    y = layer(x)
    grad_y = rand(y.shape, seed + 1).astype(x.dtype)
    want = torch_conv(layer, x, grad_y)
    np.testing.assert_allclose(y, want["y"], rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.backward(grad_y), want["x"], rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.weight.grad, want["weight"], rtol=tol, atol=tol)
    if layer.bias is not None:
        np.testing.assert_allclose(layer.bias.grad, want["bias"], rtol=tol, atol=tol)


@given(g=geometries(), out=st.integers(1, 4), bias=st.booleans(), seed=seeds)
@example(g=LENET_FIRST, out=6, bias=True, seed=0)
def test_conv2d_matches_torch_in_float64(g: Geometry, out: int, bias: bool, seed: int) -> None:
    assert_matches_torch(make(g, out, bias, seed), rand(g.shape, seed), seed)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's
@pytest.mark.parametrize("kernel", [(2, 2), (3, 2), (4, 1)])  # even sizes: odd total padding
def test_conv2d_same_padding_matches_torch(kernel: tuple[int, int]) -> None:
    g = Geometry(2, 2, 7, 6, kernel, (1, 1), (0, 0), (1, 2))
    assert_matches_torch(make(g, 3, True, 4, same=True), rand(g.shape, 4), 4)


@pytest.mark.parametrize(
    "g",
    [
        # LeNet-5's layers at batch 64: products split into blocks, and a tail block
        Geometry(64, 1, 28, 28, (5, 5), (1, 1), (2, 2), (1, 1)),
        Geometry(64, 6, 14, 14, (5, 5), (1, 1), (0, 0), (1, 1)),
        Geometry(9, 5, 17, 12, (3, 3), (2, 2), (1, 1), (1, 1)),
    ],
)
def test_conv2d_matches_torch_on_large_batches(g: Geometry) -> None:
    out = 16 if g.channels == 6 else 6
    assert_matches_torch(make(g, out, True, 2), rand(g.shape, 2), 2)


def test_conv2d_float32_matches_torch_and_stays_float32() -> None:
    g = Geometry(32, 3, 12, 12, (3, 3), (1, 1), (1, 1), (1, 1))
    layer = make(g, 8, True, 3).astype(np.float32)
    x = rand(g.shape, 3).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    grad_x = layer.backward(np.ones_like(y))
    assert grad_x.dtype == layer.weight.grad.dtype == np.float32
    layer.zero_grad()
    assert_matches_torch(layer, x, 3, tol=1e-4)


# --- worked example, accumulation, layout ------------------------------------------------


def test_conv2d_worked_example() -> None:
    # x = [[1, 2, 3], [4, 5, 6]] (one 2x3 image), weight [[1, -1]], bias 0.5:
    # y = x[:, j] - x[:, j + 1] + 0.5 = [[-0.5, -0.5], [-0.5, -0.5]].
    # With grad_y all ones, dweight = [sum of x[:, :2], sum of x[:, 1:]] = [12, 16],
    # dbias = 4, dx = [[1, 0, -1], [1, 0, -1]].
    layer = Conv2d(1, 1, (1, 2), dtype=np.float64)
    layer.weight.data[...] = [[[[1.0, -1.0]]]]
    assert layer.bias is not None
    layer.bias.data[...] = 0.5
    x = np.array([[[[1.0, 2, 3], [4, 5, 6]]]])
    np.testing.assert_array_equal(layer(x), [[[[-0.5, -0.5], [-0.5, -0.5]]]])
    grad_x = layer.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(grad_x, [[[[1.0, 0, -1], [1, 0, -1]]]])
    np.testing.assert_array_equal(layer.weight.grad, [[[[12.0, 16.0]]]])
    np.testing.assert_array_equal(layer.bias.grad, [4.0])


def test_gradients_accumulate_and_backward_params_adds_what_backward_does() -> None:
    g = Geometry(3, 2, 6, 5, (3, 2), (1, 1), (1, 0), (1, 1))
    full, params_only = make(g, 4, True, 5), make(g, 4, True, 5)
    x = rand(g.shape, 5)
    grad_y = rand(full(x).shape, 6)
    full.backward(grad_y)
    once = full.weight.grad.copy()
    full(x)
    full.backward(grad_y)  # a second forward and backward adds the same again
    np.testing.assert_allclose(full.weight.grad, 2 * once, rtol=1e-14)
    for _ in range(2):
        params_only(x)
        params_only.backward_params(grad_y)
    for a, b in zip(full.parameters(), params_only.parameters(), strict=True):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-14)


def test_output_and_input_gradient_are_batch_last_views_and_any_layout_is_read() -> None:
    g = Geometry(4, 3, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1))
    layer = make(g, 5, True, 7)
    x = rand(g.shape, 7)
    y = layer(x)
    assert y.shape == (4, 5, 8, 8)
    assert y.transpose(1, 2, 3, 0).flags.c_contiguous  # (out, OH, OW, N) in memory
    grad_y = rand(y.shape, 8)
    grad_x = layer.backward(grad_y)  # a C-contiguous grad_y, copied into the layout
    assert grad_x.transpose(1, 2, 3, 0).flags.c_contiguous
    weight_grad = layer.weight.grad.copy()
    layer.zero_grad()
    layer(np.asfortranarray(x))  # any strides in
    batch_last = np.empty((*y.shape[1:], 4)).transpose(3, 0, 1, 2)
    batch_last[...] = grad_y
    np.testing.assert_allclose(layer.backward(batch_last), grad_x, rtol=1e-14)
    np.testing.assert_allclose(layer.weight.grad, weight_grad, rtol=1e-14)


def test_a_second_convolution_reads_the_first_ones_output_in_place() -> None:
    first, second = Conv2d(1, 3, 3, seed=0), Conv2d(3, 2, 3, seed=1)
    x = rand((5, 1, 9, 9), 0).astype(np.float32)
    hidden = first(x)
    in_place = second(hidden)
    assert second._cache is not None
    assert second._cache.padded is None  # no padding and batch-last: no copy was made
    np.testing.assert_array_equal(second(np.ascontiguousarray(hidden)), in_place)
    assert second._cache.padded is not None  # C order: one transposing copy


@given(g=geometries(), out=st.integers(1, 3), same=st.booleans(), seed=seeds)
@example(g=Geometry(3, 2, 5, 4, (3, 3), (1, 1), (1, 1), (1, 1)), out=2, same=False, seed=0)
def test_padded_batch_last_input_read_in_place_equals_the_padded_copy(
    g: Geometry, out: int, same: bool, seed: int
) -> None:
    """`im2col_inside` (batch-last input, read in place) and `col2im_inside` give exactly
    what the zero-margined buffer gives (NCHW input), in either order on one layer."""
    g = g._replace(stride=(1, 1)) if same else g
    layer = make(g, out, True, seed, same=same)
    x = rand(g.shape, seed)
    batch_last = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)
    results = []
    for inputs in (x, batch_last, x, batch_last):
        y = layer(inputs)
        results.append((y, layer.backward(rand(y.shape, seed + 1))))
    for y, grad_x in results[1:]:
        np.testing.assert_array_equal(y, results[0][0])
        np.testing.assert_array_equal(grad_x, results[0][1])


def test_a_padded_3x3_convolution_reads_batch_last_input_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    inside = im2col.im2col_inside
    monkeypatch.setattr(im2col, "im2col_inside", lambda *a: calls.append(1) or inside(*a))
    first, second = Conv2d(1, 3, 3, padding=1, seed=0), Conv2d(3, 2, 3, padding=1, seed=1)
    x = rand((4, 1, 6, 6), 0).astype(np.float32)
    second(first(x))
    assert calls == [1]  # the second (batch-last input), not the first (NCHW)
    assert second._cache is not None
    assert second._cache.padded is None
    bigger = Conv2d(3, 2, 5, padding=2, seed=1)
    bigger(first(x))  # 25 offsets: more than INSIDE_TAPS, the padded copy
    assert calls == [1]
    assert bigger._cache is not None
    assert bigger._cache.padded is not None


def test_buffers_are_kept_while_the_shape_stays_and_outputs_are_fresh() -> None:
    layer = Conv2d(2, 3, 3, padding=1, seed=0)
    x = rand((4, 2, 6, 6), 1).astype(np.float32)
    y1 = layer(x)
    workspace = layer._cache
    y2 = layer(x + 1)
    assert layer._cache is workspace  # the same buffers
    assert not np.shares_memory(y1, y2)  # but a new output, which the caller may keep
    layer(x[:3])  # a short last batch gets its own buffers...
    layer(x)
    assert layer._cache is workspace  # ...and the full batch's are still there


def test_inference_in_slices_gives_the_same_outputs(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = make(Geometry(1, 2, 7, 6, (3, 3), (1, 1), (1, 1), (1, 1)), 3, True, 2)
    x = rand((10, 2, 7, 6), 3)
    expected = layer(x)
    layer.eval()
    monkeypatch.setattr(conv_module, "INFERENCE_COLUMN_BYTES", 3 * 18 * 42 * 8)  # 3 samples
    np.testing.assert_allclose(layer(x), expected, rtol=1e-14)
    assert layer._cache is None
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(expected)


def test_a_summary_between_forward_and_backward_leaves_the_gradients_alone() -> None:
    g = Geometry(1, 2, 6, 6, (3, 3), (1, 1), (1, 1), (1, 1))  # batch 1, as summary's
    layer, reference = make(g, 2, True, 3), make(g, 2, True, 3)
    x = rand(g.shape, 1)
    grad_y = rand(layer(x).shape, 3)
    reference(x)
    # an inference forward of a zero image: it must not overwrite the training columns
    Sequential(layer).summary(input_shape=(2, 6, 6), print_fn=None)
    np.testing.assert_array_equal(layer.backward(grad_y), reference.backward(grad_y))
    np.testing.assert_array_equal(layer.weight.grad, reference.weight.grad)


def test_relu_in_place_right_after_conv2d_is_allowed_and_exact() -> None:
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    assert_inplace_is_exact(
        lambda inplace: Sequential(
            Conv2d(1, 3, 3, seed=0), ReLU(inplace), MaxPool2d(2), ReLU(inplace)
        ),
        x,
    )


# --- arguments, errors, description ------------------------------------------------------


def test_output_shapes_follow_pytorchs_formula() -> None:
    x = np.zeros((2, 3, 28, 28), np.float32)
    assert Conv2d(3, 6, 5, padding=2)(x).shape == (2, 6, 28, 28)
    assert Conv2d(3, 6, 5)(x).shape == (2, 6, 24, 24)
    assert Conv2d(3, 6, 3, stride=2, padding=1)(x).shape == (2, 6, 14, 14)
    assert Conv2d(3, 6, (3, 5), stride=(1, 2), dilation=2)(x).shape == (2, 6, 24, 10)
    assert Conv2d(3, 6, 4, padding="same")(x).shape == (2, 6, 28, 28)
    assert Conv2d(3, 6, 4, padding="valid")(x).shape == (2, 6, 25, 25)


def test_parameters_are_named_and_laid_out_as_torchs() -> None:
    layer = Conv2d(3, 8, (5, 3))
    assert [(name, p.shape) for name, p in layer.named_parameters()] == [
        ("weight", (8, 3, 5, 3)),
        ("bias", (8,)),
    ]
    assert [name for name, _ in Conv2d(3, 8, 1, bias=False).named_parameters()] == ["weight"]
    assert (
        Conv2d(3, 8, 3, seed=4).weight.data.tolist() == Conv2d(3, 8, 3, seed=4).weight.data.tolist()
    )


def test_repr_and_config() -> None:
    layer = Conv2d(1, 6, 5, padding=2)
    assert repr(layer) == "Conv2d(1, 6, kernel_size=(5, 5), padding=(2, 2))"
    assert repr(Conv2d(2, 3, (3, 1), stride=2, bias=False)) == (
        "Conv2d(2, 3, kernel_size=(3, 1), stride=(2, 2), bias=False)"
    )
    assert repr(Conv2d(2, 3, 3, padding="same", dilation=2)) == (
        "Conv2d(2, 3, kernel_size=(3, 3), padding='same', dilation=(2, 2))"
    )
    config = Conv2d(2, 3, 3, padding="same", dilation=(2, 1)).config()
    rebuilt = Conv2d.from_config(config, [])
    assert rebuilt.config() == config
    assert rebuilt.window == Conv2d(2, 3, 3, padding="same", dilation=(2, 1)).window


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 0}, "in_channels must be a positive integer, got 0"),
        (
            {"kernel_size": 0},
            r"kernel_size must be an int or a pair of ints from 1 to 1,048,576 .*, got 0",
        ),
        ({"kernel_size": (3, 3, 3)}, r"kernel_size must be .* got \(3, 3, 3\)"),
        ({"stride": (1, 0)}, r"stride must be .* got \(1, 0\)"),
        (
            {"padding": -1},
            r"padding must be an int or a pair of ints from 0 to 1,048,576 .*, got -1",
        ),
        ({"padding": "full"}, r"padding must be an int, a pair or one of \('same', 'valid'\)"),
        ({"padding": "same", "stride": 2}, r"padding='same' needs stride 1"),
        ({"dilation": True}, "dilation must be"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"in_channels": 2, "out_channels": 3, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=f"Conv2d: {message}"):
        Conv2d(**arguments)


def test_bad_inputs_name_the_layer_and_the_shapes() -> None:
    layer = Conv2d(3, 4, 5)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*expected input of shape \(N, 3, H, W\), "):
        layer(np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, D1, D2, D3\), got shape "):
        layer(np.zeros((2, 784), np.float32))
    with pytest.raises(TypeError, match=r"expected input of dtype float32, got float64"):
        layer(np.zeros((2, 3, 28, 28)))
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 9\) is 4x9 padded, smaller than the kernel"):
        layer(np.zeros((2, 3, 4, 9), np.float32))
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((2, 4, 24, 24), np.float32))
    layer(np.zeros((2, 3, 28, 28), np.float32))
    with pytest.raises(
        ValueError, match=r"grad_y of shape \(2, 4, 24, 24\), got shape \(2, 4, 24\)"
    ):
        layer.backward(np.zeros((2, 4, 24), np.float32))


def test_a_second_backward_after_one_forward_is_refused() -> None:
    """Backward consumes what forward kept: a second call cannot add the gradients twice."""
    layer = Conv2d(1, 2, 3, seed=0)
    x = np.random.default_rng(0).random((2, 1, 5, 5), dtype=np.float32)
    g = np.ones((2, 2, 3, 3), np.float32)
    layer(x)
    layer.backward(g)
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(g)
    layer(x)
    layer.backward_params(g)
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward_params(g)
