"""Input checks shared by layers and losses, with messages that say what was expected.

Every check costs a few attribute reads, never a pass over the data, so it can run on
every call. Checks that must read every element (NaN, label range over a whole
dataset) live where they run once (the training loop, the dataset loaders).
"""

from __future__ import annotations

import numpy as np

from tinynet.typing import Array, FloatArray, IntArray


def describe(x: object) -> str:
    """A short description of ``x`` for error messages: shape and dtype, or its type."""
    if isinstance(x, np.ndarray):
        return f"an array of shape {x.shape} and dtype {x.dtype}"
    return f"a {type(x).__name__}"


def shape_pattern(ndim: int | None, last: int | None) -> str:
    """A shape as a message shows it: ``(N, 784)`` for ndim 2 and last 784."""
    if ndim is None:
        return f"(N, ..., {last})" if last is not None else "(N, ...)"
    dims = ["N", *(f"D{i}" for i in range(1, ndim))]
    if last is not None and ndim > 1:
        dims[-1] = str(last)
    return "(" + ", ".join(dims) + ")"


def float_array(
    where: object,
    x: object,
    *,
    ndim: int | None = None,
    last: int | None = None,
    dtype: np.dtype[np.floating] | None = None,
    name: str = "input",
) -> FloatArray:
    """Check that ``x`` is a float array and return it unchanged.

    ``where`` names the caller in the message (a layer's repr). ``ndim`` is the number
    of dimensions required, ``last`` the size of the last one, ``dtype`` the exact dtype
    required (no silent casts: a float64 batch into a float32 layer is an error, as in
    PyTorch). Raises ``TypeError`` for a wrong type or dtype and ``ValueError`` for a
    wrong shape.
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{where}: expected {name} to be a numpy array, got {describe(x)}")
    if x.dtype.kind != "f":  # np.issubdtype is ~20x slower; this runs on every call
        raise TypeError(
            f"{where}: expected a float {name} (float32 or float64), got dtype {x.dtype}; "
            f"convert with x.astype(np.float32)"
        )
    if dtype is not None and x.dtype != dtype:
        raise TypeError(
            f"{where}: expected {name} of dtype {dtype}, got {x.dtype}; "
            f"convert with x.astype(np.{dtype}) or the model with model.astype(np.{x.dtype})"
        )
    if (ndim is not None and x.ndim != ndim) or (
        last is not None and (x.ndim == 0 or x.shape[-1] != last)
    ):
        raise ValueError(
            f"{where}: expected {name} of shape {shape_pattern(ndim, last)}, got shape {x.shape}"
        )
    return x


def same_shape(
    where: object,
    x: object,
    shape: tuple[int, ...],
    name: str,
    dtype: np.dtype[np.floating] | None = None,
) -> FloatArray:
    """Check that ``x`` is a float array of exactly ``shape`` (and ``dtype``, if given)."""
    x = float_array(where, x, name=name, dtype=dtype)
    if x.shape != shape:
        raise ValueError(f"{where}: expected {name} of shape {shape}, got shape {x.shape}")
    return x


def positive_int(owner: str, name: str, value: object) -> int:
    """``value`` as an int if it is a positive integer (not a bool), else ``ValueError``
    naming ``owner`` and the argument ``name``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


def class_labels(where: object, y: object, n: int, classes: int) -> IntArray:
    """Check that ``y`` holds ``n`` integer labels in ``[0, classes)`` and return it.

    ``y`` must be an integer array of shape (n,). Raises ``TypeError`` for floats and
    ``ValueError`` for a wrong length or a label out of range (naming the first one).
    """
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{where}: expected labels as an integer numpy array, got {describe(y)}")
    if y.dtype.kind not in "iu":
        raise TypeError(f"{where}: expected integer class labels, got dtype {y.dtype}")
    if y.shape != (n,):
        raise ValueError(f"{where}: expected labels of shape ({n},), got shape {y.shape}")
    if n and (int(y.min()) < 0 or int(y.max()) >= classes):
        bad: Array = y[(y < 0) | (y >= classes)]
        raise ValueError(
            f"{where}: labels must lie in [0, {classes}), got {int(bad[0])} "
            f"({bad.size} of {n} out of range)"
        )
    return y
