"""The data every section trains and tests on: MNIST, loaded once, optionally a subset."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from tinynet.datasets import load_fashion_mnist, load_mnist
from tinynet.typing import FloatArray, IntArray

LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}


@dataclass
class Data:
    """Training and test images (N, 784) float32 in [0, 1] and int64 labels (N,).

    ``as_dtype`` gives the images in another float dtype, converted once and cached.
    """

    x_train: FloatArray
    y_train: IntArray
    x_test: FloatArray
    y_test: IntArray
    name: str = "mnist"
    _cast: dict[str, tuple[FloatArray, FloatArray]] = field(default_factory=dict, repr=False)

    @property
    def features(self) -> int:
        """The number of inputs per sample (784 for MNIST)."""
        return int(self.x_train.shape[1])

    def as_dtype(self, dtype: str) -> tuple[FloatArray, FloatArray]:
        """``(x_train, x_test)`` in ``dtype``: the arrays themselves for float32."""
        if np.dtype(dtype) == self.x_train.dtype:
            return self.x_train, self.x_test
        if dtype not in self._cast:
            self._cast[dtype] = (self.x_train.astype(dtype), self.x_test.astype(dtype))
        return self._cast[dtype]

    def head(self, train: int | None, test: int | None = None) -> Data:
        """The first ``train`` training and ``test`` test samples (``None``: all), as views."""
        return Data(
            self.x_train[:train],
            self.y_train[:train],
            self.x_test[:test],
            self.y_test[:test],
            self.name,
        )

    def describe(self) -> str:
        """``mnist: 60,000 training and 10,000 test images of 784 features``."""
        return (
            f"{self.name}: {len(self.x_train):,} training and {len(self.x_test):,} test images "
            f"of {self.features} features"
        )


def load(
    name: str = "mnist",
    root: str | os.PathLike[str] | None = None,
    *,
    train: int | None = None,
    test: int | None = None,
) -> Data:
    """Load a dataset by name (``mnist`` or ``fashion-mnist``); keep the first samples."""
    if name not in LOADERS:
        raise ValueError(f"benchmarks: unknown dataset {name!r}; expected one of {list(LOADERS)}")
    (x_train, y_train), (x_test, y_test) = LOADERS[name](root)
    return Data(x_train, y_train, x_test, y_test, name).head(train, test)


def batch_order(data: Data, seed: int, dtype: str) -> tuple[FloatArray, IntArray]:
    """The training set shuffled once by ``seed``, contiguous, in ``dtype``.

    The bare step loops of every contender slice consecutive batches out of these
    arrays, so they see the same batches in the same order and no gathering is timed.
    """
    order = np.random.default_rng(seed).permutation(len(data.y_train))
    x_train, _ = data.as_dtype(dtype)
    return np.ascontiguousarray(x_train[order]), data.y_train[order]
