"""The ``.npz`` container (NumPy's zip of ``.npy`` arrays), written and read without pickle.

Writing is what ``numpy.savez`` does, with pickling refused. Reading goes member by
member: each array's shape and dtype come from its ``.npy`` header (a literal, parsed
without running code) before any data is read, so a caller can reject a wrong or
oversized array without allocating it, and data is read with
``numpy.lib.format.read_array(allow_pickle=False)``: an object array is an error,
never unpickled.
"""

from __future__ import annotations

import contextlib
import os
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from tinynet.io.errors import ModelFormatError
from tinynet.io.pickled import refuse_pickle
from tinynet.state_dict import ArraySpec
from tinynet.typing import Array

_SUFFIX = ".npy"
_CORRUPT = (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError)
"""What zipfile and numpy raise on a truncated, corrupt or unsupported archive."""


def write_npz(handle: BinaryIO, arrays: Mapping[str, Array]) -> None:
    """Write ``arrays`` (name -> array) into ``handle`` as an uncompressed ``.npz``.

    ``numpy.load`` reads the result. Object arrays raise ``ValueError`` (no pickle).
    """
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + _SUFFIX, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class NpzReader:
    """An open ``.npz``: every array's `ArraySpec` up front, its values on request."""

    def __init__(self, archive: zipfile.ZipFile, source: str) -> None:
        self._archive = archive
        self.source = source
        self.specs: dict[str, ArraySpec] = {}
        for info in archive.infolist():
            name = info.filename.removesuffix(_SUFFIX)
            if not info.filename.endswith(_SUFFIX) or name in self.specs:
                raise ModelFormatError(
                    f"{source}: unexpected member {info.filename!r}; an .npz holds only "
                    f"uniquely named .npy arrays"
                )
            where = f"{source}: array {name!r}"
            try:
                with archive.open(info) as member:
                    self.specs[name] = _read_spec(member, where)
            except ModelFormatError:
                raise
            except _CORRUPT as error:
                raise ModelFormatError(f"{where} is corrupt or truncated: {error}") from error

    def read(self, name: str) -> Array:
        """The array ``name``, as its header described it (``ModelFormatError`` if corrupt)."""
        where = f"{self.source}: array {name!r}"
        try:
            with self._archive.open(name + _SUFFIX) as member:
                array = np.lib.format.read_array(member, allow_pickle=False)
                trailing = member.read(1)  # also makes zipfile check the CRC
        except _CORRUPT as error:
            raise ModelFormatError(f"{where} is corrupt or truncated: {error}") from error
        if trailing:
            raise ModelFormatError(f"{where}: unexpected bytes after the array data")
        if not isinstance(array, np.ndarray):
            raise ModelFormatError(f"{where}: expected a numpy array")
        return array


def _read_spec(member: IO[bytes], where: str) -> ArraySpec:
    """Shape and dtype from an ``.npy`` header, refusing object dtypes before any data."""
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except _CORRUPT as error:
        raise ModelFormatError(f"{where}: not a valid .npy array: {error}") from error
    if dtype.hasobject:
        raise ModelFormatError(
            f"{where} holds Python objects (dtype {dtype}), which only pickle can read; "
            f"refused: a model file holds numeric arrays only"
        )
    return ArraySpec(tuple(shape), dtype)


@contextlib.contextmanager
def open_npz(path: str | os.PathLike[str], kind: str = "an .npz file") -> Iterator[NpzReader]:
    """Open ``path`` for reading; ``kind`` names what it should be in error messages.

    ``FileNotFoundError`` if there is no such file; `ModelFormatError` if it is empty,
    a PyTorch pickle, not a zip archive, truncated, or holds anything but ``.npy`` arrays.
    """
    file = Path(path)
    if not file.exists():
        raise FileNotFoundError(f"no such file: {file}")
    if not file.is_file():
        raise ModelFormatError(f"{file} is not a file; expected {kind}")
    if file.stat().st_size == 0:
        raise ModelFormatError(f"{file} is empty; expected {kind}")
    refuse_pickle(file)
    try:
        archive = zipfile.ZipFile(file)
    except _CORRUPT as error:
        raise ModelFormatError(
            f"{file} is not {kind} (not a zip archive, or truncated): {error}"
        ) from error
    with archive:
        yield NpzReader(archive, str(file))
