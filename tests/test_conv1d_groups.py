"""Conv1d and grouped (depthwise) Conv2d: finite-difference gradients, PyTorch parity in
float64 at 1e-9 (outputs, input gradients, every parameter gradient), the layout they
hand on, inference in slices, configs, and errors naming the layer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tinynet import Conv1d, Conv2d, Sequential, gradcheck
from tinynet.layers import conv as conv_module
from tinynet.typing import FloatArray

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = 1e-6


def rand(shape: tuple[int, ...], seed: int) -> FloatArray:
    return np.random.default_rng((seed, 7)).standard_normal(shape)


def with_bias(layer: Conv1d | Conv2d, seed: int) -> Conv1d | Conv2d:
    layer = layer.astype(np.float64)
    if layer.bias is not None:
        layer.bias.data[...] = np.random.default_rng(seed).standard_normal(layer.out_channels)
    return layer


CONV1D: dict[str, dict[str, Any]] = {
    "plain": {"in_channels": 2, "out_channels": 3, "kernel_size": 3},
    "one-tap": {"in_channels": 1, "out_channels": 1, "kernel_size": 1, "bias": False},
    "strided-padded-dilated": {
        "in_channels": 3,
        "out_channels": 2,
        "kernel_size": 3,
        "stride": 2,
        "padding": 2,
        "dilation": 2,
    },
    "same-even-kernel": {"in_channels": 2, "out_channels": 2, "kernel_size": 4, "padding": "same"},
    "valid-tuples": {
        "in_channels": 2,
        "out_channels": 4,
        "kernel_size": (2,),
        "stride": (3,),
        "padding": "valid",
    },
    "groups": {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2, "padding": 1},
    "depthwise": {
        "in_channels": 3,
        "out_channels": 3,
        "kernel_size": 5,
        "groups": 3,
        "padding": 2,
        "bias": False,
    },
    "depthwise-multiplier": {
        "in_channels": 2,
        "out_channels": 6,
        "kernel_size": 2,
        "groups": 2,
        "dilation": 3,
    },
}
CONV2D_GROUPS: dict[str, dict[str, Any]] = {
    "groups": {"in_channels": 4, "out_channels": 6, "kernel_size": 3, "groups": 2, "padding": 1},
    "depthwise": {
        "in_channels": 3,
        "out_channels": 3,
        "kernel_size": (3, 2),
        "groups": 3,
        "stride": (2, 1),
    },
    "depthwise-same-dilated": {
        "in_channels": 2,
        "out_channels": 4,
        "kernel_size": 3,
        "groups": 2,
        "padding": "same",
        "dilation": (1, 2),
        "bias": False,
    },
    "groups-no-padding-strided": {
        "in_channels": 6,
        "out_channels": 3,
        "kernel_size": 2,
        "groups": 3,
        "stride": 2,
    },
}


def conv1d(name: str, seed: int = 0) -> Conv1d:
    layer = with_bias(Conv1d(**CONV1D[name], seed=seed), seed)
    assert isinstance(layer, Conv1d)
    return layer


def conv2d(name: str, seed: int = 0) -> Conv2d:
    layer = with_bias(Conv2d(**CONV2D_GROUPS[name], seed=seed), seed)
    assert isinstance(layer, Conv2d)
    return layer


@pytest.mark.parametrize("name", sorted(CONV1D))
def test_conv1d_gradcheck(name: str) -> None:
    layer = conv1d(name)
    assert gradcheck(layer, rand((3, layer.in_channels, 9), 1)) < TOL


@pytest.mark.parametrize("name", sorted(CONV2D_GROUPS))
def test_grouped_conv2d_gradcheck(name: str) -> None:
    layer = conv2d(name)
    assert gradcheck(layer, rand((2, layer.in_channels, 6, 5), 2)) < TOL


def torch_reference(layer: Conv1d | Conv2d, x: FloatArray, grad_y: FloatArray) -> dict[str, Any]:
    """torch.nn.functional's convolution of ``layer``'s weights: output and gradients."""
    tx = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(layer.weight.data, requires_grad=True)
    tb = None if layer.bias is None else torch.tensor(layer.bias.data, requires_grad=True)
    function = F.conv1d if isinstance(layer, Conv1d) else F.conv2d
    y = function(
        tx,
        tw,
        tb,
        stride=layer.stride,
        padding=layer.padding,
        dilation=layer.dilation,
        groups=layer.groups,
    )
    y.backward(torch.tensor(grad_y))
    result = {"y": y.detach().numpy(), "x": tx.grad.numpy(), "weight": tw.grad.numpy()}
    if tb is not None:
        result["bias"] = tb.grad.numpy()
    return result


def assert_matches_torch(layer: Conv1d | Conv2d, x: FloatArray, tol: float = 1e-9) -> None:
    y = layer(x)
    grad_y = rand(y.shape, 5).astype(x.dtype)
    want = torch_reference(layer, x, grad_y)
    np.testing.assert_allclose(y, want["y"], rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.backward(grad_y), want["x"], rtol=tol, atol=tol)
    np.testing.assert_allclose(layer.weight.grad, want["weight"], rtol=tol, atol=tol)
    if layer.bias is not None:
        np.testing.assert_allclose(layer.bias.grad, want["bias"], rtol=tol, atol=tol)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's
@pytest.mark.parametrize("steps", [9, 64])
@pytest.mark.parametrize("name", sorted(CONV1D))
def test_conv1d_matches_torch_in_float64(name: str, steps: int) -> None:
    layer = conv1d(name, seed=3)
    assert_matches_torch(layer, rand((5, layer.in_channels, steps), 4))


@pytest.mark.parametrize("name", sorted(CONV2D_GROUPS))
def test_grouped_conv2d_matches_torch_in_float64(name: str) -> None:
    layer = conv2d(name, seed=3)
    assert_matches_torch(layer, rand((4, layer.in_channels, 7, 8), 4))


def test_float32_conv1d_and_depthwise_conv2d_match_torch() -> None:
    for layer, shape in [
        (conv1d("groups").astype(np.float32), (16, 4, 50)),
        (conv2d("depthwise").astype(np.float32), (16, 3, 12, 12)),
    ]:
        x = rand(shape, 6).astype(np.float32)
        assert layer(x).dtype == np.float32
        layer.zero_grad()
        assert_matches_torch(layer, x, tol=1e-4)


def test_backward_params_adds_what_backward_does() -> None:
    layer, twin = conv1d("groups"), conv1d("groups")
    x = rand((3, 4, 8), 7)
    grad_y = rand(layer(x).shape, 8)
    layer.backward(grad_y)
    twin(x)
    twin.backward_params(grad_y)
    np.testing.assert_array_equal(layer.weight.grad, twin.weight.grad)
    assert layer.bias is not None
    assert twin.bias is not None
    np.testing.assert_array_equal(layer.bias.grad, twin.bias.grad)


def test_a_conv1d_stack_reads_its_batch_last_outputs_and_trains() -> None:
    """Each Conv1d's output is an (N, C, T) view of a batch-last array; the next one
    reads it as it is, and the stack's gradients are exact."""
    model = Sequential(
        Conv1d(2, 4, 3, padding=1, seed=0, dtype=np.float64),
        Conv1d(4, 4, 3, groups=4, seed=1, dtype=np.float64),
        Conv1d(4, 1, 1, seed=2, dtype=np.float64),
    )
    x = rand((3, 2, 10), 9)
    y = model(x)
    assert y.shape == (3, 1, 8)
    assert y.strides[0] == y.itemsize  # batch-last in memory
    assert gradcheck(model, x) < TOL


def test_conv1d_inference_in_slices_gives_the_same_outputs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    layer = conv1d("depthwise-multiplier")
    x = rand((10, 2, 12), 3)
    expected = layer(x)
    layer.eval()
    monkeypatch.setattr(conv_module, "INFERENCE_COLUMN_BYTES", 3 * 2 * 2 * 9 * 8)  # 3 samples
    np.testing.assert_allclose(layer(x), expected, rtol=1e-14)
    assert layer._cache is None


def test_shapes_and_state_dicts_are_torchs() -> None:
    layer = Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    module = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    assert {k: v.shape for k, v in layer.state_dict().items()} == {
        k: tuple(v.shape) for k, v in module.state_dict().items()
    }
    assert layer(np.zeros((2, 4, 11), np.float32)).shape == module(torch.zeros(2, 4, 11)).shape
    depthwise = Conv2d(3, 6, 3, groups=3)
    assert depthwise.weight.shape == (6, 1, 3, 3)


def test_repr_and_config_round_trip() -> None:
    layer = Conv1d(4, 6, 3, stride=2, padding="valid", dilation=2, groups=2, bias=False)
    assert repr(layer) == (
        "Conv1d(4, 6, kernel_size=(3,), stride=(2,), dilation=(2,), groups=2, bias=False)"
    )
    assert repr(layer) == repr(
        torch.nn.Conv1d(4, 6, 3, stride=2, padding="valid", dilation=2, groups=2, bias=False)
    ).replace(", padding=valid", "")
    assert repr(Conv2d(2, 4, 3, groups=2)) == "Conv2d(2, 4, kernel_size=(3, 3), groups=2)"
    for original in (layer, Conv1d(2, 2, 4, padding="same"), Conv2d(4, 4, 3, groups=4)):
        config = original.config()
        rebuilt = type(original).from_config(config, [])
        assert rebuilt.config() == config
        assert rebuilt.window == original.window
    assert Conv1d(2, 2, 4, padding="same").window.padding == (0, 0, 1, 2)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (Conv1d, {"groups": 2}, r"Conv1d: in_channels must be divisible by groups, got in_"),
        (Conv2d, {"out_channels": 3, "groups": 2, "in_channels": 4}, r"out_channels must be div"),
        (Conv2d, {"groups": 0}, r"Conv2d: groups must be a positive integer, got 0"),
        (
            Conv1d,
            {"kernel_size": (3, 3)},
            r"Conv1d: kernel_size must be an int from 1 to 1,048,576 .*, got",
        ),
        (
            Conv1d,
            {"kernel_size": 0},
            r"Conv1d: kernel_size must be an int from 1 to 1,048,576 .*, got 0",
        ),
        (Conv1d, {"padding": -1}, r"Conv1d: padding must be an int from 0 to 1,048,576 .*, got -1"),
        (Conv1d, {"padding": "full"}, r"Conv1d: padding must be an int, a pair or one of"),
        (Conv1d, {"padding": "same", "stride": 2}, r"Conv1d: padding='same' needs stride 1"),
        (Conv1d, {"dilation": True}, r"Conv1d: dilation must be an int from 1 to"),
    ],
)
def test_bad_arguments_are_named(cls: type, kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"in_channels": 3, "out_channels": 4, "kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        cls(**arguments)


def test_bad_inputs_name_the_layer_and_the_shapes() -> None:
    layer = Conv1d(3, 4, 5)
    with pytest.raises(ValueError, match=r"Conv1d\(3, 4.*expected input of shape \(N, 3, T\)"):
        layer(np.zeros((2, 1, 28), np.float32))
    with pytest.raises(ValueError, match=r"expected input of shape \(N, D1, D2\), got shape "):
        layer(np.zeros((2, 3, 4, 4), np.float32))
    with pytest.raises(TypeError, match=r"expected input of dtype float32, got float64"):
        layer(np.zeros((2, 3, 28)))
    with pytest.raises(ValueError, match=r"\(2, 3, 4\) is 4 steps padded, fewer than the kern"):
        layer(np.zeros((2, 3, 4), np.float32))
    layer(np.zeros((2, 3, 28), np.float32))
    with pytest.raises(ValueError, match=r"grad_y of shape \(2, 4, 24\), got shape \(2, 4, 23\)"):
        layer.backward(np.zeros((2, 4, 23), np.float32))
    assert layer.backward(np.zeros((2, 4, 24), np.float32)).shape == (2, 3, 28)
    with pytest.raises(RuntimeError, match="needs a forward"):
        layer.backward(np.zeros((2, 4, 24), np.float32))
