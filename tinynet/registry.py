"""The layer registry: the names under which saved files refer to layer classes.

A model file names each layer's type (``"Dense"``) instead of storing code, so loading
runs no code from the file: the name is looked up here. tinynet's own layers are
registered under their class names. A custom layer registers itself::

    @tinynet.register_layer
    class Scale(tinynet.Layer): ...

    @tinynet.register_layer(name="mylib.Scale")   # a name of your choosing
    class Scale(tinynet.Layer): ...

The module defining it must be imported before a file using it is loaded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, overload

import tinynet.containers
import tinynet.layers
from tinynet.layers.base import Layer

L = TypeVar("L", bound=type[Layer])

_classes: dict[str, type[Layer]] = {}
_names: dict[type[Layer], str] = {}


class UnknownLayerError(ValueError):
    """A layer type name (from a file) or class (being saved) that is not registered."""


@overload
def register_layer(cls: L, *, name: str | None = None) -> L: ...


@overload
def register_layer(cls: None = None, *, name: str | None = None) -> Callable[[L], L]: ...


def register_layer(cls: L | None = None, *, name: str | None = None) -> L | Callable[[L], L]:
    """Register a `Layer` subclass under ``name`` (its class name by default).

    Use as ``@register_layer``, ``@register_layer(name="...")`` or
    ``register_layer(cls, name="...")``; returns the class. Registering the same
    class again, or a redefinition of it (same module and qualified name, as when a
    notebook cell runs twice), is allowed; another class under a taken name is a
    ``ValueError``. A class registered under a second name keeps the first for saving
    and can be loaded under both.
    """
    if cls is None:
        return lambda decorated: register_layer(decorated, name=name)
    _register(cls, name)
    return cls


def _register(cls: type[Layer], name: str | None) -> None:
    if not (inspect.isclass(cls) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer: expected a Layer subclass, got {cls!r}")
    key = cls.__name__ if name is None else name
    if not isinstance(key, str) or not key:
        raise ValueError(f"register_layer: name must be a non-empty string, got {key!r}")
    taken = _classes.get(key)
    if taken is not None and taken is not cls and not _same_definition(taken, cls):
        raise ValueError(
            f"register_layer: the name {key!r} is taken by {_qualified(taken)}; "
            f"register {_qualified(cls)} under another, e.g. register_layer(name='mylib.{key}')"
        )
    if taken is not None and taken is not cls:
        _names.pop(taken, None)
    _classes[key] = cls
    _names.setdefault(cls, key)


def _same_definition(a: type, b: type) -> bool:
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def layer_class(name: str) -> type[Layer]:
    """The class registered as ``name``; `UnknownLayerError` says how to register it."""
    if name not in _classes:
        _register_builtins()
    try:
        return _classes[name]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_classes))
        raise UnknownLayerError(
            f"unknown layer type {name!r}. If it is a custom layer, import the module that "
            f"defines it and decorate its class with @tinynet.register_layer (or call "
            f"tinynet.register_layer(cls, name={name!r})) before loading; on the command line, "
            f"--import FILE_OR_MODULE imports it. Registered: {known}"
        ) from None


def layer_name(layer: Layer | type[Layer]) -> str:
    """The name ``layer``'s class is saved under; `UnknownLayerError` if unregistered."""
    cls = layer if isinstance(layer, type) else type(layer)
    if cls not in _names:
        _register_builtins()
    try:
        return _names[cls]
    except KeyError:
        raise UnknownLayerError(
            f"layer class {_qualified(cls)} is not registered, so a saved file could not be "
            f"loaded again; decorate it with @tinynet.register_layer"
        ) from None


def registered_layers() -> dict[str, type[Layer]]:
    """A copy of the registry: name -> class."""
    _register_builtins()
    return dict(_classes)


def _register_builtins() -> None:
    """Register every concrete layer class defined inside tinynet not registered yet.

    Done on import and again when a lookup misses, so a built-in layer added later
    (or in a module imported later) needs no list to be kept up to date.
    """
    for cls in _subclasses(Layer):
        builtin = cls.__module__ == "tinynet" or cls.__module__.startswith("tinynet.")
        free = cls.__name__ not in _classes  # a user's class registered first keeps its name
        if builtin and free and not inspect.isabstract(cls) and cls not in _names:
            _register(cls, None)


def _subclasses(cls: type[Any]) -> Iterator[type[Layer]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


_BUILTIN_MODULES = (tinynet.containers, tinynet.layers)  # imported so that they register
_register_builtins()
