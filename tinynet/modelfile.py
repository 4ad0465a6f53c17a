"""Model files: plain Python files defining ``build(seed) -> Layer`` and a ``RECIPE``.

``models/mnist_mlp.py`` is one; a user's file of the same shape works everywhere a
built-in one does (``tinynet train my_model.py``). Loading a model file runs it: it is
code, like any script you run. Saved weights (`tinynet.io`) never run code.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinynet.layers.base import Layer
from tinynet.recipe import Recipe


@dataclass(frozen=True)
class ModelFile:
    """A loaded model file: its path, its ``build`` function and its ``RECIPE``."""

    path: Path
    build_fn: Callable[[int], Layer]
    recipe: Recipe

    @property
    def name(self) -> str:
        """The file's stem, e.g. ``mnist_mlp``."""
        return self.path.stem

    def build(self, seed: int = 0) -> Layer:
        """Call the file's ``build(seed)`` and check that it returned a `Layer`."""
        model = self.build_fn(seed)
        if not isinstance(model, Layer):
            raise TypeError(
                f"{self.path}: build(seed) must return a tinynet Layer (e.g. a Sequential), "
                f"got {type(model).__name__}"
            )
        return model


def load_model_file(path: str | Path) -> ModelFile:
    """Import the Python file at ``path`` and return its `ModelFile`.

    The file must define ``build(seed: int) -> Layer``; ``RECIPE`` (a `Recipe`) is
    optional and defaults to ``Recipe()``. Raises ``FileNotFoundError`` or ``TypeError``
    with the file's name when either is missing or of the wrong kind.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"model file not found: {file}")
    module_name = f"tinynet_model_{file.stem}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise TypeError(f"{file}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling-free reprs need it
    spec.loader.exec_module(module)
    build = getattr(module, "build", None)
    if not callable(build):
        raise TypeError(f"{file}: expected a function build(seed: int) -> Layer")
    recipe = getattr(module, "RECIPE", Recipe())
    if not isinstance(recipe, Recipe):
        raise TypeError(
            f"{file}: RECIPE must be a tinynet.recipe.Recipe, got {type(recipe).__name__}"
        )
    return ModelFile(file.resolve(), build, recipe)
