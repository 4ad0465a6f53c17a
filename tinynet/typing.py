"""Array type aliases used across tinynet, defined once.

All arrays are NumPy arrays, batch first. Float arrays are float32 by default;
float64 is a choice (gradient checks use it).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]
"""A float array of any precision (float32 by default)."""

IntArray: TypeAlias = npt.NDArray[np.integer[Any]]
"""An integer array, e.g. class labels of shape (N,)."""

Array: TypeAlias = npt.NDArray[Any]
"""Any NumPy array (used where a value is validated before use)."""

DTypeLike: TypeAlias = npt.DTypeLike
"""Anything ``numpy.dtype`` accepts: ``np.float32``, ``"float64"``, ..."""

Shape: TypeAlias = tuple[int, ...]
