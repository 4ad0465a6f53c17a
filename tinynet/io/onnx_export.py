"""ONNX export: a tinynet model as an ONNX graph that onnxruntime (or any runtime) runs.

    tinynet.io.export_onnx(model, "model.onnx", input_shape=(784,))

    import onnxruntime
    session = onnxruntime.InferenceSession("model.onnx")
    logits = session.run(None, {"input": x})[0]       # x: (N, 784) float32

The graph computes what ``model.eval()`` computes (Dropout left out, BatchNorm with
its running statistics), for any batch size: the input is ``input`` of shape
(batch, *input_shape), the output ``output`` of shape (batch, ...), both of the
model's dtype. Weights are initializers named as in ``model.state_dict()`` and laid
out as PyTorch's (a Dense weight is (out, in)). Which ops each layer becomes is in
`tinynet.io.onnx_converters`; a custom layer registers its own converter with
`tinynet.io.register_onnx` (see `tinynet.io.onnx_graph`).

A model that starts with an `tinynet.layers.Embedding` reads token indices: its
input is int64 (batch, T), and ``input_shape=(T,)`` must be given (the graph's only
dynamic axis is the batch; a sequence model's T is fixed at export). Indices outside
``[0, num_embeddings)`` are an error in onnxruntime, as in tinynet (negative ones
count from the end in ONNX's ``Gather``; tinynet refuses them).

A convolutional model needs ``input_shape`` (``(1, 28, 28)`` for MNIST images): its
first layer cannot tell it. A float64 model exports as a double graph, which
onnxruntime's CPU provider cannot run if it holds ``Conv``, ``AveragePool``,
``GlobalAveragePool``, ``LSTM``, ``GRU`` or ``RNN`` (those have float kernels only
there); ``onnx.reference`` and other runtimes can.

Needs the optional ``onnx`` package (``pip install "tinynet-nn[onnx]"``, which also
brings onnxruntime), imported only when these functions are called.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

import tinynet.io.onnx_converters as _builtin_converters
import tinynet.io.onnx_sequence as _sequence_converters
from tinynet.atomic import atomic_write
from tinynet.containers import first_layer
from tinynet.io.onnx_graph import OnnxGraph, import_onnx
from tinynet.layers.base import Layer
from tinynet.layers.embedding import takes_tokens
from tinynet.summary import default_input_shape, probing
from tinynet.validation import is_shape
from tinynet.version import __version__

if TYPE_CHECKING:
    from onnx import ModelProto

DEFAULT_OPSET = 17
"""Run by every onnxruntime since 1.13 (2022) and most other runtimes; `GELU` becomes
its formula below opset 20 (`tinynet.io.onnx_converters.GELU_OPSET`)."""
MIN_OPSET = 11
"""The oldest opset written (optional Gemm bias, negative axes)."""
INPUT_NAME = "input"
OUTPUT_NAME = "output"
BATCH_AXIS = "batch"

_BUILTINS = (_builtin_converters, _sequence_converters)  # imported: they register themselves


def to_onnx(
    model: Layer, input_shape: Sequence[int] | None = None, *, opset: int = DEFAULT_OPSET
) -> ModelProto:
    """``model`` as an in-memory ONNX model (``onnx.ModelProto``), checked by ``onnx.checker``.

    ``input_shape`` is one sample's shape, e.g. ``(784,)`` or ``(1, 28, 28)``; by
    default the first layer's ``(in_features,)`` (or ``(num_features,)``), so a model
    that starts with `tinynet.layers.Conv2d`, a pool or a reshape needs it given. ``opset``
    lies between `MIN_OPSET` and the installed onnx package's newest. Raises
    `tinynet.io.ConversionError` naming a layer that has no converter (and nothing
    is built), ``ValueError`` for an input shape the model refuses (the layer's own
    message), ``ImportError`` without the onnx package.
    """
    onnx = import_onnx()
    if not isinstance(model, Layer):
        raise TypeError(f"export_onnx: expected a tinynet Layer, got {type(model).__name__}")
    newest = onnx.defs.onnx_opset_version()
    if not (isinstance(opset, int) and MIN_OPSET <= opset <= newest):
        raise ValueError(
            f"export_onnx: opset must be an integer from {MIN_OPSET} to {newest} (the newest "
            f"the installed onnx {onnx.__version__} knows), got {opset!r}"
        )
    shape = _input_shape(model, input_shape)
    dtype = model.dtype
    input_dtype = np.dtype(np.int64) if takes_tokens(model) else dtype
    with probing(model):
        sample = np.zeros((1, *shape), input_dtype)
        graph = OnnxGraph(opset, sample, INPUT_NAME, OUTPUT_NAME, dtype=dtype)
        out_shape = graph.set_output(graph.convert(model, INPUT_NAME))[1:]
    helper = onnx.helper
    elem_type = helper.np_dtype_to_tensor_dtype(dtype)
    in_type = helper.np_dtype_to_tensor_dtype(input_dtype)
    graph_proto = helper.make_graph(
        graph.nodes,
        "tinynet",
        [helper.make_tensor_value_info(INPUT_NAME, in_type, [BATCH_AXIS, *shape])],
        [helper.make_tensor_value_info(OUTPUT_NAME, elem_type, [BATCH_AXIS, *out_shape])],
        initializer=graph.initializers,
    )
    opsets = [helper.make_opsetid("", opset)]
    proto: ModelProto = helper.make_model(
        graph_proto,
        opset_imports=opsets,
        producer_name="tinynet",
        producer_version=__version__,
        ir_version=helper.find_min_ir_version_for(opsets),
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export_onnx(
    model: Layer,
    path: str | os.PathLike[str],
    input_shape: Sequence[int] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
) -> None:
    """Write ``model`` to ``path`` as an ONNX file, atomically (see `to_onnx`).

    The graph is built and checked in memory first: on any error nothing is written
    and a previous file at ``path`` is left as it was.
    """
    data = to_onnx(model, input_shape, opset=opset).SerializeToString()
    with atomic_write(path) as handle:
        handle.write(data)


def _input_shape(model: Layer, input_shape: Sequence[int] | None) -> tuple[int, ...]:
    """``input_shape`` checked, or the first layer's ``(in_features,)``."""
    if input_shape is None:
        return default_input_shape(model, "export_onnx")
    shape = tuple(input_shape)
    if not is_shape(shape):
        raise ValueError(
            f"export_onnx: input_shape must be one sample's shape, positive integers "
            f"(no batch axis), got {input_shape!r}"
        )
    return tuple(int(d) for d in shape)


def export_saved(
    weights: str | os.PathLike[str],
    output: str | os.PathLike[str],
    input_shape: Sequence[int] | None = None,
    *,
    opset: int = DEFAULT_OPSET,
) -> None:
    """`export_onnx` of the model saved at ``weights`` (``tinynet export``); without an
    ``input_shape``, the one ``tinynet train --save`` recorded (the model file's
    ``INPUT_SHAPE``, `recorded_input_shape`) or else the first layer's, if it tells one;
    else a ``ValueError`` says to pass one."""
    from tinynet.io.native import load_full, recorded_input_shape

    loaded = load_full(weights)
    model = loaded.model
    input_shape = input_shape or recorded_input_shape(loaded.metadata, str(weights))
    if input_shape is None:
        try:
            input_shape = default_input_shape(model, "tinynet export")
        except ValueError:
            first = repr(first_layer(model)).split("\n")[0]
            raise ValueError(
                f"cannot tell the input shape of {weights}: it records none (tinynet train "
                f"--save records the model file's INPUT_SHAPE) and its first layer, {first}, "
                f"does not tell it: pass --input-shape, one sample's shape, e.g. 1,28,28"
            ) from None
    export_onnx(model, output, input_shape, opset=opset)
