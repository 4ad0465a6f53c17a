"""A model's architecture as JSON: layer type names and constructor arguments, nested.

One node per layer::

    {"type": "Dense", "config": {"in_features": 784, "out_features": 128, "bias": true},
     "training": false, "children": [{"name": "0", "type": ..., ...}, ...]}

``type`` is the name the class is registered under (`tinynet.registry`), ``config`` is
``layer.config()``, ``children`` are the sub-layers in ``named_children`` order, each
with its attribute ``name``, and ``training`` the layer's mode. Rebuilding calls
``cls.from_config(config, children)`` for registered classes only: nothing named in a
file is imported or executed. Weights are not part of it (see `tinynet.io.native`).
"""

from __future__ import annotations

import json
from typing import Any

from tinynet.io.errors import ModelFormatError
from tinynet.layers.base import Layer
from tinynet.registry import UnknownLayerError, layer_class, layer_name

MAX_DEPTH = 64
"""Layers nested deeper than this are refused when reading (a hostile file's recursion)."""


def describe(layer: Layer, path: str = "model") -> dict[str, Any]:
    """The JSON node of ``layer`` and its sub-layers.

    Raises `UnknownLayerError` for an unregistered class and ``TypeError`` for a
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
        "type": layer_name(layer),
        "config": config,
        "training": layer.training,
        "children": children,
    }


def rebuild(node: object, path: str = "model", depth: int = 0) -> Layer:
    """The layer a node describes, with fresh weights, in the node's training mode.

    Raises `ModelFormatError` naming the node (``path``) for a malformed node, an
    unregistered type (the message says how to register it) or a config its class
    rejects.
    """
    if depth > MAX_DEPTH:
        raise ModelFormatError(f"{path}: layers nested deeper than {MAX_DEPTH}")
    kind, config, children, training = _fields(node, path)
    try:
        cls = layer_class(kind)
    except UnknownLayerError as error:
        raise ModelFormatError(f"{path}: {error}") from None
    built = [rebuild(child, f"{path}.{_child_name(child)}", depth + 1) for child in children]
    try:
        layer = cls.from_config(config, built)
    except Exception as error:
        raise ModelFormatError(
            f"{path}: cannot rebuild {kind} from config {config} and {len(built)} sub-layers: "
            f"{type(error).__name__}: {error}"
        ) from error
    _check_children(layer, children, path)
    layer.training = training
    return layer


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
