"""One ``.npy`` array (NumPy's format), read from a stream without trusting its header.

Layout: the magic bytes ``\\x93NUMPY``, a version (1.0, 2.0 or 3.0), the header's length
(2 bytes little-endian in 1.0, 4 bytes after), then the header, a Python dict literal
``{'descr': '<f4', 'fortran_order': False, 'shape': (16, 8), }`` padded with spaces,
then the data.

NumPy's own reader lets a corrupt header escape as ``SyntaxError``,
``tokenize.TokenError``, ``TypeError``, ``OverflowError`` or ``MemoryError``, and
allocates whatever shape the header declares. Here `read_header` raises only
``ValueError``, with a message saying what was expected and found (callers add the file
name and turn it into their own error type), accepts only plain numeric dtypes (bool,
integer, float, complex; never objects, so nothing is unpickled), and computes the
number of data bytes exactly, so that a caller can compare it with what the file
actually holds *before* `read_data` allocates anything.
"""

from __future__ import annotations

import ast
import math
from typing import IO, Any, NamedTuple

import numpy as np

from tinynet.typing import Array
from tinynet.validation import abridged

MAGIC = b"\x93NUMPY"
MAX_HEADER_BYTES = 10_000
"""The longest header read (NumPy's own default limit for untrusted files)."""
MAX_NDIM = 64
"""No NumPy array has more dimensions (NumPy 2; NumPy 1 allows 32)."""
_KEYS = {"descr", "fortran_order", "shape"}
_NUMERIC_KINDS = "biufc"
_CHUNK = 4 * 2**20
"""Bytes read per call, so the temporary copy of a read stays small."""
_LITERAL_ERRORS = (SyntaxError, ValueError, TypeError, OverflowError, MemoryError, RecursionError)
"""What ``ast.literal_eval`` of a short string and ``numpy.dtype`` of one may raise."""


class NpyHeader(NamedTuple):
    """What an ``.npy`` header declares; ``offset`` is where the data starts."""

    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    offset: int

    @property
    def nbytes(self) -> int:
        """The exact number of data bytes that must follow the header."""
        return math.prod(self.shape) * self.dtype.itemsize


def read_header(stream: IO[bytes]) -> NpyHeader:
    """Parse and check the header at the start of ``stream``; leave it at the data.

    ``ValueError`` for anything but a complete, well-formed header of a numeric array.
    """
    prefix = _read_exactly(stream, len(MAGIC) + 2, "the magic bytes and version")
    if prefix[: len(MAGIC)] != MAGIC:
        raise ValueError(f"expected the .npy magic bytes {MAGIC!r}, found {prefix[:6]!r}")
    version = (prefix[-2], prefix[-1])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise ValueError(f"expected .npy format version 1.0, 2.0 or 3.0, found {version}")
    width = 2 if version == (1, 0) else 4
    length = int.from_bytes(_read_exactly(stream, width, "the header length"), "little")
    if length > MAX_HEADER_BYTES:
        raise ValueError(f"expected a header of at most {MAX_HEADER_BYTES} bytes, found {length}")
    raw = _read_exactly(stream, length, f"a header of {length} bytes")
    try:
        text = raw.decode("utf-8" if version == (3, 0) else "latin-1")
        fields = ast.literal_eval(text)
    except _LITERAL_ERRORS as error:
        raise ValueError(f"the header is not a Python literal ({type(error).__name__})") from None
    if not isinstance(fields, dict) or set(fields) != _KEYS:
        raise ValueError(f"expected a header dict with exactly the keys {sorted(_KEYS)}")
    shape, fortran_order = fields["shape"], fields["fortran_order"]
    if not (
        isinstance(shape, tuple)
        and len(shape) <= MAX_NDIM
        and all(type(d) is int and d >= 0 for d in shape)
    ):
        raise ValueError(
            f"expected a shape of at most {MAX_NDIM} non-negative integers, got {short_repr(shape)}"
        )
    if not isinstance(fortran_order, bool):
        raise ValueError(f"expected fortran_order True or False, got {short_repr(fortran_order)}")
    offset = len(prefix) + width + length
    return NpyHeader(shape, _numeric_dtype(fields["descr"]), fortran_order, offset)


def read_data(stream: IO[bytes], header: NpyHeader) -> Array:
    """The array `read_header` described, read from ``stream`` (positioned at its data).

    Allocates ``header.nbytes`` once and reads into it; ``ValueError`` if the stream ends
    early or that much memory cannot be had. Check ``nbytes`` against the file first.
    """
    try:
        array = np.empty(header.shape, header.dtype, order="F" if header.fortran_order else "C")
    except (ValueError, OverflowError, MemoryError) as error:
        raise ValueError(
            f"cannot allocate an array of shape {header.shape} and dtype {header.dtype} "
            f"({header.nbytes} bytes): {type(error).__name__}"
        ) from None
    into = array.ravel(order="K").view(np.uint8)  # the array's own bytes, not a copy
    done = 0
    while done < header.nbytes:
        chunk = stream.read(min(_CHUNK, header.nbytes - done))
        if not chunk:
            raise ValueError(
                f"truncated: expected {header.nbytes} data bytes for shape {header.shape} "
                f"and dtype {header.dtype}, found {done}"
            )
        into[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)
    return array


def _numeric_dtype(descr: object) -> np.dtype[Any]:
    """The plain numeric dtype ``descr`` names (no objects, strings, records, subarrays)."""
    if not isinstance(descr, str):
        raise ValueError(
            f"expected descr to name a plain numeric dtype such as '<f4', got {short_repr(descr)} "
            f"(structured arrays are not read)"
        )
    try:
        dtype = np.dtype(descr)
    except _LITERAL_ERRORS:
        dtype = None
    if dtype is None or dtype.kind not in _NUMERIC_KINDS or dtype.fields or dtype.subdtype:
        raise ValueError(
            f"expected a bool, integer, float or complex dtype, got descr {short_repr(descr)}"
            + (" (Python objects, which only pickle can read)" if "O" in descr else "")
        )
    return dtype


def _read_exactly(stream: IO[bytes], count: int, what: str) -> bytes:
    data = stream.read(count)
    if len(data) != count:
        raise ValueError(f"truncated: expected {what}, found {len(data)} of {count} bytes")
    return data


def short_repr(value: object, limit: int = 80) -> str:
    """``repr(value)``, cut to ``limit`` characters to fit in an error message (a
    hostile file's values can be long)."""
    return abridged(repr(value), limit)
