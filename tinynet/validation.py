"""Input checks shared by layers and losses, with messages that say what was expected.

Every check costs a few attribute reads, never a pass over the data, so it can run on
every call. Checks that must read every element (NaN, label range over a whole
dataset) live where they run once (the training loop, the dataset loaders).
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

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
    PyTorch; the dataset loops convert once instead, see
    `tinynet.inference.as_model_input`). Raises ``TypeError`` for a wrong type or dtype
    and ``ValueError`` for a wrong shape.
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
    if not is_integer(value) or value < 1:
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


def is_real(value: object) -> TypeGuard[int | float | np.integer[Any] | np.floating[Any]]:
    """Whether ``value`` is a real number: an int or float (NumPy's too), not a bool or str."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def is_integer(value: object) -> TypeGuard[int | np.integer[Any]]:
    """Whether ``value`` is an int (NumPy's too), not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_shape(value: object) -> TypeGuard[tuple[int, ...] | list[int]]:
    """Whether ``value`` is a non-empty tuple or list of positive ints: a sample's shape."""
    return (
        isinstance(value, (tuple, list))
        and len(value) > 0
        and all(is_integer(d) and d >= 1 for d in value)
    )


def abridged(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut: for messages that
    show values read from files, which can be long."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def short(value: object) -> str:
    """``repr(value)`` cut to 40 characters, with its type unless that is plain (a number,
    None, a list, tuple or dict): ``'0.001' (a str)``. For messages about settings read
    from files or arguments."""
    text = abridged(repr(value), 40)
    plain = is_real(value) or isinstance(value, (list, tuple, dict, type(None)))
    return text if plain else f"{text} (a {type(value).__name__})"


def number(
    owner: str,
    name: str,
    value: object,
    low: float = 0.0,
    high: float = math.inf,
    *,
    high_open: bool = False,
) -> float:
    """``value`` as a float, or ``ValueError`` unless it is a real number (`is_real`),
    finite and in ``[low, high]`` (``[low, high)`` with ``high_open``)."""
    try:
        as_float = float(value) if is_real(value) else math.nan
    except OverflowError:  # an int of 309 digits or more
        as_float = math.nan
    below_high = as_float < high or (as_float == high and not high_open)
    if math.isfinite(as_float) and low <= as_float and below_high:
        return as_float
    if high == math.inf:
        interval = f">= {low:g}"
    else:
        interval = f"in [{low:g}, {high:g}{')' if high_open else ']'}"
    raise ValueError(f"{owner}: {name} must be a finite number {interval}, got {short(value)}")


def flag(owner: str, name: str, value: object) -> bool:
    """``value`` as a bool, or ``ValueError`` unless it is ``True`` or ``False``."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{owner}: {name} must be True or False, got {short(value)}")
    return bool(value)
