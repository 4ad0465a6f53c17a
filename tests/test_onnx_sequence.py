"""ONNX export of the sequence layers: onnxruntime computes what tinynet does (float32,
at every opset written), onnx's reference runtime too in float64 (1e-9: onnxruntime
has no double LSTM, GRU or RNN kernels), and token models take int64 inputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from roundoff import assert_float32_close
from test_onnx_export import OPSETS, assert_runtime_matches, op_types, session, warmed

from tinynet import (
    GRU,
    LSTM,
    RNN,
    Dense,
    Embedding,
    Layer,
    LayerNorm,
    MultiheadAttention,
    PositionalEmbedding,
    Sequential,
    Tanh,
)
from tinynet.io import ConversionError, to_onnx
from tinynet.io.onnx_export import DEFAULT_OPSET
from tinynet.sequence import gpt_block

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def perturbed(layer: Layer) -> Layer:
    """``layer`` with every parameter moved off its initialization (LayerNorm's ones and
    zeros, zero biases, would hide a swapped or missing array)."""
    for p in layer.parameters():
        p.data += np.random.default_rng(p.size).normal(0, 0.3, p.shape).astype(p.dtype)
    return layer


SEQUENCE = (6, 8)
"""One float sample: T = 6 steps of 8 features."""
LAYERS: dict[str, Callable[[], Layer]] = {
    "LayerNorm": lambda: LayerNorm(8, eps=1e-3),
    "LayerNorm-no-affine": lambda: LayerNorm(8, elementwise_affine=False),
    "PositionalEmbedding": lambda: PositionalEmbedding(9, 8, seed=0),
    "RNN": lambda: RNN(8, 5, seed=0),
    "RNN-2-layers-no-bias": lambda: RNN(8, 5, num_layers=2, bias=False, seed=1),
    "LSTM": lambda: LSTM(8, 5, seed=2),
    "LSTM-3-layers-time-major": lambda: LSTM(8, 4, num_layers=3, batch_first=False, seed=3),
    "GRU": lambda: GRU(8, 5, num_layers=2, seed=4),
    "GRU-no-bias-time-major": lambda: GRU(8, 3, bias=False, batch_first=False, seed=5),
    "MultiheadAttention": lambda: MultiheadAttention(8, 2, seed=6),
    "MultiheadAttention-causal": lambda: MultiheadAttention(8, 4, causal=True, seed=7),
    "MultiheadAttention-no-bias-time-major": lambda: MultiheadAttention(
        8, 1, bias=False, batch_first=False, seed=8
    ),
    "Dense-on-sequences": lambda: Dense(8, 3, seed=9),
    "stack": lambda: Sequential(
        LSTM(8, 6, seed=10), Tanh(), MultiheadAttention(6, 3, causal=True, seed=11), GRU(6, 4)
    ),
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_sequence_layer(name: str, opset: int) -> None:
    layer = perturbed(LAYERS[name]())
    assert_runtime_matches(warmed(layer, SEQUENCE), SEQUENCE, opset)


@pytest.mark.parametrize("opset", [11, DEFAULT_OPSET])
@pytest.mark.parametrize(
    "name", sorted(set(LAYERS) - {"LayerNorm-no-affine"})
)  # float32: no weights
def test_float64_graphs_equal_tinynet_in_onnx_s_reference_runtime(name: str, opset: int) -> None:
    """To 1e-9: a gate taken for another, or a missing bias, is far outside it."""
    from onnx.reference import ReferenceEvaluator

    layer = warmed(perturbed(LAYERS[name]().astype(np.float64)), SEQUENCE)
    proto = to_onnx(layer, SEQUENCE, opset=opset)
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    x = 3 * np.random.default_rng(3).standard_normal((4, *SEQUENCE))
    (got,) = ReferenceEvaluator(proto).run(None, {"input": x})
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, layer(x.copy()), rtol=1e-9, atol=1e-9)


def char_gpt(vocabulary: int = 11, steps: int = 6, width: int = 16) -> Sequential:
    return Sequential(
        Embedding(vocabulary, width, seed=0),
        PositionalEmbedding(steps, width, seed=1),
        gpt_block(width, 4, seed=2),
        gpt_block(width, 4, seed=3),
        LayerNorm(width),
        Dense(width, vocabulary, seed=4),
    )


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize(
    "make", [lambda: Sequential(Embedding(11, 4, seed=0)), char_gpt], ids=["embedding", "gpt"]
)
def test_token_models_take_int64_indices(make: Callable[[], Layer], opset: int) -> None:
    model = perturbed(make()).eval()
    proto = to_onnx(model, (6,), opset=opset)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 6]
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert op_types(proto)[0] == "Gather"
    run = session(proto)
    for n in (1, 7, 64):
        tokens = np.random.default_rng(n).integers(0, 11, (n, 6))
        (got,) = run.run(None, {"input": tokens})
        assert_float32_close(got, model(tokens), model, tokens)


def test_onnxruntime_refuses_an_index_out_of_range() -> None:
    run = session(to_onnx(Sequential(Embedding(5, 2, seed=0)), (3,)))
    with pytest.raises(Exception, match="out of data bounds"):
        run.run(None, {"input": np.array([[0, 1, 5]])})


def attributes(proto: Any, op: str) -> list[dict[str, Any]]:
    return [
        {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        for node in proto.graph.node
        if node.op_type == op
    ]


@pytest.mark.parametrize(
    ("layer", "opset", "ops"),
    [
        (LayerNorm(8), 17, ["LayerNormalization"]),
        (LayerNorm(8), 16, ["ReduceMean", "Sub", "Mul", "ReduceMean", "Add", "Sqrt", "Div"]),
        (LSTM(8, 3, num_layers=2), 17, ["Transpose", "LSTM", "Reshape", "LSTM", "Reshape"]),
        (GRU(8, 3, batch_first=False), 17, ["GRU", "Reshape"]),
        (RNN(8, 3, batch_first=False), 17, ["RNN", "Reshape"]),
        (Dense(8, 3), 17, ["Transpose", "MatMul", "Add"]),
    ],
)
def test_ops_chosen(layer: Layer, opset: int, ops: list[str]) -> None:
    assert op_types(to_onnx(layer, SEQUENCE, opset=opset))[: len(ops)] == ops


def test_gates_are_reordered_and_gru_resets_after_its_product() -> None:
    """ONNX's LSTM gates are i, o, f, c (PyTorch's i, f, g, o); its GRU's z, r, h
    (PyTorch's r, z, n), with linear_before_reset=1 (PyTorch's)."""
    lstm = LSTM(2, 1, seed=0)
    lstm.weight_ih_l0.data[:] = np.arange(4)[:, np.newaxis]  # gate g's rows are 2s
    weights = {
        t.name: onnx.numpy_helper.to_array(t) for t in to_onnx(lstm, (3, 2)).graph.initializer
    }
    assert weights["W_l0"][0, :, 0].tolist() == [0, 3, 1, 2]
    gru = GRU(2, 1, seed=0)
    gru.weight_hh_l0.data[:] = np.arange(3)[:, np.newaxis]
    proto = to_onnx(gru, (3, 2))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert weights["R_l0"][0, :, 0].tolist() == [1, 0, 2]
    assert attributes(proto, "GRU") == [{"hidden_size": 1, "linear_before_reset": 1}]


def test_causal_attention_time_major_is_refused_by_name() -> None:
    layer = Sequential(MultiheadAttention(4, 2, batch_first=False, causal=True))
    with pytest.raises(ConversionError, match=r"causal attention is exported with batch_first"):
        to_onnx(layer, (3, 4))


def test_a_token_model_needs_its_sequence_length() -> None:
    with pytest.raises(ValueError, match=r"cannot tell the input shape from Embedding\(11, 4\)"):
        to_onnx(Sequential(Embedding(11, 4)))
