"""The pieces an ONNX converter works with: `OnnxGraph` and the converter registry.

A converter turns one layer into ONNX nodes. It is a function
``(layer, graph, x) -> y``: ``x`` names the ONNX value holding the layer's input,
the function adds nodes (and weights) to ``graph`` and returns the name of the value
holding the layer's output. Register one for a custom layer next to its
``@register_layer``::

    @tinynet.register_layer
    class Scale(tinynet.Layer):
        ...

    @tinynet.io.register_onnx(Scale)
    def scale_to_onnx(layer: Scale, graph: tinynet.io.OnnxGraph, x: str) -> str:
        return graph.node("Mul", [x, graph.weight("factor", layer.factor.data)])

A container's converter converts its sub-layers with ``graph.convert(child, x, name)``.
Converters are looked up by the layer's exact class (a subclass may compute something
else, so it registers its own). Nothing here imports ``onnx`` until a graph is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from tinynet.io.errors import ConversionError
from tinynet.layers.base import Layer
from tinynet.typing import Array, DTypeLike, FloatArray

if TYPE_CHECKING:
    from onnx import NodeProto, TensorProto

L = TypeVar("L", bound=Layer)
Converter = Callable[[Any, "OnnxGraph", str], str]
"""``(layer, graph, x) -> y``: see the module docstring."""

_CONVERTERS: dict[type[Layer], Converter] = {}

INSTALL_HINT = 'ONNX export needs the optional package onnx: pip install "tinynet-nn[onnx]"'


def register_onnx(cls: type[L]) -> Callable[[Callable[[L, OnnxGraph, str], str]], Converter]:
    """Decorator: make the function the ONNX converter of the layer class ``cls``.

    The function is ``(layer, graph, x) -> y`` (see `OnnxGraph`); registering another
    for the same class replaces the first. Returns the function unchanged.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_onnx: expected a Layer subclass, got {cls!r}")

    def decorate(function: Callable[[L, OnnxGraph, str], str]) -> Converter:
        _CONVERTERS[cls] = function
        return function

    return decorate


def onnx_converter(cls: type[Layer]) -> Converter | None:
    """The converter registered for exactly ``cls``, or ``None``."""
    return _CONVERTERS.get(cls)


def import_onnx() -> Any:
    """The ``onnx`` package, or an ``ImportError`` saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return onnx


class OnnxGraph:
    """An ONNX graph being built from a tinynet model, one layer at a time.

    ``opset`` is the ONNX operator set the graph targets (converters pick ops by it);
    ``sample`` is one input sample, shape (1, ...). ``dtype`` (by default the
    sample's) is the model's, that of every float value in the graph; a model that
    starts with an `Embedding` reads int64 token indices, its sample's dtype. Value
    names are unique; initializers (weights) are named after the layer's state-dict
    entries, in PyTorch's layout (``0.weight`` of a `Dense` is (out, in), as
    ``torch.onnx`` writes it). Nodes are named after the layer they come from
    and so are their outputs (``2.block.0.Gemm``).

    Shapes: every value that is a layer's input or output has a known shape,
    ``graph.shape(x)`` = ``(None, d1, ...)`` (``None``: the dynamic batch axis), found
    by running the layer in inference mode on one sample as the graph is built;
    ``graph.sample_shape(x)`` is ``(d1, ...)``.
    """

    def __init__(
        self,
        opset: int,
        sample: FloatArray,
        input_name: str = "input",
        output_name: str = "output",
        dtype: DTypeLike | None = None,
    ) -> None:
        self.opset = opset
        self.dtype: np.dtype[Any] = sample.dtype if dtype is None else np.dtype(dtype)
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.input_name, self.output_name = input_name, output_name
        self._onnx = import_onnx()
        self._names = {input_name, output_name}
        self._samples: dict[str, FloatArray] = {input_name: sample}
        self._prefix = ""
        self._path = "model"

    # --- what a converter uses --------------------------------------------------------

    @property
    def prefix(self) -> str:
        """The state-dict prefix of the layer being converted: ``""``, ``"0."``, ``"2.block."``."""
        return self._prefix

    def shape(self, x: str) -> tuple[int | None, ...]:
        """The shape of value ``x`` (a layer's input or output), batch axis ``None``."""
        if x not in self._samples:
            raise KeyError(
                f"OnnxGraph: the shape of {x!r} is not known (only layer inputs'/outputs')"
            )
        return (None, *self._samples[x].shape[1:])

    def sample_shape(self, x: str) -> tuple[int, ...]:
        """The shape of one sample of value ``x``: ``shape(x)`` without the batch axis,
        every size known (the graph's only dynamic axis is the batch)."""
        self.shape(x)  # the same KeyError for an unknown value
        return tuple(self._samples[x].shape[1:])

    def rank(self, x: str) -> int:
        """The number of axes of value ``x``, the batch axis included."""
        return len(self.shape(x))

    def node(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        """Add an ``op_type`` node (default ONNX domain) reading ``inputs``; return the
        name of its one output. ``attributes`` are the op's (``axis=1``, ``alpha=0.1``)."""
        output = self._unique(f"{self._prefix}{op_type}")
        node = self._onnx.helper.make_node(
            op_type, list(inputs), [output], name=output, **attributes
        )
        self.nodes.append(node)
        return output

    def weight(self, name: str, array: Array) -> str:
        """Add ``array`` as an initializer named ``prefix + name`` (``0.weight``); return it."""
        full = self._unique(self._prefix + name)
        contiguous = array if array.flags.c_contiguous else np.ascontiguousarray(array)
        tensor = self._onnx.numpy_helper.from_array(contiguous, full)  # 0-d stays 0-d
        self.initializers.append(tensor)
        return full

    def scalar(self, name: str, value: float) -> str:
        """Add a constant of shape () and the graph's dtype (broadcast by the ops)."""
        return self.weight(name, np.asarray(value, dtype=self.dtype))

    def convert(self, layer: Layer, x: str, name: str | None = None) -> str:
        """Convert ``layer`` reading value ``x``; return its output value.

        ``name`` is the layer's attribute name inside the one being converted (``"0"``,
        ``"block"``): it extends the state-dict prefix of the weights, as in
        ``named_modules``. ``None`` converts at the current prefix (the model itself).
        Raises `ConversionError` naming the layer if its class has no converter.
        """
        converter = onnx_converter(type(layer))
        outer = self._prefix, self._path
        if name is not None:
            self._prefix, self._path = f"{self._prefix}{name}.", f"{self._path}.{name}"
        try:
            if converter is None:
                cls = type(layer)
                raise ConversionError(
                    f"export_onnx: {self._path} is {_short(layer)}, a "
                    f"{cls.__module__}.{cls.__qualname__}, which has no ONNX converter; "
                    f"register one with @tinynet.io.register_onnx({cls.__name__}) on a function "
                    f"(layer, graph, x) -> y (see tinynet.io.onnx_graph)"
                )
            y = converter(layer, self, x)
            if not isinstance(y, str) or y not in self._names:
                raise TypeError(
                    f"export_onnx: the ONNX converter of {self._path} ({_short(layer)}) must "
                    f"return the name of a value in the graph, got {y!r}"
                )
            self._samples[y] = layer(self._samples[x].copy())
        finally:
            self._prefix, self._path = outer
        return y

    # --- naming -------------------------------------------------------------------------

    def _unique(self, name: str) -> str:
        candidate, i = name, 1
        while candidate in self._names:
            candidate, i = f"{name}_{i}", i + 1
        self._names.add(candidate)
        return candidate

    def set_output(self, y: str) -> tuple[int | None, ...]:
        """Make value ``y`` the graph's output, ``output_name``; return its shape.

        ``y`` is renamed where a node makes it, or copied by ``Identity`` if no node
        does (the model's input itself, as for a model of Dropouts).
        """
        if not any(y in node.output for node in self.nodes):
            self._samples[self.node("Identity", [y])] = self._samples[y]
            y = self.nodes[-1].output[0]
        for node in self.nodes:
            for names in (node.input, node.output):
                for i, value in enumerate(names):
                    if value == y:
                        names[i] = self.output_name
        self._samples[self.output_name] = self._samples.pop(y)
        return self.shape(self.output_name)


def _short(layer: Layer) -> str:
    return repr(layer).split("\n")[0].rstrip("(") or type(layer).__name__
