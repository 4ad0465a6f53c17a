"""The ONNX converters of tinynet's sequence layers (see `tinynet.io.onnx_converters`
for the others). Each computes what the layer computes in inference mode:

====================  ==============================================================
Embedding             ``Gather(weight, indices, axis=0)``: int64 (N, T) -> (N, T, D)
PositionalEmbedding   ``Add(x, Slice(weight, [0], [T]))``, T from the graph's sample
LayerNorm             ``LayerNormalization(x, weight, bias, axis=-1, epsilon)`` from
                      opset 17 (ones and zeros without the affine parameters);
                      before, its formula: ``(x - mean) / Sqrt(var + eps) * w + b``
                      with ``ReduceMean`` over the last axis
RNN, LSTM, GRU        one ONNX ``RNN`` (tanh) / ``LSTM`` / ``GRU`` node per stacked
                      layer, on the time-major (T, N, C) sequence (``Transpose``
                      in and out when ``batch_first``). Their weights ``W_l{k}``,
                      ``R_l{k}`` (1, G*H, in) and ``B_l{k}`` (1, 2*G*H) are the
                      layer's, gates reordered to ONNX's order: PyTorch's LSTM i, f,
                      g, o is ONNX's i, o, f, c; its GRU r, z, n is ONNX's z, r, h,
                      with ``linear_before_reset=1`` (PyTorch's reset gate multiplies
                      ``h W_hn + b_hn``). The (T, 1, N, H) output is reshaped to
                      (T, N, H)
MultiheadAttention    the layer's formula: ``MatMul`` by ``Transpose(in_proj_weight)``
                      plus ``in_proj_bias`` -> (N, T, 3, heads, d), transposed and
                      cut by ``Gather`` into q, k, v (N, heads, T, d);
                      ``Softmax(q k^T / sqrt(d) [+ mask])`` on the last axis, with
                      ``causal`` the (T, T) mask of -inf above the diagonal; ``MatMul``
                      by v, heads side by side, then ``out_proj`` as a Dense
====================  ==============================================================

``batch_first=False`` layers take (T, N, ...) with T the graph's dynamic first axis;
causal attention needs T at export, so it is exported with ``batch_first=True`` only.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.io.errors import ConversionError
from tinynet.io.onnx_converters import linear
from tinynet.io.onnx_graph import OnnxGraph, register_onnx
from tinynet.layers.attention import MultiheadAttention
from tinynet.layers.embedding import Embedding, PositionalEmbedding
from tinynet.layers.layernorm import LayerNorm
from tinynet.layers.recurrent import GRU, LSTM, RNN
from tinynet.typing import Array

LAYER_NORMALIZATION_OPSET = 17
"""The first opset with a ``LayerNormalization`` op."""

_ONNX_GATES = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}
"""For each op, the PyTorch gate (block of H rows) at each of ONNX's gate positions:
LSTM i, f, g, o -> i, o, f, c; GRU r, z, n -> z, r, h."""


def _int64(graph: OnnxGraph, name: str, values: list[int]) -> str:
    return graph.weight(name, np.array(values, np.int64))


@register_onnx(Embedding)
def embedding(layer: Embedding, graph: OnnxGraph, x: str) -> str:
    """int64 indices (N, T) -> ``Gather(weight, x, axis=0)`` (N, T, D)."""
    return graph.node("Gather", [graph.weight("weight", layer.weight.data), x], axis=0)


@register_onnx(PositionalEmbedding)
def positional_embedding(layer: PositionalEmbedding, graph: OnnxGraph, x: str) -> str:
    """(N, T, D) -> ``x + weight[:T]``: the whole table, sliced to the sample's T."""
    steps = graph.sample_shape(x)[0]
    table = graph.weight("weight", layer.weight.data)
    rows = graph.node("Slice", [table, _int64(graph, "start", [0]), _int64(graph, "end", [steps])])
    return graph.node("Add", [x, rows])


@register_onnx(LayerNorm)
def layer_norm(layer: LayerNorm, graph: OnnxGraph, x: str) -> str:
    """``LayerNormalization`` over the last axis from opset 17, its formula before."""
    features = layer.normalized_shape[0]
    if layer.weight is None or layer.bias is None:
        scale = graph.weight("scale", np.ones(features, graph.dtype))
        shift = graph.weight("shift", np.zeros(features, graph.dtype))
    else:
        scale = graph.weight("weight", layer.weight.data)
        shift = graph.weight("bias", layer.bias.data)
    if graph.opset >= LAYER_NORMALIZATION_OPSET:
        return graph.node("LayerNormalization", [x, scale, shift], axis=-1, epsilon=layer.eps)
    last = graph.rank(x) - 1  # ReduceMean takes its axes as an attribute before opset 18
    centered = graph.node("Sub", [x, graph.node("ReduceMean", [x], axes=[last])])
    variance = graph.node("ReduceMean", [graph.node("Mul", [centered, centered])], axes=[last])
    std = graph.node("Sqrt", [graph.node("Add", [variance, graph.scalar("eps", layer.eps)])])
    normalized = graph.node("Div", [centered, std])
    return graph.node("Add", [graph.node("Mul", [normalized, scale]), shift])


def _gates(array: Array, kind: str) -> Array:
    """(G*H, ...) rows of PyTorch's gate blocks in ONNX's order, with a leading axis of
    one (ONNX's num_directions)."""
    blocks = np.split(array, len(_ONNX_GATES[kind]), axis=0)
    ordered: Array = np.concatenate([blocks[i] for i in _ONNX_GATES[kind]], axis=0)
    return ordered[np.newaxis]


@register_onnx(RNN)
@register_onnx(LSTM)
@register_onnx(GRU)
def recurrent(layer: RNN | LSTM | GRU, graph: OnnxGraph, x: str) -> str:
    """One ONNX ``RNN``/``LSTM``/``GRU`` node per stacked layer, on (T, N, C)."""
    kind = type(layer).__name__
    sequence = graph.node("Transpose", [x], perm=[1, 0, 2]) if layer.batch_first else x
    attributes: dict[str, int] = {"hidden_size": layer.hidden_size}
    if kind == "GRU":
        attributes["linear_before_reset"] = 1
    shape = _int64(graph, "output_shape", [0, -1, layer.hidden_size])
    for k in range(layer.num_layers):
        weights = layer.layer_weights(k)
        inputs = [
            graph.weight(f"W_l{k}", _gates(weights.ih.data, kind)),
            graph.weight(f"R_l{k}", _gates(weights.hh.data, kind)),
        ]
        if weights.bias_ih is not None and weights.bias_hh is not None:
            both = np.concatenate(
                [_gates(weights.bias_ih.data, kind), _gates(weights.bias_hh.data, kind)], axis=1
            )
            inputs.append(graph.weight(f"B_l{k}", both))
        y = graph.node(kind, [sequence, *inputs], **attributes)  # (T, 1, N, H)
        sequence = graph.node("Reshape", [y, shape])
    return graph.node("Transpose", [sequence], perm=[1, 0, 2]) if layer.batch_first else sequence


@register_onnx(MultiheadAttention)
def attention(layer: MultiheadAttention, graph: OnnxGraph, x: str) -> str:
    """Self-attention by its formula (see the module docstring), on (N, T, E)."""
    e, heads, d = layer.embed_dim, layer.num_heads, layer.head_dim
    if layer.causal and not layer.batch_first:
        raise ConversionError(
            f"export_onnx: {layer!r}: causal attention is exported with batch_first=True "
            f"only (its (T, T) mask needs T, the graph's dynamic axis otherwise)"
        )
    batch = x if layer.batch_first else graph.node("Transpose", [x], perm=[1, 0, 2])
    bias = None if layer.in_proj_bias is None else layer.in_proj_bias.data
    qkv = linear(graph, batch, 3, layer.in_proj_weight.data, bias, "in_proj_weight", "in_proj_bias")
    split = graph.node("Reshape", [qkv, _int64(graph, "qkv_shape", [0, 0, 3, heads, d])])
    split = graph.node("Transpose", [split], perm=[2, 0, 3, 1, 4])  # (3, N, heads, T, d)
    q, k, v = (
        graph.node("Gather", [split, graph.weight(name, np.array(i, np.int64))], axis=0)
        for i, name in enumerate(("q", "k", "v"))
    )
    scores = graph.node("MatMul", [q, graph.node("Transpose", [k], perm=[0, 1, 3, 2])])
    scores = graph.node("Mul", [scores, graph.scalar("scale", 1.0 / math.sqrt(d))])
    if layer.causal:
        steps = graph.sample_shape(x)[0]
        future = np.triu(np.ones((steps, steps), bool), 1)
        mask = graph.weight("causal_mask", np.where(future, -np.inf, 0.0).astype(graph.dtype))
        scores = graph.node("Add", [scores, mask])
    probs = graph.node("Softmax", [scores], axis=3)  # the last axis, in every opset
    mixed = graph.node("Transpose", [graph.node("MatMul", [probs, v])], perm=[0, 2, 1, 3])
    mixed = graph.node("Reshape", [mixed, _int64(graph, "heads_shape", [0, 0, e])])
    out = layer.out_proj
    out_bias = None if out.bias is None else out.bias.data
    y = linear(graph, mixed, 3, out.weight.data.T, out_bias, "out_proj.weight", "out_proj.bias")
    return y if layer.batch_first else graph.node("Transpose", [y], perm=[1, 0, 2])
