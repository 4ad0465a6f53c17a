"""What rebuilds a layer from a file: its constructor's arguments, read from the
attributes of the same names (`constructor_config`, the default `Layer.config`)."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

_JSON_SCALARS = (bool, int, float, str, type(None))


def constructor_config(layer: object, rebuilt: tuple[type, ...] = ()) -> dict[str, Any]:
    """``layer``'s constructor arguments as JSON values, read from its attributes of the
    same names, as scikit-learn's ``get_params``; values of a ``rebuilt`` type (sub-layers,
    generators: rebuilt otherwise) and defaults it does not keep are left out. ``TypeError``
    names a required argument not kept, or one not JSON."""
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
        if isinstance(value, rebuilt) or (
            isinstance(value, (list, tuple)) and value and isinstance(value[0], rebuilt)
        ):
            continue  # children are rebuilt from the file, generators drawn afresh
        json_value = as_json(value)
        if json_value is None and value is not None:
            if value is arg.default:
                continue  # a non-JSON default (an rng, an init function) rebuilds itself
            raise TypeError(
                f"{type(layer).__name__}: its argument {name!r} is {value!r}, not a JSON "
                f"value a file can hold; write a config() method"
            )
        if arg.default is arg.empty or json_value != as_json(arg.default):
            config[name] = json_value
    return config


def as_json(value: object) -> Any:
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
        items = [as_json(item) for item in value]
        ok = all(j is not None or i is None for i, j in zip(value, items, strict=True))
        return items if ok else None
    return None
