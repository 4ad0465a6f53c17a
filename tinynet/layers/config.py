"""A layer's configuration: read from its constructor (`constructor_config`, what
`Layer.config` returns by default) and the name files know its class by (`register_layer`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

import numpy as np

from tinynet.layers.base import LAYERS, Layer

L = TypeVar("L", bound=Layer)

_JSON_SCALARS = (bool, int, float, str, type(None))


def constructor_config(layer: Layer) -> dict[str, Any]:
    """``layer``'s constructor arguments, read from its attributes of the same names.

    As scikit-learn's ``get_params``: for each named argument of ``type(layer).__init__``
    the attribute of that name, as a JSON value (tuples become lists). Arguments it does
    not keep are left out when they have a default (the default rebuilds it); sub-layers
    are rebuilt from the children, not the config. ``TypeError`` names a required
    argument the layer does not keep, or a kept value that is not JSON.
    """
    config: dict[str, Any] = {}
    for name, arg in inspect.signature(type(layer).__init__).parameters.items():
        if name == "self" or arg.kind in (arg.VAR_POSITIONAL, arg.VAR_KEYWORD):
            continue
        value = getattr(layer, name, arg.default)
        if value is arg.empty:
            raise TypeError(
                f"{type(layer).__name__}: cannot tell its argument {name!r} to save it; keep "
                f"it as self.{name} in __init__, or write a config() method"
            )
        if isinstance(value, (Layer, np.random.Generator)) or (
            isinstance(value, (list, tuple)) and value and isinstance(value[0], Layer)
        ):
            continue  # children are rebuilt from the file, generators drawn afresh
        json_value = _as_json(value)
        if json_value is None and value is not None:
            if value is arg.default:
                continue  # a non-JSON default (an rng, an init function) rebuilds itself
            raise TypeError(
                f"{type(layer).__name__}: its argument {name!r} is {value!r}, not a JSON "
                f"value a file can hold; write a config() method"
            )
        if arg.default is arg.empty or json_value != _as_json(arg.default):
            config[name] = json_value
    return config


def _as_json(value: object) -> Any:
    """``value`` as JSON (tuples as lists, NumPy scalars as Python ones, dtypes by
    name), or ``None``."""
    if isinstance(value, type) and issubclass(value, np.generic):
        value = np.dtype(value)
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        items = [_as_json(item) for item in value]
        ok = all(j is not None or i is None for i, j in zip(value, items, strict=True))
        return items if ok else None
    return None


@overload
def register_layer(cls: type[L], *, name: str | None = None) -> type[L]: ...


@overload
def register_layer(
    cls: None = None, *, name: str | None = None
) -> Callable[[type[L]], type[L]]: ...


def register_layer(
    cls: type[L] | None = None, *, name: str | None = None
) -> type[L] | Callable[[type[L]], type[L]]:
    """Save ``cls`` under ``name`` (it can still be loaded under its default name).

    Every `Layer` subclass is registered when defined, so this is needed only to choose
    the name files use: ``@register_layer(name="mylib.Scale")``. Use as a decorator, with
    or without arguments, or as ``register_layer(cls, name=...)``; returns the class.
    """
    if cls is None:
        return lambda decorated: register_layer(decorated, name=name)
    if not (inspect.isclass(cls) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer: expected a Layer subclass, got {cls!r}")
    if name is not None:
        LAYERS.add(cls, name, primary=True)
    return cls
