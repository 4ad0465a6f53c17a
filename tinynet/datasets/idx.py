"""The IDX file format (MNIST's): an n-dimensional array with a tiny big-endian header.

Layout: two zero bytes, a dtype code, the number of dimensions ``ndim``, then ``ndim``
big-endian uint32 sizes, then the elements in C order, big-endian. A file may be
gzip-compressed; that is detected from its first bytes, never from its name.

Reading is bounded by what the header declares: the header is read (decompressed)
first, the declared payload is compared with what the file can hold (exactly its
size when raw; at most deflate's 1032:1 ratio when gzipped) before anything is
allocated, and decompression stops one byte after the declared payload, so a small
``.gz`` that inflates to gigabytes after a small header costs nothing. Only regular
files are read (never ``/dev/zero`` or a FIFO). Memory: the declared array, once.

Every malformed file (wrong magic, unknown dtype code, truncated header or payload,
trailing bytes, corrupt gzip stream, a shape NumPy cannot hold or memory cannot fit)
raises `IdxFormatError`, a ``ValueError``, naming the file, what was expected and what
was found.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import zlib
from collections.abc import Iterator
from typing import IO, Any, NamedTuple, TypeAlias

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.datasets.errors import DataFormatError
from tinynet.files import DEFLATE_MAX_RATIO, open_regular
from tinynet.typing import Array, DTypeLike, Shape

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
_CHUNK = 4 * 2**20
KIND = "an IDX file"
_Stream: TypeAlias = IO[bytes] | gzip.GzipFile


class IdxFormatError(DataFormatError):
    """A file that is not a well-formed IDX file, or a dataset of IDX files that do not
    fit together; the message names the file, what was expected and what was found.
    A `DataFormatError` (a ``ValueError``), as every data file's error."""


Pattern = tuple[int | None, ...]
"""A shape to expect, where ``None`` matches any size: ``(64, None, None)``."""


class _Expected(NamedTuple):
    """What a caller requires an IDX header to declare (``None``: anything)."""

    shape: Pattern | None
    dtype: np.dtype[Any] | None

    @classmethod
    def of(cls, shape: Pattern | None, dtype: DTypeLike | None) -> _Expected:
        return cls(shape, None if dtype is None else np.dtype(dtype))

    def fits(self, dims: Shape) -> bool:
        """Whether ``dims`` has the expected shape (a ``None`` in it: any size)."""
        if self.shape is None:
            return True
        pattern = tuple(self.shape)
        if len(dims) != len(pattern):
            return False
        return all(p is None or p == d for p, d in zip(pattern, dims, strict=True))


def read_idx(
    path: str | os.PathLike[str], *, shape: Pattern | None = None, dtype: DTypeLike | None = None
) -> Array:
    """Read an IDX file (raw or gzip-compressed) into a new, writable array.

    Returns an array of the file's shape in native byte order, of dtype uint8, int8,
    int16, int32, float32 or float64 as the file's dtype code says. ``shape`` and
    ``dtype``, if given, are what the file must declare, checked from its header
    before the payload is read (a ``None`` in ``shape`` allows any size there). Raises
    ``FileNotFoundError``, or `IdxFormatError` if the file is not a regular file, not a
    well-formed IDX file or not as expected.
    """
    expect = _Expected.of(shape, dtype)
    with open_regular(path, KIND, IdxFormatError) as handle:
        size = os.fstat(handle.fileno()).st_size
        compressed = is_gzip(handle.read(2))
        handle.seek(0)
        with _gzip_errors(path, compressed):
            stream: _Stream = gzip.GzipFile(fileobj=handle) if compressed else handle
            with stream:
                return _read_array(stream, path, size, compressed, expect)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The uncompressed IDX bytes of ``path`` (decompressed if it is gzipped), checked
    as `read_idx` checks them."""
    return encode_idx(read_idx(path))


def is_gzip(data: bytes) -> bool:
    """Whether ``data`` starts with the gzip magic bytes 1f 8b."""
    return data[:2] == GZIP_MAGIC


def decompress(
    data: bytes,
    *,
    source: object = "<bytes>",
    shape: Shape | None = None,
    dtype: DTypeLike | None = None,
) -> bytes:
    """Decompress a gzip stream holding one IDX file, never past what its header
    declares (``shape``, ``dtype``: as for `read_idx`); `IdxFormatError` if corrupt,
    malformed or not as expected."""
    expect = _Expected.of(shape, dtype)
    with _gzip_errors(source, True), gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
        array = _read_array(stream, source, len(data), True, expect, native=False)
    return _header(array) + array.tobytes()


def decode_idx(
    data: bytes,
    *,
    source: object = "<bytes>",
    shape: Shape | None = None,
    dtype: DTypeLike | None = None,
) -> Array:
    """Decode uncompressed IDX bytes into an array; ``source`` names them in errors.

    The result is a read-only view of ``data`` when no byte swap is needed (uint8 and
    int8 always), else a native-endian copy. ``shape``, ``dtype``: as for `read_idx`.
    Use `read_idx` for a file.
    """
    expect = _Expected.of(shape, dtype)
    declared, dims = _parse_header(data, source)
    _check_declared(source, declared, dims, expect, len(data), compressed=False)
    try:
        array = np.frombuffer(data, dtype=declared, offset=4 + 4 * len(dims)).reshape(dims)
    except ValueError as error:
        raise _unholdable(source, dims, declared, error) from None
    native = declared.newbyteorder("=")
    return array if native == declared else array.astype(native)


def _read_array(
    stream: _Stream,
    source: object,
    size: int,
    compressed: bool,
    expect: _Expected,
    native: bool = True,
) -> Array:
    """The array an IDX stream holds: header, checks, then one allocation filled in place."""
    start = stream.read(4)
    head = start + stream.read(4 * start[3]) if len(start) == 4 else start
    dtype, dims = _parse_header(head, source)
    _check_declared(source, dtype, dims, expect, size, compressed)
    array = _allocate(dims, dtype, source)
    into = array.reshape(-1).view(np.uint8)  # the array's own bytes
    done = 0
    while done < array.nbytes:
        chunk = stream.read(min(_CHUNK, array.nbytes - done))
        if not chunk:
            raise IdxFormatError(_payload_problem(source, dtype, dims, done, "truncated"))
        into[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
        done += len(chunk)
    if stream.read(1):
        raise IdxFormatError(
            _payload_problem(source, dtype, dims, f"more than {done}", "trailing bytes")
        )
    if native and not dtype.isnative:
        array = array.byteswap(inplace=True).view(dtype.newbyteorder("="))
    return array


def _parse_header(data: bytes, source: object) -> tuple[np.dtype[np.generic], Shape]:
    """The element dtype and the shape from an IDX header, validated."""
    if len(data) < 4:
        raise IdxFormatError(
            f"{source}: expected a 4-byte IDX magic number, found {len(data)} bytes"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in CODES:
        known = ", ".join(f"0x{code:02X} ({dt.name})" for code, dt in CODES.items())
        raise IdxFormatError(
            f"{source}: expected an IDX magic number 00 00 <dtype code> <ndim> with a dtype "
            f"code among {known}, found bytes {data[:4].hex(' ')}"
            + (" (a gzip stream inside a gzip stream?)" if is_gzip(data) else "")
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise IdxFormatError(
            f"{source}: expected a {header}-byte header for {ndim} dimensions, "
            f"found {len(data)} bytes (truncated)"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return CODES[data[2]], shape


def _check_declared(
    source: object,
    dtype: np.dtype[np.generic],
    dims: Shape,
    expect: _Expected,
    size: int,
    compressed: bool,
) -> None:
    """Refuse, from the header alone, what is not as expected or a payload the file
    cannot hold (``size``: the raw file's length, or the compressed one's)."""
    wrong_shape = not expect.fits(dims)
    wrong_dtype = expect.dtype is not None and dtype.newbyteorder("=") != expect.dtype
    if wrong_shape or wrong_dtype:
        what = "" if expect.dtype is None else f"{expect.dtype.name} "
        shape = "" if expect.shape is None else f" of shape {tuple(expect.shape)}"
        raise IdxFormatError(
            f"{source}: expected {what}data{shape}, found {dtype.name} data of shape {dims}"
        )
    expected = math.prod(dims) * dtype.itemsize
    if not compressed and size - 4 - 4 * len(dims) != expected:
        found = size - 4 - 4 * len(dims)
        problem = "truncated" if found < expected else f"{found - expected} trailing bytes"
        raise IdxFormatError(_payload_problem(source, dtype, dims, found, problem))
    if compressed and expected > DEFLATE_MAX_RATIO * size:
        raise IdxFormatError(
            f"{source}: the header declares {expected} payload bytes for shape {dims} of "
            f"{dtype.name}, more than a gzip file of {size} bytes can hold (deflate expands "
            f"at most {DEFLATE_MAX_RATIO}:1): corrupt or hostile"
        )


def _payload_problem(
    source: object, dtype: np.dtype[np.generic], dims: Shape, found: object, problem: str
) -> str:
    expected = math.prod(dims) * dtype.itemsize
    return (
        f"{source}: expected {expected} payload bytes for shape {dims} of {dtype.name}, "
        f"found {found} ({problem})"
    )


def _allocate(dims: Shape, dtype: np.dtype[np.generic], source: object) -> Array:
    """An uninitialised array of the declared shape, or `IdxFormatError` saying why not."""
    try:
        return np.empty(dims, dtype)
    except (ValueError, MemoryError) as error:
        raise _unholdable(source, dims, dtype, error) from None


def _unholdable(
    source: object, dims: Shape, dtype: np.dtype[np.generic], error: Exception
) -> IdxFormatError:
    nbytes = math.prod(dims) * dtype.itemsize
    return IdxFormatError(
        f"{source}: the header declares shape {dims} of {dtype.name} ({nbytes} bytes), "
        f"which NumPy cannot hold here: {type(error).__name__}: {error}"
    )


@contextlib.contextmanager
def _gzip_errors(source: object, compressed: bool) -> Iterator[None]:
    """Turn what ``gzip`` raises on a corrupt or truncated stream into `IdxFormatError`."""
    try:
        yield
    except (OSError, EOFError, zlib.error) as error:
        if not compressed or isinstance(error, FileNotFoundError):
            raise
        raise IdxFormatError(
            f"{source}: expected a valid gzip stream, found a corrupt one ({error})"
        ) from error


def _header(array: Array) -> bytes:
    """The IDX header of ``array`` (its dtype must be one of `CODES`)."""
    native = array.dtype.newbyteorder("=")
    code = next((c for c, dt in CODES.items() if dt.newbyteorder("=") == native), None)
    if code is None:
        names = ", ".join(dt.name for dt in CODES.values())
        raise TypeError(f"write_idx: expected an array of dtype {names}; got {array.dtype}")
    if array.ndim > 255 or any(d > _MAX_DIM for d in array.shape):
        raise ValueError(
            f"write_idx: expected at most 255 dimensions, each below 2**32, got shape {array.shape}"
        )
    return bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()


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
    header = _header(array)
    return header + np.ascontiguousarray(array, dtype=CODES[header[2]]).tobytes()
