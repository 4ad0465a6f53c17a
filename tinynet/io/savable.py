"""Whether a model can be saved and loaded back, checked before the work it would lose.

`check_savable` runs what `tinynet.io.save` and `tinynet.io.load` would: it describes
the architecture (every layer class registered, every ``config()`` JSON), rebuilds it
from that description as `load` does (each class's ``from_config`` given what its
``config()`` gave), and compares the rebuilt layers and arrays with the model's.
``save`` calls it before writing; ``tinynet train`` and `tinynet.recipe.Recipe.fit` call
it before the first epoch, so a layer that could not come back is refused before a run
is spent on it. `architecture_difference` says where two descriptions differ first.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinynet.io.architecture import Budget, describe, rebuild
from tinynet.io.errors import ModelFormatError
from tinynet.layers.base import Layer
from tinynet.state_dict import ArraySpec

HEADER = "__tinynet__"
"""The archive member holding a model file's JSON header (`tinynet.io.native`)."""


def check_savable(model: Layer, where: str = "save") -> dict[str, Any]:
    """The architecture of ``model`` as `tinynet.io.architecture.describe` gives it,
    checked to load back: rebuilt from its JSON, it must describe the same layers and
    settings and hold arrays of the same names, shapes and dtype as ``model``.

    Raises, with a message headed by ``where``: ``TypeError`` for a non-layer or a
    configuration that cannot be read or is not JSON, ``ValueError`` for parameters of
    mixed dtypes, an array name a file cannot hold, or a description that does not
    rebuild into this model (the layer's path and what differs). Changes nothing;
    allocates one fresh copy of the model's arrays while it runs.
    """
    if not isinstance(model, Layer):
        raise TypeError(f"{where}: expected a tinynet Layer, got {type(model).__name__}")
    specs = model.state_specs()
    check_array_names(where, specs)
    dtype = common_dtype(where, model)
    try:
        node = describe(model)
    except TypeError as error:
        raise TypeError(f"{where}: the model could not be saved: {error}") from None
    budget = Budget(sum(math.prod(spec.shape) for spec in specs.values()))
    try:
        rebuilt = rebuild(_as_json(node), budget=budget)
    except ModelFormatError as error:
        raise ValueError(f"{where}: the model could not be loaded again: {error}") from error
    difference = architecture_difference(
        _as_json(node),
        _as_json(describe(rebuilt)),
        "model",
        ("the model has", "its config rebuilds"),
    )
    if difference:
        raise ValueError(
            f"{where}: the model could not be loaded again: {difference}; its config() "
            f"must return every constructor argument that differs from the default"
        )
    if dtype is not None:
        rebuilt.astype(np.dtype(dtype))
    back = rebuilt.state_specs()
    for name in [*specs, *(name for name in back if name not in specs)]:
        if specs.get(name) != back.get(name):
            raise ValueError(
                f"{where}: the model could not be loaded again: rebuilt from its config, its "
                f"{name!r} would be {_spec_text(back.get(name))}, not "
                f"{_spec_text(specs.get(name))}; its config() must return every constructor "
                f"argument that sizes it"
            )
    return node


def _as_json(node: dict[str, Any]) -> Any:
    """``node`` as it reads back from a file (tuples become lists)."""
    return json.loads(json.dumps(node))


def check_array_names(where: str, arrays: Mapping[str, ArraySpec | np.ndarray[Any, Any]]) -> None:
    """``ValueError`` for a state-dict name a model file cannot hold as an array."""
    for name in arrays:
        if name == HEADER or "/" in name:
            raise ValueError(f"{where}: {name!r} cannot name a parameter or buffer in a model file")


def common_dtype(where: str, model: Layer) -> str | None:
    """The one dtype of every parameter of ``model`` (``None`` without parameters);
    ``ValueError`` for mixed ones."""
    dtypes = {str(p.dtype) for p in model.parameters()}
    if len(dtypes) > 1:
        raise ValueError(
            f"{where}: parameters have mixed dtypes {sorted(dtypes)}; expected one, "
            f"e.g. model.astype(np.float32)"
        )
    return dtypes.pop() if dtypes else None


def architecture_difference(
    first: Any,
    second: Any,
    path: str = "model",
    names: tuple[str, str] = ("the model file builds", "the weights hold"),
) -> str | None:
    """Where two `tinynet.io.architecture.describe` trees first differ (a layer's type or
    config, or the number of sub-layers), as ``at model.1, <names[0]> Dense(...), <names[1]>
    Dense(...)``; ``None`` if they describe the same layers (modes aside)."""
    if first["type"] != second["type"] or first["config"] != second["config"]:
        return f"at {path}, {names[0]} {_layer_text(first)}, {names[1]} {_layer_text(second)}"
    ours, theirs = first["children"], second["children"]
    for mine, other in zip(ours, theirs, strict=False):
        found = architecture_difference(mine, other, f"{path}.{mine['name']}", names)
        if found:
            return found
    if len(ours) != len(theirs):
        return f"at {path}, {names[0]} {len(ours)} layers, {names[1]} {len(theirs)}"
    return None


def _spec_text(spec: ArraySpec | None) -> str:
    return "missing" if spec is None else f"of shape {spec.shape} and dtype {spec.dtype}"


def _layer_text(node: dict[str, Any]) -> str:
    settings = ", ".join(f"{key}={value!r}" for key, value in node["config"].items())
    return f"{node['type']}({settings})"
