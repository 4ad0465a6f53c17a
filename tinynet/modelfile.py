"""Model files: plain Python files defining ``build(seed) -> Layer`` and a ``RECIPE``.

A file may also define ``RECIPES``, named variants (``{"original": ..., "tuned": ...}``),
of which ``RECIPE`` is the default; ``tinynet train --recipe NAME`` picks one. And it
may define ``REPORTED``, the published figure of the network it reproduces (``"95.42%"``),
and ``INPUT_SHAPE``, one sample's shape as its network takes it (``(1, 28, 28)`` for a
convolutional net: NCHW; without it, flat rows of 784 features).
``models/mnist_mlp.py`` is one; a user's file of the same shape works everywhere a
built-in one does (``tinynet train my_model.py``). Loading a model file runs it: it is
code, like any script you run. Saved weights (`tinynet.io`) never run code.

An exception raised by the file's own code, when it is imported or its ``build(seed)``
runs, becomes a `ModelFileError` whose message names the file and the line
(``my_model.py:12: KeyError: 'width'``); the original is its ``__cause__``, with the
full traceback (``tinynet ... --debug`` prints it).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from tinynet.layers.base import Layer
from tinynet.recipe import Recipe
from tinynet.typing import Shape
from tinynet.validation import is_shape

DEFAULT_RECIPE_NAME = "default"
"""The name of a ``RECIPE`` that is not one of the file's ``RECIPES``."""


class ModelFileError(ValueError):
    """An exception raised by a model file's own code, as one line naming the file and
    the line in it: ``path:LINE: ExceptionType: message`` (the original: ``__cause__``)."""


def line_in(error: BaseException, path: str | Path) -> int | None:
    """The line of ``path`` where ``error`` was raised, or passed through on its way up:
    the deepest frame of its traceback in that file (a ``SyntaxError``'s own line).
    ``None`` if the error never went through the file."""
    file = Path(path).resolve()
    if isinstance(error, SyntaxError) and error.filename and Path(error.filename).resolve() == file:
        return error.lineno
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if Path(frame.filename).resolve() == file:
            return frame.lineno
    return None


def in_model_file(error: Exception, path: str | Path) -> ModelFileError:
    """``error`` as a `ModelFileError` naming ``path`` and its line (raise it ``from error``)."""
    line = line_in(error, path)
    shown = Path(path)
    if shown.is_absolute() and shown.is_relative_to(Path.cwd()):
        shown = shown.relative_to(Path.cwd())  # as the user would type it
    where = f"{shown}:{line}" if line is not None else str(shown)
    message = " ".join(str(error).split()) or "(no message)"
    return ModelFileError(f"{where}: {type(error).__name__}: {message}")


@dataclass(frozen=True)
class ModelFile:
    """A loaded model file: its path, its ``build`` function and its ``RECIPE``.

    ``recipes`` holds every named recipe (the file's ``RECIPES``, and its ``RECIPE``
    under ``"default"`` unless it is one of them); ``recipe_name`` is the name of
    ``recipe``. ``reported`` is the file's ``REPORTED`` as a string (``None`` without).
    """

    path: Path
    build_fn: Callable[[int], Layer]
    recipe: Recipe
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    recipe_name: str = DEFAULT_RECIPE_NAME
    reported: str | None = None
    input_shape: Shape | None = None

    @property
    def name(self) -> str:
        """The file's stem, e.g. ``mnist_mlp``."""
        return self.path.stem

    def build(self, seed: int = 0) -> Layer:
        """Call the file's ``build(seed)`` and check that it returned a `Layer`; an
        exception it raises becomes a `ModelFileError` naming the file and line."""
        try:
            model = self.build_fn(seed)
        except Exception as error:
            raise in_model_file(error, self.path) from error
        if not isinstance(model, Layer):
            raise TypeError(
                f"{self.path}: build(seed) must return a tinynet Layer (e.g. a Sequential), "
                f"got {type(model).__name__}"
            )
        return model

    def named_recipes(self) -> dict[str, Recipe]:
        """Every recipe of the file by name (at least its default one)."""
        return dict(self.recipes) or {self.recipe_name: self.recipe}

    def get_recipe(self, name: str | None = None) -> tuple[str, Recipe]:
        """``(name, recipe)``: the one called ``name``, or the default for ``None``.

        Raises ``ValueError`` listing the file's recipe names when there is no such one.
        """
        if name is None:
            return self.recipe_name, self.recipe
        recipes = self.named_recipes()
        if name not in recipes:
            raise ValueError(
                f"{self.path.name}: no recipe {name!r}; its recipes are: {', '.join(recipes)}"
            )
        return name, recipes[name]


def import_path(path: str | Path) -> ModuleType:
    """Run the Python file at ``path`` as a module named after it and return it.

    As Python does for a script, the file's folder becomes importable, so a model file
    can ``from my_layers import Scale`` from beside it. The module is named by the
    file's stem (``my_layers.py`` -> ``my_layers``), so a layer it defines is saved as
    ``my_layers.Scale`` whether the file was run or imported by name; where that name
    belongs to another module, ``tinynet_model_<stem>`` instead. Every import of one file
    goes under its one name, so a layer class it defines is the same definition each
    time. Raises ``FileNotFoundError`` or ``TypeError`` naming the file.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no such Python file: {file}")
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module_name = _module_name(file)
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise TypeError(f"{file}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling-free reprs need it
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[module_name]
        raise in_model_file(error, path) from error
    return module


def _module_name(file: Path) -> str:
    """``file``'s stem, unless another module answers to it (``json.py`` must not shadow
    the standard library's): then ``tinynet_model_<stem>``."""
    stem = file.stem
    if not stem.isidentifier():
        return f"tinynet_model_{stem}"
    loaded = sys.modules.get(stem)
    if loaded is not None:
        origin = getattr(loaded, "__file__", None)
    else:
        try:
            found = importlib.util.find_spec(stem)
        except (ImportError, ValueError):
            found = None
        origin = None if found is None else found.origin
    if origin is None or Path(origin).resolve() == file.resolve():
        return stem
    return f"tinynet_model_{stem}"


def import_modules(names: Iterable[str]) -> list[ModuleType]:
    """Import each of ``names``, for the layers they register (``tinynet ... --import``):
    a path to a ``.py`` file (run by `import_path`), or a module name, importable from
    the current directory or ``sys.path``. ``ImportError`` names one that is not found."""
    modules = []
    for name in names:
        if name.endswith(".py") or Path(name).is_file():
            modules.append(import_path(name))
            continue
        if "" not in sys.path and os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # as `python -m` would: the working directory
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as error:
            raise ImportError(
                f"--import {name}: {error}; give a path to a .py file, or a module "
                f"importable from here (PYTHONPATH)"
            ) from None
    return modules


def load_model_file(path: str | Path) -> ModelFile:
    """Import the Python file at ``path`` and return its `ModelFile`.

    The file must define ``build(seed: int) -> Layer``; ``RECIPE`` (a `Recipe`) is
    optional and defaults to the first of ``RECIPES`` (a dict of name to `Recipe`, also
    optional), or else to ``Recipe()``; ``REPORTED`` and ``INPUT_SHAPE`` (a tuple of
    positive ints) are optional too. Raises
    ``FileNotFoundError`` or ``TypeError`` with the file's name when one is missing or of
    the wrong kind, and `ModelFileError` (file and line) for any exception the file
    raises as it runs, a recipe's ``ValueError`` included.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"model file not found: {file}")
    module = import_path(file)
    build = getattr(module, "build", None)
    if not callable(build):
        raise TypeError(f"{file}: expected a function build(seed: int) -> Layer")
    recipes = getattr(module, "RECIPES", {})
    if not isinstance(recipes, Mapping) or not all(
        isinstance(k, str) and isinstance(v, Recipe) for k, v in recipes.items()
    ):
        raise TypeError(f"{file}: RECIPES must be a dict of names to tinynet.recipe.Recipe")
    recipes = dict(recipes)
    recipe = getattr(module, "RECIPE", next(iter(recipes.values()), Recipe()))
    if not isinstance(recipe, Recipe):
        raise TypeError(
            f"{file}: RECIPE must be a tinynet.recipe.Recipe, got {type(recipe).__name__}"
        )
    name = next((k for k, v in recipes.items() if v == recipe), None)
    if name is None:
        if DEFAULT_RECIPE_NAME in recipes:
            raise TypeError(f"{file}: RECIPE must be one of RECIPES when one is called 'default'")
        name = DEFAULT_RECIPE_NAME
        recipes = {name: recipe, **recipes}
    figure = getattr(module, "REPORTED", None)
    reported = None if figure is None else str(figure)
    input_shape = getattr(module, "INPUT_SHAPE", None)
    if input_shape is not None:
        if not is_shape(input_shape):
            raise TypeError(
                f"{file}: INPUT_SHAPE must be a tuple of positive ints, one sample's shape "
                f"such as (1, 28, 28), got {input_shape!r}"
            )
        input_shape = tuple(input_shape)
    return ModelFile(file.resolve(), build, recipe, recipes, name, reported, input_shape)
