"""A model's architecture as JSON: layer type names and constructor arguments, nested.

One node per layer::

    {"type": "Dense", "config": {"in_features": 784, "out_features": 128, "bias": true},
     "training": false, "children": [{"name": "0", "type": ..., ...}, ...]}

``type`` is the name the class is registered under (`tinynet.registry`), ``config`` is
``layer.config()``, ``children`` are the sub-layers in ``named_children`` order, each
with its attribute ``name``, and ``training`` the layer's mode. Rebuilding calls
``cls.from_config(config, children)`` for registered classes only: nothing named in a
file is imported or executed. Weights are not part of it (see `tinynet.io.native`).

A file's architecture is checked against its arrays *before* layers allocate theirs
(without it, a 500-byte file naming ``Dense(16384, 16384)`` filled 1 GiB with random
weights before finding no weights to load). `rebuild` takes a `Budget`, the number of
elements the file's arrays hold, and each layer's parameters and buffers are charged
against it: a built-in layer whose arrays grow with its config (`Dense`, the convolutions,
the batch norms, `Embedding`, `LayerNorm`, the recurrent layers, `MultiheadAttention`:
``_SIZED_BY_CONFIG``) is sized from the config before it is constructed (less what its
sub-layers, rebuilt and charged first, hold), any other layer right after
(parameter-free built-ins allocate nothing; a custom layer's constructor is code you
registered, and can overshoot by its own arrays only). A file can so never make
`rebuild` allocate more parameter and buffer elements than it holds (plus `SLACK`),
nor build more than `MAX_LAYERS` layers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from tinynet.io.errors import ModelFormatError
from tinynet.io.npy import short_repr
from tinynet.layers.attention import MultiheadAttention
from tinynet.layers.base import LAYERS, Layer
from tinynet.layers.conv import Conv1d, Conv2d
from tinynet.layers.dense import Dense
from tinynet.layers.embedding import Embedding, PositionalEmbedding
from tinynet.layers.layernorm import LayerNorm
from tinynet.layers.normalization import BatchNorm1d, BatchNorm2d
from tinynet.layers.recurrent import GRU, LSTM, RNN
from tinynet.registry import UnknownNameError

MAX_DEPTH = 64
"""Layers nested deeper than this are refused when reading (a hostile file's recursion)."""
MAX_LAYERS = 10_000
"""At most this many layers (containers included) are rebuilt from one file: each costs
about 0.5 kB and 15 us, whatever the file's arrays."""


SLACK = 2**20
"""Elements a `Budget` allows beyond the file's arrays (4 MiB of float32), so that a
file missing a few small arrays still gets the message listing them, from the full
comparison of the rebuilt model with the file."""


class Budget:
    """What the layers rebuilt from one file may still allocate: the number of array
    elements the file holds (``held``) plus `SLACK`, and `MAX_LAYERS` layers."""

    def __init__(self, held: int) -> None:
        self.held = held
        self.elements = held + SLACK
        self.layers = MAX_LAYERS

    def charge(self, elements: int, layers: int, path: str, what: str) -> None:
        """Spend ``elements`` and ``layers``; `ModelFormatError` if that is more than is left."""
        if layers > self.layers:
            raise ModelFormatError(f"{path}: the file describes more than {MAX_LAYERS} layers")
        if elements > self.elements:
            raise ModelFormatError(
                f"{path}: {what} needs {elements} parameter and buffer elements; with the "
                f"layers before it, more than the {self.held} the file's arrays hold: the "
                f"architecture does not fit the weights"
            )
        self.elements -= elements
        self.layers -= layers


def describe(layer: Layer, path: str = "model") -> dict[str, Any]:
    """The JSON node of ``layer`` and its sub-layers.

    Raises `UnknownNameError` for an unregistered class and ``TypeError`` for a
    ``config()`` that is not a JSON object, naming the layer's position (``path``).
    """
    config = layer.config()
    if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
        raise TypeError(f"{path} ({layer!r}): config() must return a dict with str keys")
    try:
        json.dumps(config)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{path} ({layer!r}): config() must return JSON values: {error}") from None
    children = [
        {"name": name, **describe(child, f"{path}.{name}")}
        for name, child in layer.named_children()
    ]
    return {
        "type": LAYERS.name_of(type(layer)),
        "config": config,
        "training": layer.training,
        "children": children,
    }


def rebuild(
    node: object, path: str = "model", depth: int = 0, budget: Budget | None = None
) -> Layer:
    """The layer a node describes, with fresh weights, in the node's training mode.

    With a ``budget`` (see the module's docstring), a layer whose arrays would exceed it
    is refused before they are allocated where its config tells their size. Raises
    `ModelFormatError` naming the node (``path``) for a malformed node, an unregistered
    type (the message says how to register it), a config its class rejects, or an
    exceeded budget.
    """
    if depth > MAX_DEPTH:
        raise ModelFormatError(f"{path}: layers nested deeper than {MAX_DEPTH}")
    kind, config, children, training = _fields(node, path)
    try:
        cls = LAYERS.get(kind)
    except UnknownNameError as error:
        raise ModelFormatError(f"{path}: {error}") from None
    if budget is not None:
        budget.charge(0, 1, path, kind)
    built = [
        rebuild(child, f"{path}.{_child_name(child)}", depth + 1, budget) for child in children
    ]
    sized = _SIZED_BY_CONFIG.get(cls)
    if budget is not None and sized is not None:
        own = sized(config) - sum(_elements(child) for child in built)
        budget.charge(max(own, 0), 0, path, f"{kind}({short_repr(config, 200)})")
    try:
        layer = cls.from_config(config, built)
    except Exception as error:
        raise ModelFormatError(
            f"{path}: cannot rebuild {kind} from config {short_repr(config, 200)} and {len(built)} "
            f"sub-layers: {type(error).__name__}: {error}"
        ) from error
    _check_children(layer, children, path)
    if budget is not None and sized is None:
        own = _elements(layer) - sum(_elements(child) for child in built)
        budget.charge(max(own, 0), 0, path, repr(layer))
    layer.training = training
    return layer


def _positive(config: dict[str, Any], key: str, default: int = 0) -> int:
    """``config[key]`` (``default`` if absent) if it is a positive int, else 0 (the
    constructor will refuse it)."""
    value = config.get(key, default)
    return value if type(value) is int and value > 0 else 0


def _bias(config: dict[str, Any], key: str = "bias") -> int:
    """1 if the config asks for biases (the default), else 0."""
    return int(bool(config.get(key, True)))


def _kernel_area(config: dict[str, Any], axes: int) -> int:
    """The product of a conv config's ``kernel_size`` (an int, or a list of ``axes``
    ints), 0 if malformed."""
    size = config.get("kernel_size")
    sizes = [size] * axes if type(size) is int else size
    if not (isinstance(sizes, list) and len(sizes) == axes):
        return 0
    return math.prod(_positive({"k": k}, "k") for k in sizes)


def _conv_elements(axes: int) -> Callable[[dict[str, Any]], int]:
    """A Conv1d (1 axis) or Conv2d (2): the weight (out, in / groups, *kernel) and bias."""

    def elements(config: dict[str, Any]) -> int:
        groups = max(_positive(config, "groups", 1), 1)
        per_group = -(-_positive(config, "in_channels") // groups)  # the constructor checks
        weight = per_group * _kernel_area(config, axes)
        return _positive(config, "out_channels") * (weight + _bias(config))

    return elements


def _batch_norm_elements(config: dict[str, Any]) -> int:
    """Weight, bias, running mean and variance per feature, and the batch counter."""
    return _positive(config, "num_features") * (4 if config.get("affine", True) else 2) + 1


def _layer_norm_elements(config: dict[str, Any]) -> int:
    """Weight and bias per feature; ``normalized_shape`` is an int or a one-int list."""
    shape = config.get("normalized_shape")
    features = shape[0] if isinstance(shape, list) and len(shape) == 1 else shape
    return 2 * _positive({"d": features}, "d") * _bias(config, "elementwise_affine")


def _recurrent_elements(gates: int) -> Callable[[dict[str, Any]], int]:
    """An RNN (1 gate), GRU (3) or LSTM (4): per stacked layer, (G*H, in) and (G*H, H)
    weights and two (G*H,) biases; ``in`` is ``input_size`` for the first layer, H after."""

    def elements(config: dict[str, Any]) -> int:
        inputs, hidden = _positive(config, "input_size"), _positive(config, "hidden_size")
        layers = _positive(config, "num_layers", 1)
        per_layer = gates * hidden * (hidden + hidden + 2 * _bias(config))
        return gates * hidden * (inputs - hidden) + layers * per_layer if layers else 0

    return elements


def _attention_elements(config: dict[str, Any]) -> int:
    """``in_proj`` (3E, E) and (3E,), and the Dense ``out_proj`` (E, E) and (E,)."""
    e = _positive(config, "embed_dim")
    return 4 * e * (e + _bias(config))


_SIZED_BY_CONFIG: dict[type[Layer], Callable[[dict[str, Any]], int]] = {
    Dense: lambda c: (_positive(c, "in_features") + _bias(c)) * _positive(c, "out_features"),
    Conv1d: _conv_elements(1),
    Conv2d: _conv_elements(2),
    BatchNorm1d: _batch_norm_elements,
    BatchNorm2d: _batch_norm_elements,
    Embedding: lambda c: _positive(c, "num_embeddings") * _positive(c, "embedding_dim"),
    PositionalEmbedding: lambda c: _positive(c, "max_len") * _positive(c, "embedding_dim"),
    LayerNorm: _layer_norm_elements,
    RNN: _recurrent_elements(1),
    GRU: _recurrent_elements(3),
    LSTM: _recurrent_elements(4),
    MultiheadAttention: _attention_elements,
}
"""The elements a built-in layer's parameters and buffers take with its sub-layers',
from its config alone (a test checks each against the layer built). `rebuild` charges
a layer what its sub-layers, rebuilt and charged first, do not hold."""


def _elements(layer: Layer) -> int:
    """The parameter and buffer elements of ``layer`` and its sub-layers."""
    return sum(p.size for p in layer.parameters()) + sum(
        buffer.size for _, buffer in layer.named_buffers()
    )


def _fields(node: object, path: str) -> tuple[str, dict[str, Any], list[Any], bool]:
    """``type``, ``config``, ``children`` and ``training`` of a node, type-checked."""
    if not isinstance(node, dict):
        raise ModelFormatError(f"{path}: expected a layer description (a JSON object)")
    kind, config = node.get("type"), node.get("config", {})
    children, training = node.get("children", []), node.get("training", True)
    if not isinstance(kind, str):
        raise ModelFormatError(f"{path}: expected a layer type name, got {kind!r}")
    if not isinstance(config, dict):
        raise ModelFormatError(f"{path}: expected config to be a JSON object, got {config!r}")
    if not isinstance(children, list):
        raise ModelFormatError(f"{path}: expected children to be a list")
    if not isinstance(training, bool):
        raise ModelFormatError(f"{path}: expected training to be true or false")
    return kind, config, children, training


def _child_name(child: object) -> str:
    name = child.get("name") if isinstance(child, dict) else None
    return name if isinstance(name, str) else "?"


def _check_children(layer: Layer, children: list[Any], path: str) -> None:
    """The rebuilt layer must hold the sub-layers under the names the file gives."""
    names = [name for name, _ in layer.named_children()]
    expected = [_child_name(child) for child in children]
    if names != expected:
        raise ModelFormatError(
            f"{path}: {type(layer).__name__}.from_config made sub-layers {names}, "
            f"the file describes {expected}"
        )
