"""8-bit PNG (gray, gray + alpha, RGB, RGBA; not interlaced) to floats in [0, 1], with
the standard library's ``zlib`` and PNG's five row filters."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from tinynet.images.common import CONVERT, ImageFormatError, check_size
from tinynet.typing import Array, FloatArray

SIGNATURE = b"\x89PNG\r\n\x1a\n"

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
"""Colour type -> channels: gray, RGB, gray + alpha, RGBA (3, palette, is not read)."""
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def decode_png(data: bytes, path: Path) -> tuple[FloatArray, FloatArray | None]:
    """(gray (28, 28), alpha (28, 28) or None), both float in [0, 1], from a PNG."""
    header, compressed = _png_chunks(data, path)
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", header
    )
    if colour not in _CHANNELS or depth != 8:
        kind = "palette" if colour == 3 else f"colour type {colour}"
        raise ImageFormatError(
            f"{path}: expected an 8-bit grayscale, RGB or RGBA PNG, got {depth}-bit {kind}; "
            f"{CONVERT}"
        )
    if interlace or compression or filtering:
        raise ImageFormatError(f"{path}: interlaced or non-standard PNG; {CONVERT}")
    check_size(width, height, path)
    channels = _CHANNELS[colour]
    rows = _unfilter(
        _inflate(compressed, height * (1 + width * channels), path), width, channels, path
    )
    pixels = rows.reshape(height, width, channels).astype(np.float32) / np.float32(255)
    has_alpha = channels in (2, 4)
    colours = pixels[..., : channels - 1] if has_alpha else pixels
    gray = colours[..., 0] if colours.shape[-1] == 1 else colours @ _LUMA
    return gray, (pixels[..., -1] if has_alpha else None)


def _png_chunks(data: bytes, path: Path) -> tuple[bytes, bytes]:
    """The IHDR chunk's fields and all IDAT chunks' data joined; CRCs checked."""
    position, idat, header = len(SIGNATURE), [], None
    while True:
        if position + 8 > len(data):
            raise ImageFormatError(f"{path}: truncated PNG (no IEND chunk)")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        crc = data[position + 8 + length : position + 12 + length]
        if len(crc) != 4 or zlib.crc32(kind + body) != struct.unpack(">I", crc)[0]:
            raise ImageFormatError(f"{path}: corrupt or truncated PNG (bad {kind!r} chunk)")
        position += 12 + length
        if kind == b"IHDR" and header is None and length == 13:
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        elif header is None or (kind[0:1].isupper() and kind != b"PLTE"):
            raise ImageFormatError(f"{path}: unexpected PNG chunk {kind!r}; {CONVERT}")
    if header is None or not idat:
        raise ImageFormatError(f"{path}: a PNG needs an IHDR and IDAT chunks")
    return header, b"".join(idat)


def _inflate(compressed: bytes, size: int, path: Path) -> bytes:
    """Decompress exactly ``size`` bytes of image data (never more: no zip bombs)."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(compressed, size + 1)
    except zlib.error as error:
        raise ImageFormatError(f"{path}: corrupt PNG image data: {error}") from None
    if len(raw) != size:
        raise ImageFormatError(f"{path}: PNG image data holds {len(raw)} bytes, expected {size}")
    return raw


def _unfilter(raw: bytes, width: int, bpp: int, path: Path) -> Array:
    """Undo PNG's per-row filters (None, Sub, Up, Average, Paeth); uint8 rows."""
    stride = width * bpp
    previous = bytearray(stride)
    rows = []
    for start in range(0, len(raw), stride + 1):
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        if kind >= len(_PREDICTORS):
            raise ImageFormatError(f"{path}: unknown PNG row filter {kind}")
        predict = _PREDICTORS[kind]
        for i in range(stride if kind else 0):
            left, up_left = (line[i - bpp], previous[i - bpp]) if i >= bpp else (0, 0)
            line[i] = (line[i] + predict(left, previous[i], up_left)) & 0xFF
        rows.append(line)
        previous = line
    return np.frombuffer(b"".join(rows), np.uint8)


def _paeth(a: int, b: int, c: int) -> int:
    """PNG's Paeth predictor: whichever of left, up, up-left is nearest a + b - c."""
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


_PREDICTORS: tuple[Callable[[int, int, int], int], ...] = (
    lambda left, up, up_left: 0,  # None
    lambda left, up, up_left: left,  # Sub
    lambda left, up, up_left: up,  # Up
    lambda left, up, up_left: (left + up) // 2,  # Average
    _paeth,
)
"""Each row filter's prediction of a byte from its left, upper and upper-left bytes."""
