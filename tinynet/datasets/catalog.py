"""The datasets tinynet knows by name: one table for the CLI, recipes and benchmarks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from tinynet.datasets.mnist import (
    FASHION_MNIST_CLASSES,
    Split,
    load_fashion_mnist,
    load_mnist,
)

Loader = Callable[..., tuple[Split, Split]]
"""``load(root=None, *, flatten=True, dtype=float32) -> ((x_train, y_train), (x_test, y_test))``."""


@dataclass(frozen=True)
class DatasetInfo:
    """A named dataset: how to load it, how many classes it has and what they are called."""

    name: str
    load: Loader
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """The number of classes (labels are 0 .. num_classes - 1)."""
        return len(self.class_names)


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", load_mnist, tuple(str(digit) for digit in range(10))),
    "fashion-mnist": DatasetInfo("fashion-mnist", load_fashion_mnist, FASHION_MNIST_CLASSES),
}
"""Every dataset a recipe, ``tinynet train --dataset`` or the benchmarks can name."""


def dataset_info(name: str) -> DatasetInfo:
    """The `DatasetInfo` called ``name``; ``ValueError`` listing the known names otherwise."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}"
        ) from None


def load_dataset(name: str, root: str | os.PathLike[str] | None = None) -> tuple[Split, Split]:
    """``(x_train, y_train), (x_test, y_test)`` of the dataset called ``name``, flattened,
    float32 (found and verified by its loader; ``root`` as the loaders take it)."""
    return dataset_info(name).load(root)
