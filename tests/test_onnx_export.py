"""ONNX export: onnx.checker accepts every graph and onnxruntime computes what tinynet does.

The reference is the model itself in inference mode; onnxruntime's outputs must equal
it within the float32 error bound (`roundoff`: gamma_K sum|w||x| through each layer) on
random batches of several sizes (the batch axis is dynamic),
for every built-in layer alone, for combinations, at several opsets, and for every
model file in models/ trained for a few batches, whose MNIST test predictions must be
identical but for near ties (top two logits within that bound).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import roundoff
from roundoff import assert_float32_close, assert_same_labels_but_near_ties

import tinynet
import tinynet.layers.base
from tinynet import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv1d,
    Conv2d,
    CrossEntropyLoss,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    MaxPool2d,
    Parallel,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
    Unflatten,
)
from tinynet.io import ConversionError, OnnxGraph, export_onnx, register_onnx, to_onnx
from tinynet.io.onnx_export import DEFAULT_OPSET
from tinynet.modelfile import ModelFile, load_model_file
from tinynet.optim import Adam
from tinynet.typing import FloatArray

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

MODELS = Path(__file__).resolve().parents[1] / "models"
OPSETS = (11, 12, 13, DEFAULT_OPSET, 20, 21)
"""11: the oldest written; 12 and 13: either side of Softmax's change; 20: Gelu."""


def warmed(model: Layer, shape: tuple[int, ...], steps: int = 3) -> Layer:
    """``model`` after a few training forwards on random batches (so BatchNorm's running
    statistics are not their initial 0 and 1), in inference mode."""
    rng = np.random.default_rng(11)
    model.train()
    for _ in range(steps):
        model.forward((2 * rng.standard_normal((16, *shape)) + 0.5).astype(model.dtype))
    return model.eval()


def session(proto: Any) -> Any:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def assert_runtime_matches(
    model: Layer, shape: tuple[int, ...], opset: int = DEFAULT_OPSET, *, pixels: bool = False
) -> Any:
    """Export ``model`` (one sample of ``shape``), check it, compare onnxruntime with
    tinynet on batches of 1, 7 and 64 random samples, 3 N(0, 1) (or, with ``pixels``,
    U(0, 1) as MNIST's); return the ONNX model."""
    proto = to_onnx(model, shape, opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    run = session(proto)
    rng = np.random.default_rng(5)
    model.eval()
    for n in (1, 7, 64):
        u = rng.random((n, *shape)) if pixels else 3 * rng.standard_normal((n, *shape))
        x = u.astype(model.dtype)
        expected = model(x.copy())
        (got,) = run.run(None, {"input": x})
        assert got.shape == expected.shape
        assert got.dtype == expected.dtype
        if x.dtype == np.float32:
            assert_float32_close(got, expected, model, x)
        else:
            np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    return proto


def op_types(proto: Any) -> list[str]:
    return [node.op_type for node in proto.graph.node]


# --- every built-in layer alone (and after a Dense where it needs one) ----------------

LAYERS: dict[str, tuple[Callable[[], Layer], tuple[int, ...]]] = {
    "Dense": (lambda: Dense(6, 4, seed=0), (6,)),
    "Dense-no-bias": (lambda: Dense(6, 4, bias=False, seed=0), (6,)),
    "ReLU": (ReLU, (3, 5)),
    "ReLU-inplace": (lambda: Sequential(Dense(6, 5, seed=1), ReLU(inplace=True)), (6,)),
    "LeakyReLU": (lambda: LeakyReLU(0.2), (5,)),
    "Sigmoid": (Sigmoid, (5,)),
    "Tanh": (Tanh, (2, 3)),
    "Softmax": (Softmax, (5,)),
    "Softmax-axis-1-of-3": (lambda: Softmax(axis=1), (3, 4)),
    "Softmax-axis-minus-2": (lambda: Softmax(axis=-2), (3, 4)),
    "GELU": (GELU, (5,)),
    "GELU-tanh": (lambda: GELU("tanh"), (2, 5)),
    "SiLU": (SiLU, (5,)),
    "Swish": (Swish, (5,)),
    "Dropout": (lambda: Dropout(0.5, seed=0), (5,)),
    "BatchNorm1d": (lambda: BatchNorm1d(5, momentum=0.3), (5,)),
    "Normalization": (
        lambda: tinynet.Normalization(5).adapt(
            np.random.default_rng(3).normal(2.0, [1, 5, 0.1, 3, 0], (40, 5)).astype(np.float32)
        ),
        (5,),
    ),
    "BatchNorm1d-no-affine": (lambda: BatchNorm1d(5, eps=1e-3, affine=False), (5,)),
    "Flatten": (Flatten, (2, 3, 4)),
    "Flatten-4d-batch-last": (lambda: Sequential(Conv2d(2, 3, 2, seed=0), Flatten()), (2, 4, 5)),
    "Unflatten": (lambda: Unflatten(1, (2, -1, 3)), (24,)),
    "Unflatten-last-axis": (lambda: Unflatten(-1, (2, 2)), (3, 4)),
    "Reshape": (lambda: Reshape((1, 4, -1)), (2, 3, 4)),
    "Conv2d": (lambda: Conv2d(2, 3, 3, padding=1, seed=0), (2, 6, 7)),
    "Conv2d-same-even-kernel-dilated": (
        lambda: Conv2d(2, 3, (2, 4), padding="same", dilation=(1, 2), seed=1),
        (2, 7, 9),
    ),
    "Conv2d-stride-2-no-bias-non-square": (
        lambda: Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False, seed=2),
        (2, 7, 6),
    ),
    "Conv2d-valid": (lambda: Conv2d(1, 2, 5, padding="valid", seed=3), (1, 8, 9)),
    "Conv2d-groups": (lambda: Conv2d(4, 6, 3, padding=1, groups=2, seed=4), (4, 6, 7)),
    "Conv2d-depthwise": (lambda: Conv2d(3, 3, (3, 2), stride=2, groups=3, seed=5), (3, 7, 6)),
    "Conv1d": (lambda: Conv1d(2, 3, 3, padding=1, seed=6), (2, 9)),
    "Conv1d-same-even-kernel-groups": (
        lambda: Conv1d(4, 6, 4, padding="same", dilation=2, groups=2, seed=7),
        (4, 11),
    ),
    "Conv1d-strided-depthwise-no-bias": (
        lambda: Conv1d(3, 3, 2, stride=3, groups=3, bias=False, seed=8),
        (3, 10),
    ),
    "MaxPool2d": (lambda: MaxPool2d(2), (2, 6, 8)),
    "MaxPool2d-padded-dilated": (lambda: MaxPool2d(3, 2, 1, dilation=2), (2, 7, 9)),
    "MaxPool2d-non-square": (lambda: MaxPool2d((3, 2), (1, 2), (1, 0)), (2, 5, 6)),
    "MaxPool2d-padding-only-windows": (lambda: MaxPool2d(2, padding=1, dilation=3), (2, 2, 5)),
    "AvgPool2d": (lambda: AvgPool2d(2), (2, 6, 8)),
    "AvgPool2d-padded": (lambda: AvgPool2d(3, 2, 1), (2, 7, 9)),
    "AvgPool2d-padding-not-counted": (
        lambda: AvgPool2d(3, 2, 1, count_include_pad=False),
        (2, 7, 9),
    ),
    "AvgPool2d-divisor-override": (
        lambda: AvgPool2d((3, 2), 1, (1, 0), divisor_override=5),
        (2, 5, 6),
    ),
    "AdaptiveAvgPool2d-global": (lambda: AdaptiveAvgPool2d(1), (3, 5, 7)),
    "AdaptiveAvgPool2d-divides": (lambda: AdaptiveAvgPool2d((3, None)), (2, 6, 8)),
    "AdaptiveAvgPool2d-overlapping-bins": (lambda: AdaptiveAvgPool2d((4, 3)), (2, 7, 8)),
    "BatchNorm2d": (lambda: BatchNorm2d(3, momentum=0.3), (3, 4, 5)),
    "BatchNorm2d-cumulative-no-affine": (
        lambda: BatchNorm2d(3, eps=1e-3, momentum=None, affine=False),
        (3, 4, 5),
    ),
    "BatchNorm1d-sequences": (lambda: BatchNorm1d(3), (3, 5)),
    "Sequential-nested": (
        lambda: Sequential(Sequential(Dense(4, 3, seed=2), Tanh()), Sequential()),
        (4,),
    ),
    "Residual": (lambda: Residual(Sequential(Dense(4, 4, seed=3), ReLU())), (4,)),
    "Parallel-concat": (lambda: Parallel(Dense(4, 3, seed=4), Sigmoid(), Dense(4, 2)), (4,)),
    "Parallel-sum": (lambda: Parallel(Dense(4, 3, seed=5), Dense(4, 3), mode="sum"), (4,)),
    "Concat": (lambda: Concat(Tanh(), Sigmoid()), (2, 3)),
}


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_every_builtin_layer_alone(name: str, opset: int) -> None:
    make, shape = LAYERS[name]
    assert_runtime_matches(warmed(make(), shape), shape, opset)


def test_every_builtin_layer_class_has_a_converter() -> None:
    from tinynet.io.onnx_graph import onnx_converter

    builtin = {
        cls
        for cls in tinynet.layers.base.LAYERS.items().values()
        if cls.__module__.startswith("tinynet.") and not inspect.isabstract(cls)
    }
    missing = {cls.__name__ for cls in builtin if onnx_converter(cls) is None}
    assert missing == set()  # the sequence layers' are in tinynet.io.onnx_sequence


@pytest.mark.parametrize(
    ("layer", "opset", "ops"),
    [
        (GELU(), 17, ["Mul", "Erf", "Add", "Mul", "Mul"]),
        (GELU(), 20, ["Gelu"]),
        (GELU("tanh"), 20, ["Gelu"]),
        (SiLU(), 17, ["Sigmoid", "Mul"]),
        (Dropout(0.3), 17, ["Identity"]),
        (Softmax(axis=1), 12, ["Transpose", "Softmax", "Transpose"]),
        (Softmax(axis=1), 13, ["Softmax"]),
        (Softmax(axis=-1), 11, ["Softmax"]),
    ],
)
def test_ops_chosen_by_opset(layer: Layer, opset: int, ops: list[str]) -> None:
    proto = to_onnx(layer, (3, 4), opset=opset)
    assert op_types(proto) == ops
    gelu = [node for node in proto.graph.node if node.op_type == "Gelu"]
    if gelu:
        approximate = onnx.helper.get_attribute_value(gelu[0].attribute[0]).decode()
        assert approximate == layer.approximate  # type: ignore[attr-defined]


def attributes_of(node: Any) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@pytest.mark.parametrize(
    ("layer", "shape", "ops", "attributes"),
    [
        # padding="same", kernel (2, 4): one row at the bottom; one column left, two right
        (
            Conv2d(2, 3, (2, 4), padding="same", seed=0),
            (2, 5, 6),
            ["Conv"],
            {"pads": [0, 1, 1, 2], "kernel_shape": [2, 4], "strides": [1, 1]},
        ),
        (
            Conv2d(2, 3, 3, stride=(2, 1), padding=(1, 0), dilation=(1, 2), seed=0),
            (2, 7, 9),
            ["Conv"],
            {"pads": [1, 0, 1, 0], "strides": [2, 1], "dilations": [1, 2]},
        ),
        (
            MaxPool2d(3, 2, 1, dilation=2),
            (2, 7, 9),
            ["MaxPool"],
            {"pads": [1, 1, 1, 1], "dilations": [2, 2], "strides": [2, 2]},
        ),
        (MaxPool2d(2, padding=1, dilation=3), (2, 2, 5), ["MaxPool", "Where"], {}),
        (AvgPool2d(3, 1, 1), (2, 4, 4), ["AveragePool"], {"count_include_pad": 1}),
        (
            AvgPool2d(3, 1, 1, count_include_pad=False),
            (2, 4, 4),
            ["AveragePool"],
            {"count_include_pad": 0},
        ),
        (AvgPool2d(2, divisor_override=4), (2, 4, 4), ["AveragePool"], {}),
        (
            AvgPool2d(2, padding=1, count_include_pad=False, divisor_override=3),
            (2, 4, 4),
            ["AveragePool", "Mul"],
            {"count_include_pad": 1},
        ),
        (AdaptiveAvgPool2d(1), (2, 5, 7), ["GlobalAveragePool"], {}),
        (AdaptiveAvgPool2d((3, 4)), (2, 6, 8), ["AveragePool"], {"kernel_shape": [2, 2]}),
        (AdaptiveAvgPool2d((4, 3)), (2, 7, 8), ["MatMul", "MatMul"], {}),
        (Unflatten(1, (1, 28, 28)), (784,), ["Reshape"], {}),
        (BatchNorm2d(2), (2, 3, 3), ["BatchNormalization"], {}),
    ],
)
def test_conv_layer_ops_and_attributes(
    layer: Layer, shape: tuple[int, ...], ops: list[str], attributes: dict[str, Any]
) -> None:
    proto = assert_runtime_matches(warmed(layer, shape), shape)
    assert op_types(proto) == ops
    written = attributes_of(proto.graph.node[0])
    assert {name: written[name] for name in attributes} == attributes


def test_padding_only_max_pool_windows_are_minus_infinity() -> None:
    """A window of padding alone (kernel 2, padding 1, dilation H + 1: its two cells lie
    either side of the image) is -inf in tinynet and torch; onnxruntime's MaxPool gives
    the lowest float there, so the export writes -inf with a Where."""
    proto = assert_runtime_matches(MaxPool2d(2, padding=1, dilation=3), (2, 2, 5))
    x = np.random.default_rng(0).standard_normal((3, 2, 2, 5)).astype(np.float32)
    (got,) = session(proto).run(None, {"input": x})
    assert got.shape == (3, 2, 1, 2)
    assert np.isneginf(got).all()


@pytest.mark.parametrize(
    ("layer", "shape", "target"),
    [
        (Unflatten(1, (1, 28, 28)), (784,), [0, 1, 28, 28]),
        (Unflatten(2, (2, -1)), (3, 8), [0, 3, 2, 4]),
        (Reshape((-1,)), (2, 3, 4), [0, 24]),
    ],
)
def test_reshape_keeps_the_batch_axis_dynamic(
    layer: Layer, shape: tuple[int, ...], target: list[int]
) -> None:
    proto = to_onnx(layer, shape)
    (reshape,) = proto.graph.node
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert weights[reshape.input[1]].dtype == np.int64
    assert weights[reshape.input[1]].tolist() == target


def test_softmax_axis_is_written_explicitly() -> None:
    (node,) = to_onnx(Softmax(), (3, 4), opset=13).graph.node
    assert [(a.name, a.i) for a in node.attribute] == [("axis", 2)]


def test_batchnorm_momentum_is_one_minus_pytorchs_and_stats_are_the_running_ones() -> None:
    layer = warmed(BatchNorm1d(3, eps=1e-3, momentum=0.25), (3,))
    proto = assert_runtime_matches(layer, (3,))
    (node,) = proto.graph.node
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert attributes["momentum"] == pytest.approx(0.75)
    assert attributes["epsilon"] == pytest.approx(1e-3)
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert not np.allclose(weights["running_mean"], 0)  # trained, not the initial values
    np.testing.assert_array_equal(weights["running_var"], layer.running_var)  # type: ignore[attr-defined]


# --- combinations -------------------------------------------------------------------


def mixed_model() -> Sequential:
    return Sequential(
        Flatten(),
        Dense(12, 16, seed=0),
        BatchNorm1d(16),
        ReLU(inplace=True),
        Residual(Sequential(Dense(16, 16, seed=1), BatchNorm1d(16), GELU("tanh"), Dropout(0.2))),
        Parallel(
            Sequential(Dense(16, 8, seed=2), SiLU()),
            Residual(Sequential(LeakyReLU(0.1), Dense(16, 16, seed=3))),
            Concat(Dense(16, 3, seed=4), Tanh()),
        ),
        Parallel(Dense(43, 10, seed=5), Sequential(Dense(43, 10, seed=6), Sigmoid()), mode="sum"),
        Softmax(),
    )


@pytest.mark.parametrize("opset", OPSETS)
def test_combination_of_every_layer_and_container(opset: int) -> None:
    assert_runtime_matches(warmed(mixed_model(), (3, 4)), (3, 4), opset)


def cnn(*, start: Layer | None = None) -> Sequential:
    """Conv-BN-ReLU-MaxPool-Conv-AvgPool-AdaptiveAvgPool-Flatten-Dense, with an even
    kernel's padding="same", stride 2, dilation and non-square kernels and pools."""
    return Sequential(
        *([] if start is None else [start]),
        Conv2d(1, 4, 3, padding=1, seed=0),
        BatchNorm2d(4),
        ReLU(inplace=True),
        MaxPool2d(2),
        Conv2d(4, 6, (2, 4), padding="same", dilation=(1, 2), seed=1),
        BatchNorm2d(6, momentum=None, affine=False),
        Tanh(),
        Conv2d(6, 8, (3, 2), stride=2, bias=False, seed=2),
        ReLU(),
        AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        MaxPool2d((2, 1), padding=(1, 0), dilation=(2, 1)),
        AdaptiveAvgPool2d((2, 3)),
        Flatten(),
        Dense(48, 10, seed=3),
    )


@pytest.mark.parametrize("opset", OPSETS)
def test_conv_stack(opset: int) -> None:
    assert_runtime_matches(warmed(cnn(), (1, 12, 14)), (1, 12, 14), opset)


@pytest.mark.parametrize("opset", [11, DEFAULT_OPSET])
def test_conv_stack_of_mnist_rows(opset: int) -> None:
    model = warmed(cnn(start=Unflatten(1, (1, 28, 28))), (784,))
    proto = assert_runtime_matches(model, (784,), opset, pixels=True)
    assert op_types(proto)[0] == "Reshape"


def test_float64_conv_stack_exports_as_double() -> None:
    """onnxruntime has no double Conv or AveragePool kernels: onnx's reference runtime
    checks the float64 graph instead."""
    from onnx.reference import ReferenceEvaluator

    model = warmed(cnn().astype(np.float64), (1, 12, 14))
    proto = to_onnx(model, (1, 12, 14))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    x = np.random.default_rng(3).standard_normal((5, 1, 12, 14))
    (got,) = ReferenceEvaluator(proto).run(None, {"input": x})
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, model(x.copy()), rtol=1e-12, atol=1e-12)


def test_initializers_are_the_pytorch_layout_state_dict() -> None:
    from tinynet.io.safetensors_format import to_torch_layout

    model = warmed(mixed_model(), (3, 4))
    proto = to_onnx(model, (3, 4))
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    for name, array in to_torch_layout(model).items():
        if not name.endswith("num_batches_tracked"):  # a training count, not used in inference
            np.testing.assert_array_equal(weights[name], array)
    assert weights["1.weight"].shape == (16, 12)  # Linear's (out, in)


def test_batch_axis_is_dynamic_and_io_names_fixed() -> None:
    proto = to_onnx(Sequential(Flatten(), Dense(12, 5, seed=0)), (3, 4))
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input"
    assert out.name == "output"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", 3, 4]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 5]


def test_float64_model_exports_as_double() -> None:
    model = Sequential(Dense(5, 4, seed=0), ReLU(), BatchNorm1d(4), Tanh()).astype(np.float64)
    warmed(model, (5,))
    proto = assert_runtime_matches(model, (5,))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_default_input_shape_is_the_first_layers_features() -> None:
    proto = to_onnx(Sequential(Sequential(Dense(7, 2, seed=0)), ReLU()))
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 7]
    with pytest.raises(ValueError, match="pass input_shape"):
        to_onnx(Sequential(ReLU()))


def test_export_leaves_the_model_as_it_was(tmp_path: Path) -> None:
    model = Sequential(Dense(4, 3, seed=0), BatchNorm1d(3), Dropout(0.5, seed=1))
    model.train()
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    model.forward(x)
    cached = [dict(vars(layer)) for layer in model.modules()]
    export_onnx(model, tmp_path / "m.onnx")
    assert all(layer.training for layer in model.modules())
    for layer, attributes in zip(model.modules(), cached, strict=True):
        assert all(vars(layer)[key] is value for key, value in attributes.items())
    model.backward(np.ones((8, 3), np.float32))  # the cache of the last forward is intact


# --- files, errors, custom layers ------------------------------------------------------


def test_export_writes_a_checked_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    model = warmed(mixed_model(), (3, 4))
    export_onnx(model, path, (3, 4))
    onnx.checker.check_model(str(path), full_check=True)
    loaded = onnx.load(str(path))
    assert loaded.producer_name == "tinynet"
    assert loaded.opset_import[0].version == DEFAULT_OPSET
    before = path.read_bytes()
    with pytest.raises(ValueError, match="Dense"):
        export_onnx(model, path, (5,))  # the wrong input shape: the Dense says so
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]  # no temporary left


class Scale(Layer):
    """A custom layer: ``y = 2 x``."""

    def forward(self, x: FloatArray) -> FloatArray:
        return 2 * x

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return 2 * grad_y


class Unconvertible(Scale):
    """A subclass of a layer with a converter: it may compute something else."""


def test_layer_without_converter_is_refused_by_name(tmp_path: Path) -> None:
    model = Sequential(Dense(3, 3), Residual(Sequential(ReLU(), Unconvertible())))
    with pytest.raises(ConversionError, match=r"model\.1\.block\.1 is Unconvertible") as error:
        export_onnx(model, tmp_path / "m.onnx")
    assert "register_onnx(Unconvertible)" in str(error.value)
    assert not (tmp_path / "m.onnx").exists()


def test_custom_layer_registers_its_converter() -> None:
    @register_onnx(Scale)
    def scale_to_onnx(layer: Scale, graph: OnnxGraph, x: str) -> str:
        return graph.node("Mul", [x, graph.scalar("factor", 2.0)])

    roundoff.RULES[Scale] = lambda layer, h, e: (2 * h, 2 * e)  # doubling is exact
    proto = assert_runtime_matches(Sequential(Dense(3, 4, seed=0), Scale()), (3,))
    assert "1.factor" in {t.name for t in proto.graph.initializer}


def test_a_converter_must_return_a_graph_value() -> None:
    @register_onnx(Scale)
    def broken(layer: Scale, graph: OnnxGraph, x: str) -> str:
        return "nowhere"

    with pytest.raises(TypeError, match="must return the name of a value"):
        to_onnx(Sequential(Dense(3, 3), Scale()))


@pytest.mark.parametrize("opset", [10, 99, 17.0])
def test_opset_out_of_range(opset: Any) -> None:
    with pytest.raises(ValueError, match="opset must be an integer from 11"):
        to_onnx(Dense(3, 3), opset=opset)


@pytest.mark.parametrize("shape", [(0, 3), (-1,), (2.5,), (True,)])
def test_bad_input_shape(shape: Any) -> None:
    with pytest.raises(ValueError, match="input_shape must be one sample's shape"):
        to_onnx(ReLU(), shape)


def test_missing_onnx_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "tinynet-nn\[onnx\]"'):
        to_onnx(Dense(3, 3))


def test_cli_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tinynet.cli import main

    model = warmed(Sequential(Flatten(), Dense(12, 5, seed=0), BatchNorm1d(5), ReLU()), (3, 4))
    tinynet.save(model, tmp_path / "m.npz")
    out = tmp_path / "m.onnx"
    assert main(["export", str(tmp_path / "m.npz"), str(out), "--input-shape", "3,4"]) == 0
    assert "m.onnx" in capsys.readouterr().out
    onnx.checker.check_model(str(out), full_check=True)
    x = np.random.default_rng(1).standard_normal((9, 3, 4)).astype(np.float32)
    (got,) = ort.InferenceSession(str(out)).run(None, {"input": x})
    assert_float32_close(got, model(x), model, x)
    assert main(["export", str(tmp_path / "m.npz"), str(out), "--opset", "20"]) == 2
    assert "pass --input-shape" in capsys.readouterr().err  # Flatten first: no default shape


def test_cli_export_of_a_cnn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tinynet.cli import main

    model = warmed(cnn(), (1, 12, 14))
    tinynet.save(model, tmp_path / "cnn.npz")
    out = tmp_path / "cnn.onnx"
    assert main(["export", str(tmp_path / "cnn.npz"), str(out)]) == 2
    error = capsys.readouterr().err
    assert "first layer, Conv2d(1, 4" in error
    assert "pass --input-shape" in error
    assert not out.exists()
    assert main(["export", str(tmp_path / "cnn.npz"), str(out), "--input-shape", "1,12,14"]) == 0
    onnx.checker.check_model(str(out), full_check=True)
    x = np.random.default_rng(2).standard_normal((6, 1, 12, 14)).astype(np.float32)
    (got,) = ort.InferenceSession(str(out)).run(None, {"input": x})
    assert_float32_close(got, model(x), model, x)


def test_cli_export_reads_the_input_shape_train_save_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinynet.cli import main

    model = warmed(cnn(), (1, 12, 14))
    recorded = tmp_path / "cnn.npz"  # as tinynet train --save writes a model file's INPUT_SHAPE
    tinynet.save(model, recorded, metadata={"input_shape": [1, 12, 14]})
    out = tmp_path / "cnn.onnx"
    assert main(["export", str(recorded), str(out)]) == 0
    x = np.random.default_rng(3).standard_normal((5, 1, 12, 14)).astype(np.float32)
    (got,) = ort.InferenceSession(str(out)).run(None, {"input": x})
    assert_float32_close(got, model(x), model, x)
    tinynet.save(model, recorded, metadata={"input_shape": [1, 12, "14"]})
    assert main(["export", str(recorded), str(out)]) == 2
    assert "cnn.npz: metadata input_shape must be a list of" in capsys.readouterr().err


# --- the model files, trained briefly, on MNIST ---------------------------------------


@pytest.fixture(scope="module")
def mnist() -> tuple[FloatArray, Any, FloatArray, Any]:
    from tinynet.datasets import load_mnist

    (x, y), (x_test, y_test) = load_mnist()
    return x[:512], y[:512], x_test, y_test


def input_shape(model_file: ModelFile) -> tuple[int, ...]:
    """One sample's shape for the model file: its ``INPUT_SHAPE`` (``(1, 28, 28)`` for a
    CNN), else MNIST's rows, ``(784,)``."""
    shape = model_file.input_shape
    return (784,) if shape is None else tuple(shape)


def check_model_file(path: Path, mnist: tuple[FloatArray, Any, FloatArray, Any]) -> None:
    """Train the file's model for a few batches of MNIST shaped as its input; then the
    graph must pass the checker, match on random pixels and predict the same labels."""
    model_file = load_model_file(path)
    shape = input_shape(model_file)
    x, y, x_test, _ = (part.reshape(-1, *shape) if part.ndim > 1 else part for part in mnist)
    model = model_file.build(0)
    loss, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)
    model.train()
    for start in range(0, len(x), 128):  # a few batches
        loss.forward(model(x[start : start + 128]), y[start : start + 128])
        model.backward(loss.backward())
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    proto = assert_runtime_matches(model, shape, pixels=True)
    (outputs,) = session(proto).run(None, {"input": x_test})
    expected = model(x_test)
    tolerance = assert_float32_close(outputs, expected, model, x_test)
    assert_same_labels_but_near_ties(outputs, expected, tolerance)


@pytest.mark.slow
@pytest.mark.parametrize(
    "name", sorted(p.stem for p in MODELS.glob("*.py") if "TEXT_RECIPE" not in p.read_text())
)  # text models (char_gpt...) read tokens, not MNIST
def test_model_files_trained_briefly_predict_the_same_mnist_labels(
    name: str, mnist: tuple[FloatArray, Any, FloatArray, Any]
) -> None:
    check_model_file(MODELS / f"{name}.py", mnist)


CNN_FILE = """
from tinynet import (AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dense, Flatten, MaxPool2d,
                     ReLU, Sequential, Unflatten)
{input_shape}

def build(seed):
    return Sequential(
        {first}
        Conv2d(1, 4, 5, padding=2, seed=seed), BatchNorm2d(4), ReLU(), MaxPool2d(2),
        Conv2d(4, 8, 3, stride=2, seed=seed + 1), ReLU(),
        AdaptiveAvgPool2d(1), Flatten(), Dense(8, 10, seed=seed + 2),
    )
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("input_shape", "first"),
    [("INPUT_SHAPE = (1, 28, 28)", ""), ("", "Unflatten(1, (1, 28, 28)),")],
    ids=["INPUT_SHAPE", "Unflatten-first"],
)
def test_conv_model_files_are_covered(
    tmp_path: Path, input_shape: str, first: str, mnist: tuple[FloatArray, Any, FloatArray, Any]
) -> None:
    """What the test over models/ does for a CNN file, on two small ones: one declares
    its input shape, the other reshapes MNIST rows itself."""
    path = tmp_path / "small_cnn.py"
    path.write_text(CNN_FILE.format(input_shape=input_shape, first=first))
    check_model_file(path, mnist)
