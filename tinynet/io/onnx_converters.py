"""The ONNX converters of tinynet's built-in layers, one function per layer class.

Each is registered with `tinynet.io.onnx_graph.register_onnx` and computes what the
layer computes in inference mode (``model.eval()``): Dropout is left out and
BatchNorm uses its running statistics. The ops chosen, by opset (11 and later):

==============  ==================================================================
Dense           ``Gemm(x, W, b, transB=1)``, W in PyTorch's (out, in) layout; on
                (N, ..., in), ``Add(MatMul(x, Transpose(W)), b)``
ReLU            ``Relu``; LeakyReLU ``LeakyRelu(alpha)``; Sigmoid, Tanh the same
Softmax         ``Softmax(axis)``, the axis written out. Before opset 13 Softmax
                flattens the axes from ``axis`` on, which equals the one-axis softmax
                only for the last axis: another axis is transposed there and back
GELU            ``Gelu(approximate)`` from opset 20; before, its formula:
                ``x/2 (1 + Erf(x/sqrt 2))`` or ``x/2 (1 + Tanh(sqrt(2/pi)(x + 0.044715 x^3)))``
SiLU, Swish     ``Mul(x, Sigmoid(x))``
Dropout         nothing (the identity)
Normalization   ``Mul(Sub(x, mean), 1 / std)``, the adapted statistics as constants
BatchNorm1d,    ``BatchNormalization(x, scale, B, mean, var, epsilon, momentum)`` in
BatchNorm2d     inference mode, on (N, C), (N, C, L) or (N, C, H, W); ONNX's momentum
                is 1 - PyTorch's (its running mean is
                ``mean * momentum + batch * (1 - momentum)``)
Conv2d          ``Conv(x, W, b, kernel_shape, strides, dilations, pads, group)``, W
                (out, in / groups, kh, kw) as it is; ``pads`` is ONNX's [top, left,
                bottom, right], so ``padding="same"`` with an even kernel keeps its
                extra bottom/right row
Conv1d          ``Conv`` on (N, C, T) alike, ``pads`` [begin, end]
MaxPool2d       ``MaxPool(kernel_shape, strides, dilations, pads)``; where a dilated
                window holds padding alone, ``Where(mask, -inf, y)``, as tinynet
AvgPool2d       ``AveragePool(kernel_shape, strides, pads, count_include_pad)``;
                with ``divisor_override=d`` the window sum over d:
                ``Mul(AveragePool(count_include_pad=1), kh*kw/d)``
AdaptiveAvg-    ``GlobalAveragePool`` for output (1, 1); ``AveragePool`` (kernel =
Pool2d          stride = input / output) when the input size is a multiple of the
                output size; else ``MatMul(MatMul(A_h, x), A_w^T)`` with the
                layer's averaging matrices (PyTorch's overlapping bins), exact too
Flatten         ``Flatten(axis=1)``, for input of any rank
Unflatten,      ``Reshape(x, [0, d1, ..., dk])``: an int64 shape whose 0 copies the
Reshape         (dynamic) batch axis, the other sizes those of one sample
Sequential      its layers in turn
Residual        ``Add(x, block(x))``
Parallel        ``Concat(axis=last)`` of the branches, or ``Sum`` (``mode="sum"``)
==============  ==================================================================

The sequence layers' converters are in `tinynet.io.onnx_sequence`.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.containers import Concat, Parallel, Residual, Sequential
from tinynet.io.onnx_graph import OnnxGraph, register_onnx
from tinynet.layers.activations import (
    GELU,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
)
from tinynet.layers.adaptive import AdaptiveAvgPool2d, bin_means
from tinynet.layers.conv import Conv1d, Conv2d
from tinynet.layers.dense import Dense
from tinynet.layers.im2col import Window
from tinynet.layers.normalization import BatchNorm1d, BatchNorm2d, Normalization
from tinynet.layers.pooling import AvgPool2d, MaxPool2d
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten, Reshape, Unflatten
from tinynet.typing import Array

GELU_OPSET = 20
"""The first opset with a ``Gelu`` op."""
SOFTMAX_ONE_AXIS_OPSET = 13
"""The first opset whose ``Softmax`` normalizes along one axis (before: axes ``axis:``)."""


def linear(
    graph: OnnxGraph,
    x: str,
    rank: int,
    weight: Array,
    bias: Array | None,
    weight_name: str = "weight",
    bias_name: str = "bias",
) -> str:
    """``x @ weight.T + bias`` for x of ``rank`` axes (..., in), ``weight`` (out, in),
    PyTorch's layout, stored so: ``Gemm(transB=1)`` for (N, in), else ``MatMul`` by
    ``Transpose(weight)`` (``Gemm`` takes matrices only), then ``Add``."""
    w = graph.weight(weight_name, weight)
    b = None if bias is None else graph.weight(bias_name, bias)
    if rank == 2:
        return graph.node("Gemm", [x, w] if b is None else [x, w, b], transB=1)
    y = graph.node("MatMul", [x, graph.node("Transpose", [w], perm=[1, 0])])
    return y if b is None else graph.node("Add", [y, b])


@register_onnx(Dense)
def dense(layer: Dense, graph: OnnxGraph, x: str) -> str:
    """(N, ..., in) -> (N, ..., out): `linear` with the weight in PyTorch's layout, as
    torch writes it (``Gemm`` for (N, in), ``MatMul`` and ``Add`` for more axes)."""
    bias = None if layer.bias is None else layer.bias.data
    return linear(graph, x, graph.rank(x), layer.weight.data.T, bias)


@register_onnx(ReLU)
def relu(layer: ReLU, graph: OnnxGraph, x: str) -> str:
    """``Relu`` (in place or not: the same values)."""
    return graph.node("Relu", [x])


@register_onnx(LeakyReLU)
def leaky_relu(layer: LeakyReLU, graph: OnnxGraph, x: str) -> str:
    """``LeakyRelu`` with ``alpha`` = the negative slope."""
    return graph.node("LeakyRelu", [x], alpha=layer.negative_slope)


@register_onnx(Sigmoid)
def sigmoid(layer: Sigmoid, graph: OnnxGraph, x: str) -> str:
    """``Sigmoid``."""
    return graph.node("Sigmoid", [x])


@register_onnx(Tanh)
def tanh(layer: Tanh, graph: OnnxGraph, x: str) -> str:
    """``Tanh``."""
    return graph.node("Tanh", [x])


@register_onnx(Softmax)
def softmax(layer: Softmax, graph: OnnxGraph, x: str) -> str:
    """``Softmax`` along the layer's axis, written as a non-negative number."""
    rank = graph.rank(x)
    if not -rank <= layer.axis < rank:
        raise ValueError(f"export_onnx: {layer!r} has no axis {layer.axis} in rank-{rank} input")
    axis = layer.axis % rank
    if graph.opset >= SOFTMAX_ONE_AXIS_OPSET or axis == rank - 1:
        return graph.node("Softmax", [x], axis=axis)
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]  # a swap: its own inverse
    moved = graph.node("Transpose", [x], perm=perm)
    y = graph.node("Softmax", [moved], axis=rank - 1)
    return graph.node("Transpose", [y], perm=perm)


@register_onnx(GELU)
def gelu(layer: GELU, graph: OnnxGraph, x: str) -> str:
    """``Gelu`` from opset 20, else the formula of the layer's form in elementary ops."""
    if graph.opset >= GELU_OPSET:
        return graph.node("Gelu", [x], approximate=layer.approximate)
    if layer.approximate == "tanh":  # x/2 (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2)))
        square = graph.node("Mul", [x, x])
        cubic = graph.node("Mul", [square, graph.scalar("gelu_cubic", 0.044715)])
        factor = graph.node("Add", [cubic, graph.scalar("one", 1.0)])
        inner = graph.node("Mul", [x, factor])
        scaled = graph.node("Mul", [inner, graph.scalar("sqrt_2_over_pi", math.sqrt(2 / math.pi))])
        curve = graph.node("Tanh", [scaled])
    else:  # x/2 (1 + erf(x / sqrt 2))
        scaled = graph.node("Mul", [x, graph.scalar("one_over_sqrt_2", 1 / math.sqrt(2))])
        curve = graph.node("Erf", [scaled])
    gate = graph.node("Add", [curve, graph.scalar("one", 1.0)])
    half = graph.node("Mul", [x, graph.scalar("half", 0.5)])
    return graph.node("Mul", [half, gate])


@register_onnx(SiLU)
@register_onnx(Swish)
def silu(layer: SiLU, graph: OnnxGraph, x: str) -> str:
    """``Mul(x, Sigmoid(x))``."""
    return graph.node("Mul", [x, graph.node("Sigmoid", [x])])


@register_onnx(Dropout)
def dropout(layer: Dropout, graph: OnnxGraph, x: str) -> str:
    """Nothing: Dropout is the identity in inference."""
    return x


@register_onnx(BatchNorm1d)
@register_onnx(BatchNorm2d)
def batch_norm(layer: BatchNorm1d | BatchNorm2d, graph: OnnxGraph, x: str) -> str:
    """``BatchNormalization`` with the running statistics (inference mode).

    Without ``affine`` the scale is ones and the shift zeros. ONNX's ``momentum``
    weighs the running statistic, PyTorch's (and tinynet's) the batch's, hence
    ``1 - momentum``; it matters only to a runtime that trains.
    """
    features = layer.num_features
    if layer.weight is None or layer.bias is None:
        scale = graph.weight("scale", np.ones(features, graph.dtype))
        shift = graph.weight("shift", np.zeros(features, graph.dtype))
    else:
        scale = graph.weight("weight", layer.weight.data)
        shift = graph.weight("bias", layer.bias.data)
    mean = graph.weight("running_mean", layer.running_mean)
    var = graph.weight("running_var", layer.running_var)
    return graph.node(
        "BatchNormalization",
        [x, scale, shift, mean, var],
        epsilon=layer.eps,
        # ONNX's momentum weighs the old statistic, PyTorch's the new one; with PyTorch's
        # momentum=None (a cumulative average) no constant applies, and inference ignores it.
        momentum=1.0 - (0.1 if layer.momentum is None else layer.momentum),
    )


@register_onnx(Normalization)
def normalization(layer: Normalization, graph: OnnxGraph, x: str) -> str:
    """``(x - mean) * (1 / std)`` with the layer's own scale (1 for a constant feature)."""
    centred = graph.node("Sub", [x, graph.weight("mean", layer.mean)])
    return graph.node("Mul", [centred, graph.weight("scale", layer.scale())])


@register_onnx(Flatten)
def flatten(layer: Flatten, graph: OnnxGraph, x: str) -> str:
    """``Flatten(axis=1)``: (N, d1, ..., dk) -> (N, d1*...*dk) in C order, as tinynet's
    (whatever the memory layout of tinynet's array: values are what ONNX sees)."""
    return graph.node("Flatten", [x], axis=1)


@register_onnx(Unflatten)
@register_onnx(Reshape)
def reshape(layer: Unflatten | Reshape, graph: OnnxGraph, x: str) -> str:
    """``Reshape`` to ``[0, *one sample's output shape]``: 0 copies the batch axis, so
    it stays dynamic; a -1 of the layer is written resolved."""
    sample = layer.target((1, *graph.sample_shape(x)))[1:]
    return graph.node("Reshape", [x, graph.weight("shape", np.array([0, *sample], np.int64))])


def _window(window: Window) -> dict[str, list[int]]:
    """The attributes of a window in ONNX's terms: ``pads`` is [top, left, bottom,
    right] (all begins, then all ends), tinynet's `Window` holds (top, bottom, left,
    right)."""
    top, bottom, left, right = window.padding
    return {
        "kernel_shape": list(window.kernel),
        "strides": list(window.stride),
        "pads": [top, left, bottom, right],
    }


@register_onnx(Conv2d)
def conv2d(layer: Conv2d, graph: OnnxGraph, x: str) -> str:
    """``Conv`` with the weight (out, in, kh, kw) as it is (PyTorch's layout and ONNX's),
    the bias if any, and the layer's own (top, bottom, left, right) padding: an even
    kernel's ``padding="same"`` pads one more row and column at the bottom and right."""
    inputs = [x, graph.weight("weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(graph.weight("bias", layer.bias.data))
    window = _window(layer.window)
    return graph.node("Conv", inputs, dilations=list(layer.dilation), group=layer.groups, **window)


@register_onnx(Conv1d)
def conv1d(layer: Conv1d, graph: OnnxGraph, x: str) -> str:
    """``Conv`` on (N, C, T) with the weight (out, in / groups, k) as it is and ``pads``
    [begin, end] (tinynet computes it as a 2-D convolution one row high)."""
    inputs = [x, graph.weight("weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(graph.weight("bias", layer.bias.data))
    _, _, left, right = layer.window.padding
    return graph.node(
        "Conv",
        inputs,
        kernel_shape=list(layer.kernel_size),
        strides=list(layer.stride),
        dilations=list(layer.dilation),
        pads=[left, right],
        group=layer.groups,
    )


@register_onnx(MaxPool2d)
def max_pool(layer: MaxPool2d, graph: OnnxGraph, x: str) -> str:
    """``MaxPool`` (its ``dilations`` exist from opset 10, older than any written).

    ONNX's padding never wins a window, as tinynet's -inf cells do not; but a dilated
    window can hold padding alone, whose maximum is -inf in tinynet and PyTorch and the
    dtype's lowest finite number in onnxruntime. Where the input's (H, W) puts such
    windows, a ``Where`` with a constant mask writes -inf there.
    """
    y = graph.node("MaxPool", [x], dilations=list(layer.dilation), **_window(layer.window))
    _, h, w = graph.sample_shape(x)
    window = layer.window
    oh, ow = window.output_size(h, w)
    top, _, left, _ = window.padding
    rows = _padding_only(h, oh, window.kernel[0], window.stride[0], window.dilation[0], top)
    cols = _padding_only(w, ow, window.kernel[1], window.stride[1], window.dilation[1], left)
    if not (rows.any() or cols.any()):
        return y
    mask = graph.weight("padding_only", (rows[:, np.newaxis] | cols)[np.newaxis, np.newaxis])
    return graph.node("Where", [mask, graph.scalar("minus_inf", -np.inf), y])


def _padding_only(size: int, out: int, kernel: int, stride: int, dilation: int, pad: int) -> Array:
    """Along one axis, for each of the ``out`` windows, whether all its cells are padding."""
    cells = np.arange(out)[:, np.newaxis] * stride + np.arange(kernel) * dilation - pad
    outside: Array = np.all((cells < 0) | (cells >= size), axis=1)
    return outside


@register_onnx(AvgPool2d)
def avg_pool(layer: AvgPool2d, graph: OnnxGraph, x: str) -> str:
    """``AveragePool`` with ``count_include_pad`` written out (ONNX's default, 0, is not
    PyTorch's). ONNX has no ``divisor_override``: the mean over the whole kernel area
    is scaled by ``kh*kw / divisor`` instead, which is the window sum over the divisor."""
    override = layer.divisor_override
    include_pad = layer.count_include_pad or override is not None
    y = graph.node("AveragePool", [x], count_include_pad=int(include_pad), **_window(layer.window))
    area = layer.kernel_size[0] * layer.kernel_size[1]
    if override is None or override == area:
        return y
    return graph.node("Mul", [y, graph.scalar("divisor_scale", area / override)])


@register_onnx(AdaptiveAvgPool2d)
def adaptive_avg_pool(layer: AdaptiveAvgPool2d, graph: OnnxGraph, x: str) -> str:
    """By the input's (H, W), which the graph knows: ``GlobalAveragePool`` for output
    (1, 1); an ``AveragePool`` whose kernel and stride are H/OH and W/OW when those are
    whole; else the layer's own product with the averaging matrices (PyTorch's bins,
    which may overlap), ``MatMul(MatMul(A_h, x), A_w^T)``, broadcast over (N, C)."""
    _, h, w = graph.sample_shape(x)
    oh = h if layer.output_size[0] is None else layer.output_size[0]
    ow = w if layer.output_size[1] is None else layer.output_size[1]
    if (oh, ow) == (1, 1):
        return graph.node("GlobalAveragePool", [x])
    if h % oh == 0 and w % ow == 0:
        kernel = [h // oh, w // ow]
        return graph.node("AveragePool", [x], kernel_shape=kernel, strides=kernel)
    rows = graph.weight("bin_rows", bin_means(h, oh, graph.dtype))
    y = graph.node("MatMul", [rows, x])
    return graph.node("MatMul", [y, graph.weight("bin_cols", bin_means(w, ow, graph.dtype).T)])


@register_onnx(Sequential)
def sequential(layer: Sequential, graph: OnnxGraph, x: str) -> str:
    """Each layer in turn, named by position."""
    for name, child in layer.named_children():
        x = graph.convert(child, x, name)
    return x


@register_onnx(Residual)
def residual(layer: Residual, graph: OnnxGraph, x: str) -> str:
    """``Add(x, block(x))``."""
    return graph.node("Add", [x, graph.convert(layer.block, x, "block")])


@register_onnx(Parallel)
@register_onnx(Concat)
def parallel(layer: Parallel, graph: OnnxGraph, x: str) -> str:
    """The branches on the same x, joined by ``Concat`` along the last axis or ``Sum``."""
    outputs = [graph.convert(branch, x, name) for name, branch in layer.named_children()]
    if layer.mode == "sum":
        return graph.node("Sum", outputs)
    return graph.node("Concat", outputs, axis=graph.rank(outputs[0]) - 1)
