"""Reading digit files: dispatch on content to the PGM, PNG or .npy reader, then polarity."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tinynet.files import open_regular
from tinynet.images.common import CONVERT, SIZE, ImageFormatError
from tinynet.images.pgm import decode_pgm
from tinynet.images.png import SIGNATURE, decode_png
from tinynet.io import npy
from tinynet.typing import Array, FloatArray


def load_image(path: str | os.PathLike[str], *, invert: bool = False) -> FloatArray:
    """One digit image as a float32 array of shape (28, 28) with values in [0, 1].

    ``path`` is a PGM or PNG file, or an ``.npy`` file holding exactly one image.
    """
    images, _ = read(Path(path), invert)
    if images.shape[0] != 1:
        raise ImageFormatError(
            f"{path}: holds {images.shape[0]} images, expected one; use load_images"
        )
    image: FloatArray = images[0]
    return image


def load_images(path: str | os.PathLike[str], *, invert: bool = False) -> FloatArray:
    """The images in ``path`` as float32 (N, 28, 28) in [0, 1]: N = 1 for a PGM or PNG."""
    return read(Path(path), invert)[0]


def read(path: Path, invert: bool) -> tuple[FloatArray, bool]:
    """(images (N, 28, 28) float32, whether the file is an array batch).

    Only a regular file is read (``ImageFormatError`` for a directory or a device); an
    ``.npy`` file's header is checked (shape, dtype, size) before its array is
    allocated, PGM and PNG files are read whole (memory: the file's size).
    """
    with open_regular(path, "a PGM, PNG or .npy image file", ImageFormatError) as handle:
        if handle.read(len(npy.MAGIC)) == npy.MAGIC:
            handle.seek(0)
            return _with_polarity(_npy_images(handle, path), invert), True
        handle.seek(0)
        data = handle.read()
    if data.startswith(SIGNATURE):
        gray, alpha = decode_png(data, path)
    elif data[:2] in (b"P2", b"P5"):
        gray, alpha = decode_pgm(data, path), None
    else:
        raise ImageFormatError(
            f"{path}: not a PGM (P2/P5), PNG or .npy file ({_sniff(data)}); {CONVERT}"
        )
    image = _with_polarity(gray, invert)
    if alpha is not None:  # transparent pixels are background: black after inversion
        image = image * alpha
    return image[np.newaxis].astype(np.float32), False


def _with_polarity(images: FloatArray, invert: bool) -> FloatArray:
    """``1 - images`` for dark-on-light inputs, so the digit is white as in MNIST."""
    result: FloatArray = 1 - images if invert else images
    return result


def _sniff(data: bytes) -> str:
    """What the file looks like, for the error message."""
    if data.startswith(b"\xff\xd8\xff"):
        return "it looks like a JPEG"
    if data[:2] in (b"P1", b"P3", b"P4", b"P6"):
        return f"it is a {data[:2].decode()} Netpbm file, not 8-bit grayscale PGM"
    return f"it starts with {data[:8]!r}" if data else "it is empty"


def _npy_images(handle: BinaryIO, path: Path) -> FloatArray:
    """(N, 28, 28) float32 in [0, 1] from an .npy of uint8 0..255 or floats in [0, 1],
    holding (N, 28, 28), (N, 784) or (N, 1, 28, 28) (``load_mnist(flatten=False)``'s).

    The header is checked first: an image shape, a uint8 or float dtype, and exactly
    as many data bytes in the file as it declares; only then is the array allocated.
    """
    try:
        header = npy.read_header(handle)
    except ValueError as error:
        raise ImageFormatError(f"{path}: not a readable .npy array: {error}") from None
    shape = header.shape
    if shape in ((SIZE, SIZE), (SIZE * SIZE,)):
        batch = (1, SIZE, SIZE)
    elif shape[1:] in ((SIZE, SIZE), (SIZE * SIZE,), (1, SIZE, SIZE)):
        batch = (shape[0], SIZE, SIZE)
    else:
        raise ImageFormatError(
            f"{path}: expected an array of shape (N, {SIZE}, {SIZE}), (N, {SIZE * SIZE}) or "
            f"(N, 1, {SIZE}, {SIZE}), got {shape}"
        )
    if header.dtype != np.uint8 and header.dtype.kind != "f":
        raise ImageFormatError(
            f"{path}: expected uint8 (0..255) or float ([0, 1]) pixels, got dtype {header.dtype}"
        )
    found = os.fstat(handle.fileno()).st_size - header.offset
    if found != header.nbytes:
        problem = "truncated" if found < header.nbytes else f"{found - header.nbytes} too many"
        raise ImageFormatError(
            f"{path}: the .npy header declares {header.nbytes} data bytes (shape {shape}, "
            f"dtype {header.dtype}), the file holds {found} ({problem})"
        )
    try:
        array = npy.read_data(handle, header)
    except ValueError as error:
        raise ImageFormatError(f"{path}: {error}") from None
    return _scaled(array.reshape(batch), path)


def _scaled(array: Array, path: Path) -> FloatArray:
    """float32 in [0, 1]: uint8 divided by 255, floats checked to be in range already."""
    if array.dtype == np.uint8:
        result: FloatArray = array.astype(np.float32) / np.float32(255)
        return result
    if array.size and not (np.isfinite(array.min()) and 0 <= array.min() <= array.max() <= 1):
        raise ImageFormatError(
            f"{path}: float images must lie in [0, 1], got values in "
            f"[{array.min()}, {array.max()}]; divide 0..255 data by 255"
        )
    return array.astype(np.float32)
