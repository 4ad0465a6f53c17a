"""Registries: the names under which saved files and recipes refer to classes.

A model file names each layer's type (``"Dense"``) instead of storing code, so loading
runs no code from the file: the name is looked up in a `Registry`. Layers
(`tinynet.layers.base.LAYERS`) register
themselves when their class is defined: tinynet's own under their class names, any
other under ``module.QualifiedName`` (``my_layers.Scale``), so a custom layer needs no
decorator. The module defining it must be imported before a file using it is loaded.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name (from a file or a recipe) or a class (being saved) that is not registered."""


UnknownLayerError = UnknownNameError
"""The name this error had when only layers were registered."""


def qualified(cls: type) -> str:
    """``module.QualifiedName`` of a class: how a class outside tinynet is registered."""
    return f"{cls.__module__}.{cls.__qualname__}"


def is_builtin(cls: type) -> bool:
    """Whether ``cls`` is defined inside the tinynet package."""
    return cls.__module__ == "tinynet" or cls.__module__.startswith("tinynet.")


class Registry(Generic[T]):
    """A two-way table of names and classes of one ``kind`` (``"layer"``, ``"loss"``).

    A class is saved under its first name (``name_of``) and can be found under every
    name it was added with (``get``). A redefinition of a class (same module and
    qualified name, as when a notebook cell runs twice) replaces it for loading, and
    instances of the old one still save under the name; another class
    under a taken name is a ``ValueError`` naming both.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}
        self._names: dict[type[T], str] = {}

    def add(self, cls: type[T], name: str | None = None, *, primary: bool = False) -> None:
        """Register ``cls`` under ``name`` (by default its class name if it is tinynet's,
        else ``module.QualifiedName``); ``primary`` makes it the name ``cls`` is saved under."""
        key = name if name is not None else cls.__name__ if is_builtin(cls) else qualified(cls)
        if not isinstance(key, str) or not key:
            raise ValueError(f"{self.kind} name must be a non-empty string, got {key!r}")
        taken = self._classes.get(key)
        if taken is not None and qualified(taken) != qualified(cls):
            raise ValueError(
                f"two {self.kind} classes claim the name {key!r}: {qualified(taken)} and "
                f"{qualified(cls)}; give one another name"
            )
        self._classes[key] = cls  # a redefinition replaces the old class for loading
        if primary:
            self._names[cls] = key
        else:
            self._names.setdefault(cls, key)

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; `UnknownNameError` lists the known names."""
        try:
            return self._classes[name]
        except (KeyError, TypeError):
            raise UnknownNameError(
                f"unknown {self.kind} type {name!r}; a custom {self.kind} is registered when "
                f"the module defining it is imported (on the command line: --import "
                f"FILE_OR_MODULE). Known: {', '.join(self.names())}"
            ) from None

    def name_of(self, cls: type[T]) -> str:
        """The name ``cls`` is saved under."""
        try:
            return self._names[cls]
        except KeyError:
            raise UnknownNameError(
                f"{self.kind} class {qualified(cls)} is not registered"
            ) from None

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._classes)

    def items(self) -> dict[str, type[T]]:
        """A copy of the table: name -> class."""
        return dict(self._classes)
