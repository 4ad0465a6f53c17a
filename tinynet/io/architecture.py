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
against it: built-in layers allocate through `tinynet.init`, which reserves each array
before it exists (`tinynet.init.budget`), so the constructor refuses a size the file
cannot back before allocating it; what a custom layer allocates otherwise is charged
right after (its constructor is code you imported, and can overshoot by its own arrays
only). A file can so never make
`rebuild` allocate more parameter and buffer elements than it holds (plus `SLACK`),
nor build more than `MAX_LAYERS` layers.
"""

from __future__ import annotations

import json
from typing import Any

from tinynet import init as initializers
from tinynet.io.errors import ModelFormatError
from tinynet.io.npy import short_repr
from tinynet.layers.base import LAYERS, Layer
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
                f"{path}: {what} would allocate {elements} more parameter and buffer "
                f"elements; with those before them, more than the {self.held} the file's "
                f"arrays hold: the architecture does not fit the weights"
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
    what = f"{kind}({short_repr(config, 200)})"
    if budget is not None:
        budget.charge(0, 1, path, what)
    built = [
        rebuild(child, f"{path}.{_child_name(child)}", depth + 1, budget) for child in children
    ]
    charged = [0]

    def charge(elements: int) -> None:
        if budget is not None:
            budget.charge(elements, 0, path, what)
        charged[0] += elements

    try:
        with initializers.budget(charge):  # built-in layers reserve before they allocate
            layer = cls.from_config(config, built)
    except ModelFormatError:
        raise
    except Exception as error:
        raise ModelFormatError(
            f"{path}: cannot rebuild {kind} from config {short_repr(config, 200)} and {len(built)} "
            f"sub-layers: {type(error).__name__}: {error}"
        ) from error
    _check_children(layer, children, path)
    if budget is not None:  # what a custom layer allocated without reserving it
        own = _elements(layer) - sum(_elements(child) for child in built)
        budget.charge(max(own - charged[0], 0), 0, path, repr(layer))
    layer.training = training
    return layer


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
