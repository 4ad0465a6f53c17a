"""The IDX file format (MNIST's): an n-dimensional array with a tiny big-endian header.

Layout: two zero bytes, a dtype code, the number of dimensions ``ndim``, then ``ndim``
big-endian uint32 sizes, then the elements in C order, big-endian. A file may be
gzip-compressed; that is detected from its first bytes, never from its name.

Every malformed file (wrong magic, unknown dtype code, truncated header or payload,
trailing bytes, corrupt gzip stream) raises ``ValueError`` naming the file, what was
expected and what was found.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.typing import Array

CODES: dict[int, np.dtype[np.generic]] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX dtype code -> the (big-endian) element dtype it stands for."""

GZIP_MAGIC = b"\x1f\x8b"
_MAX_DIM = 2**32 - 1


def read_idx(path: str | os.PathLike[str]) -> Array:
    """Read an IDX file (raw or gzip-compressed) into a new, writable array.

    Returns an array of the file's shape in native byte order, of dtype uint8, int8,
    int16, int32, float32 or float64 as the file's dtype code says. Raises
    ``ValueError`` if the file is not a well-formed IDX file.
    """
    array = decode_idx(read_bytes(path), source=path)
    return array if array.flags.writeable else array.copy()


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The bytes of ``path``, decompressed if it starts with the gzip magic bytes."""
    data = Path(path).read_bytes()
    return decompress(data, source=path) if is_gzip(data) else data


def is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts with the gzip magic bytes 1f 8b."""
    return data[:2] == GZIP_MAGIC


def decompress(data: bytes, *, source: object = "<bytes>") -> bytes:
    """Decompress a gzip stream; a corrupt or truncated one raises ``ValueError``."""
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{source}: expected a valid gzip stream, found a corrupt one ({error})"
        ) from error


def decode_idx(data: bytes, *, source: object = "<bytes>") -> Array:
    """Decode uncompressed IDX bytes into an array; ``source`` names them in errors.

    The result is a read-only view of ``data`` when no byte swap is needed (uint8 and
    int8 always), else a native-endian copy. Use `read_idx` for a file.
    """
    dtype, shape = _parse_header(data, source)
    header = 4 + 4 * len(shape)
    expected = math.prod(shape) * dtype.itemsize
    found = len(data) - header
    if found != expected:
        problem = "truncated" if found < expected else f"{found - expected} trailing bytes"
        raise ValueError(
            f"{source}: expected {expected} payload bytes for shape {shape} of {dtype.name}, "
            f"found {found} ({problem})"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    native = dtype.newbyteorder("=")
    return array if native == dtype else array.astype(native)


def _parse_header(data: bytes, source: object) -> tuple[np.dtype[np.generic], tuple[int, ...]]:
    """The element dtype and the shape from an IDX header, validated."""
    if len(data) < 4:
        raise ValueError(f"{source}: expected a 4-byte IDX magic number, found {len(data)} bytes")
    if data[0] != 0 or data[1] != 0 or data[2] not in CODES:
        known = ", ".join(f"0x{code:02X} ({dt.name})" for code, dt in CODES.items())
        raise ValueError(
            f"{source}: expected an IDX magic number 00 00 <dtype code> <ndim> with a dtype "
            f"code among {known}, found bytes {data[:4].hex(' ')}"
            + (" (a gzip stream inside a gzip stream?)" if is_gzip(data) else "")
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{source}: expected a {header}-byte header for {ndim} dimensions, "
            f"found {len(data)} bytes (truncated)"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return CODES[data[2]], shape


def write_idx(path: str | os.PathLike[str], array: Array, *, compress: bool | None = None) -> None:
    """Write ``array`` to ``path`` as an IDX file, atomically.

    ``array``: any shape (at most 255 dimensions, each below 2**32), dtype uint8, int8,
    int16, int32, float32 or float64 (any byte order; the file is big-endian).
    ``compress``: gzip the file; ``None`` means gzip if and only if the name ends in
    ``.gz``. The gzip header carries no timestamp, so equal arrays give equal files.
    The file appears complete or not at all (`tinynet.atomic.atomic_write`).
    """
    data = encode_idx(array)
    if compress is None:
        compress = str(path).endswith(".gz")
    if compress:
        data = gzip.compress(data, mtime=0)
    with atomic_write(path) as handle:
        handle.write(data)


def encode_idx(array: Array) -> bytes:
    """The uncompressed IDX bytes of ``array`` (see `write_idx` for what is accepted)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"write_idx: expected a numpy array, got a {type(array).__name__}")
    native = array.dtype.newbyteorder("=")
    code = next((c for c, dt in CODES.items() if dt.newbyteorder("=") == native), None)
    if code is None:
        names = ", ".join(dt.name for dt in CODES.values())
        raise TypeError(f"write_idx: expected an array of dtype {names}; got {array.dtype}")
    if array.ndim > 255 or any(d > _MAX_DIM for d in array.shape):
        raise ValueError(
            f"write_idx: expected at most 255 dimensions, each below 2**32, got shape {array.shape}"
        )
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=CODES[code]).tobytes()
