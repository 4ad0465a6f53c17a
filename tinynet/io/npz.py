"""The ``.npz`` container (NumPy's zip of ``.npy`` arrays), written and read without pickle.

Writing is what ``numpy.savez`` does, with pickling refused. Reading goes member by
member: each array's shape and dtype come from its ``.npy`` header, parsed by
`tinynet.io.npy` (a literal, never code; only plain numeric dtypes), before any data is
read, so a caller can reject a wrong or oversized array without allocating it.

What a hostile archive can make a reader do is bounded by the archive itself: every
member must be a stored or deflated ``.npy`` whose header declares exactly the data
bytes the zip directory says the member holds; members may not overlap; a stored
member holds no more than its share of the archive, a deflated one no more than 1032
times its compressed size (deflate's limit). So `NpzReader.data_bytes`, the sum of the
declared arrays, is at most the archive's size when members are stored (tinynet's own
files) and 1032 times it in the worst case, and nothing is allocated beyond the arrays
actually read. Encrypted members, other compression methods, duplicate or non-``.npy``
names are refused, and every problem with the archive is a `ModelFormatError` naming
the file.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tinynet.files import DEFLATE_MAX_RATIO, open_regular
from tinynet.io import npy
from tinynet.io.errors import ModelFormatError
from tinynet.io.pickled import refuse_pickle
from tinynet.state_dict import ArraySpec
from tinynet.typing import Array

_SUFFIX = ".npy"
_LOCAL_HEADER = 30
"""Bytes of a zip local file header before its name: the least a member occupies."""
_CORRUPT = (
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    struct.error,
    ValueError,
    NotImplementedError,
    OSError,
)
"""What zipfile raises on a truncated, corrupt or unsupported archive (``OSError``: a
seek to an offset a corrupt directory names, ``[Errno 22] Invalid argument``)."""


def write_npz(handle: BinaryIO, arrays: Mapping[str, Array]) -> None:
    """Write ``arrays`` (name -> array) into ``handle`` as an uncompressed ``.npz``.

    ``numpy.load`` reads the result. Object arrays raise ``ValueError`` (no pickle).
    """
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + _SUFFIX, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class NpzReader:
    """An open ``.npz``: every array's `ArraySpec` up front, its values on request.

    ``data_bytes`` is the total size of the arrays the members declare (and hold: each
    header is checked against its member's size, see the module's docstring).
    """

    def __init__(self, archive: zipfile.ZipFile, source: str, size: int) -> None:
        self._archive = archive
        self.source = source
        self.specs: dict[str, ArraySpec] = {}
        self._headers: dict[str, npy.NpyHeader] = {}
        _check_layout(archive.infolist(), size, source)
        for info in archive.infolist():
            name = info.filename.removesuffix(_SUFFIX)
            if not info.filename.endswith(_SUFFIX) or name in self.specs:
                raise ModelFormatError(
                    f"{source}: unexpected member {info.filename!r}; an .npz holds only "
                    f"uniquely named .npy arrays"
                )
            where = f"{source}: array {name!r}"
            _check_member(info, size, where)
            try:
                with archive.open(info) as member:
                    header = npy.read_header(member)
            except _CORRUPT as error:
                raise ModelFormatError(f"{where} is not a valid .npy array: {error}") from error
            if header.offset + header.nbytes != info.file_size:
                raise ModelFormatError(
                    f"{where}: its header declares {header.nbytes} data bytes (shape "
                    f"{header.shape}, dtype {header.dtype}), the archive member holds "
                    f"{info.file_size - header.offset}: corrupt or truncated"
                )
            self._headers[name] = header
            self.specs[name] = ArraySpec(header.shape, header.dtype)
        self.data_bytes = sum(header.nbytes for header in self._headers.values())

    def read(self, name: str) -> Array:
        """The array ``name``, as its header described it (``ModelFormatError`` if corrupt)."""
        where = f"{self.source}: array {name!r}"
        try:
            with self._archive.open(name + _SUFFIX) as member:
                member.seek(self._headers[name].offset)
                array = npy.read_data(member, self._headers[name])
                trailing = member.read(1)  # also makes zipfile check the CRC
        except _CORRUPT as error:
            raise ModelFormatError(f"{where} is corrupt or truncated: {error}") from error
        if trailing:
            raise ModelFormatError(f"{where}: unexpected bytes after the array data")
        return array


def _check_layout(infos: list[zipfile.ZipInfo], size: int, source: str) -> None:
    """Members must not overlap (many directory entries naming the same bytes would
    make a small archive declare any amount of data) and must end inside the archive."""
    end = 0
    for info in sorted(infos, key=lambda info: info.header_offset):
        if info.header_offset < end:
            problem = "overlaps the one before it" if end else "starts before the file does"
            raise ModelFormatError(
                f"{source}: the zip directory is corrupt: member {info.filename!r} {problem} "
                f"(at byte {info.header_offset})"
            )
        end = info.header_offset + _LOCAL_HEADER + info.compress_size
    if end > size:
        raise ModelFormatError(
            f"{source}: the zip directory places data up to byte {end} of a {size}-byte file: "
            f"truncated or corrupt"
        )


def _check_member(info: zipfile.ZipInfo, size: int, where: str) -> None:
    """Refuse what zipfile would fail on late or unbounded: encryption, other
    compression methods, sizes the archive cannot hold."""
    if info.flag_bits & 0x1:
        raise ModelFormatError(f"{where} is encrypted; an .npz is never encrypted")
    if info.compress_type == zipfile.ZIP_STORED:
        holds = info.compress_size == info.file_size <= size
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        holds = info.compress_size <= size and (
            info.file_size <= DEFLATE_MAX_RATIO * info.compress_size + 1024
        )
    else:
        raise ModelFormatError(
            f"{where} uses zip compression method {info.compress_type}; expected stored (0) "
            f"or deflated (8), as numpy.savez and savez_compressed write"
        )
    if not holds:
        raise ModelFormatError(
            f"{where}: the zip directory says {info.compress_size} bytes expand to "
            f"{info.file_size}, which an archive of {size} bytes cannot hold: corrupt"
        )


@contextlib.contextmanager
def open_npz(path: str | os.PathLike[str], kind: str = "an .npz file") -> Iterator[NpzReader]:
    """Open ``path`` for reading; ``kind`` names what it should be in error messages.

    ``FileNotFoundError`` if there is no such file; `ModelFormatError` if it is not a
    regular file, is empty, a PyTorch pickle, not a zip archive, truncated, or holds
    anything but ``.npy`` arrays.
    """
    with open_regular(path, kind, ModelFormatError) as handle:
        file = os.fspath(path)
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            raise ModelFormatError(f"{file} is empty; expected {kind}")
        refuse_pickle(Path(file))
        try:
            archive = zipfile.ZipFile(handle)
        except _CORRUPT as error:
            raise ModelFormatError(
                f"{file} is not {kind} (not a zip archive, or truncated): {error}"
            ) from error
        with archive:
            yield NpzReader(archive, str(file), size)
