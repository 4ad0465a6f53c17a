"""Datasets in one ``.npz``: the arrays ``x_train``, ``y_train``, ``x_test``, ``y_test``.

That is the layout of Keras's ``mnist.npz`` and what ``numpy.savez(path, x_train=...,
...)`` writes. The archive is read without pickle, member by member, each array's
shape and dtype checked from its header before its data is read (`tinynet.io.npz`).
"""

from __future__ import annotations

import os
from typing import Any, TypeAlias

import numpy as np

from tinynet.datasets.errors import DataFormatError
from tinynet.io.errors import ModelFormatError
from tinynet.io.npz import open_npz
from tinynet.typing import Array, DTypeLike, FloatArray

KEYS = ("x_train", "y_train", "x_test", "y_test")
NpzSplits: TypeAlias = tuple[tuple[FloatArray, Array], tuple[FloatArray | None, Array | None]]
"""``(x_train, y_train), (x_test, y_test)``; the test arrays may be ``None``."""


def load_npz(
    path: str | os.PathLike[str], *, flatten: bool = False, dtype: DTypeLike = np.float32
) -> NpzSplits:
    """``(x_train, y_train), (x_test, y_test)`` from an ``.npz`` of those four arrays.

    ``x_*``: samples (N, ...) in their stored shape (``flatten``: (N, features)),
    converted to the float ``dtype``: uint8 pixels are divided by 255 (as the IDX
    reader does), floats kept as they are (they must be finite); other integers are
    refused (scale them first). ``y_*``: integer labels become int64, float targets
    ``dtype``; (N,) or (N, K). ``x_test`` and ``y_test`` are optional (``None``: no test
    data; ``x_test`` alone: unlabeled test data). Other arrays are ignored. Raises
    `DataFormatError` naming the file and the array for anything else.
    """
    source = str(path)
    float_dtype = np.dtype(dtype)
    if float_dtype.kind != "f":
        raise TypeError(f"load_npz: expected a float dtype, got {float_dtype}")
    arrays = _arrays(path, source)
    x_train = _samples(source, "x_train", arrays["x_train"], flatten, float_dtype)
    y_train = _targets(source, "y_train", arrays["y_train"], x_train.shape[0], float_dtype)
    x_test = y_test = None
    if "x_test" in arrays:
        x_test = _samples(source, "x_test", arrays["x_test"], flatten, float_dtype)
        if x_test.shape[1:] != x_train.shape[1:]:
            raise DataFormatError(
                f"{source}: x_test samples have shape {x_test.shape[1:]}, x_train's "
                f"{x_train.shape[1:]}"
            )
        if "y_test" in arrays:
            y_test = _targets(source, "y_test", arrays["y_test"], x_test.shape[0], float_dtype)
    return (x_train, y_train), (x_test, y_test)


def _arrays(path: str | os.PathLike[str], source: str) -> dict[str, Array]:
    """The arrays of `KEYS` the archive holds; what `open_npz` refuses (a corrupt or
    hostile archive) is a `DataFormatError` here, as every data file's problem."""
    try:
        with open_npz(path, "an .npz of x_train, y_train, x_test, y_test") as reader:
            present = {key for key in KEYS if key in reader.specs}
            if not {"x_train", "y_train"} <= present:
                raise DataFormatError(
                    f"{source}: expected arrays x_train and y_train (and x_test, y_test), "
                    f"found {sorted(reader.specs) or 'none'}"
                )
            if "y_test" in present and "x_test" not in present:
                raise DataFormatError(f"{source}: holds y_test but no x_test")
            return {key: reader.read(key) for key in KEYS if key in present}
    except ModelFormatError as error:
        raise DataFormatError(str(error)) from error


def _samples(
    source: str, name: str, array: Array, flatten: bool, dtype: np.dtype[Any]
) -> FloatArray:
    where = f"{source}: {name}"
    if array.ndim < 2 or array.shape[0] == 0:
        raise DataFormatError(
            f"{where}: expected samples of shape (N, ...), N > 0, got {array.shape}"
        )
    if array.dtype == np.uint8:
        x = np.empty(array.shape, dtype)
        np.divide(array, dtype.type(255), out=x)
    elif array.dtype.kind == "f":
        x = array.astype(dtype)
        if not np.isfinite(x).all():
            raise DataFormatError(f"{where}: holds NaN or infinite values")
    else:
        raise DataFormatError(
            f"{where}: expected uint8 pixels (divided by 255) or floats, got {array.dtype}; "
            f"store the values scaled as the model should see them, e.g. x / x.max()"
        )
    return x.reshape(x.shape[0], -1) if flatten else x


def _targets(source: str, name: str, array: Array, n: int, dtype: np.dtype[Any]) -> Array:
    where = f"{source}: {name}"
    if array.ndim not in (1, 2) or array.shape[0] != n:
        raise DataFormatError(
            f"{where}: expected {n} targets, of shape ({n},) or ({n}, K), got {array.shape}"
        )
    if array.dtype.kind in "iub":
        low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
        if low < 0:
            raise DataFormatError(f"{where}: expected labels >= 0, got {low}")
        if high > np.iinfo(np.int64).max:  # uint64: would wrap to a negative int64
            raise DataFormatError(f"{where}: expected labels < 2**63, got {high}")
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        values = array.astype(dtype)
        if not np.isfinite(values).all():
            raise DataFormatError(f"{where}: holds NaN or infinite values")
        return values
    raise DataFormatError(f"{where}: expected integer labels or float targets, got {array.dtype}")
