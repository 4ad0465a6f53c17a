"""The ONNX converters of tinynet's built-in layers, one function per layer class.

Each is registered with `tinynet.io.onnx_graph.register_onnx` and computes what the
layer computes in inference mode (``model.eval()``): Dropout is left out and
BatchNorm uses its running statistics. The ops chosen, by opset (11 and later):

==============  ==================================================================
Dense           ``Gemm(x, W, b, transB=1)``, W in PyTorch's (out, in) layout
ReLU            ``Relu``; LeakyReLU ``LeakyRelu(alpha)``; Sigmoid, Tanh the same
Softmax         ``Softmax(axis)``, the axis written out. Before opset 13 Softmax
                flattens the axes from ``axis`` on, which equals the one-axis softmax
                only for the last axis: another axis is transposed there and back
GELU            ``Gelu(approximate)`` from opset 20; before, its formula:
                ``x/2 (1 + Erf(x/sqrt 2))`` or ``x/2 (1 + Tanh(sqrt(2/pi)(x + 0.044715 x^3)))``
SiLU, Swish     ``Mul(x, Sigmoid(x))``
Dropout         nothing (the identity)
BatchNorm1d     ``BatchNormalization(x, scale, B, mean, var, epsilon, momentum)`` in
                inference mode; ONNX's momentum is 1 - PyTorch's (its running mean is
                ``mean * momentum + batch * (1 - momentum)``)
Flatten         ``Flatten(axis=1)``
Sequential      its layers in turn
Residual        ``Add(x, block(x))``
Parallel        ``Concat(axis=last)`` of the branches, or ``Sum`` (``mode="sum"``)
==============  ==================================================================
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
from tinynet.layers.dense import Dense
from tinynet.layers.normalization import BatchNorm1d
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten

GELU_OPSET = 20
"""The first opset with a ``Gelu`` op."""
SOFTMAX_ONE_AXIS_OPSET = 13
"""The first opset whose ``Softmax`` normalizes along one axis (before: axes ``axis:``)."""


@register_onnx(Dense)
def dense(layer: Dense, graph: OnnxGraph, x: str) -> str:
    """(N, in) -> (N, out): ``Gemm`` with the weight in PyTorch's layout, as torch writes it."""
    inputs = [x, graph.weight("weight", layer.weight.data.T)]
    if layer.bias is not None:
        inputs.append(graph.weight("bias", layer.bias.data))
    return graph.node("Gemm", inputs, transB=1)


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
def batch_norm(layer: BatchNorm1d, graph: OnnxGraph, x: str) -> str:
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


@register_onnx(Flatten)
def flatten(layer: Flatten, graph: OnnxGraph, x: str) -> str:
    """``Flatten(axis=1)``: (N, d1, ..., dk) -> (N, d1*...*dk), as tinynet's."""
    return graph.node("Flatten", [x], axis=1)


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
