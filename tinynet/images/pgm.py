"""8-bit PGM (Netpbm grayscale), plain (``P2``) and binary (``P5``), to floats in [0, 1]."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinynet.images.common import ImageFormatError, check_size
from tinynet.typing import FloatArray

_WHITESPACE = b" \t\r\n\x0b\x0c"
_MAX_DIGITS = 9
"""Longer numbers are refused unread: none fits an 8-bit PGM (nor overflows int64)."""


def decode_pgm(data: bytes, path: Path) -> FloatArray:
    """(28, 28) float in [0, 1] from an 8-bit P2 (plain) or P5 (binary) PGM."""
    width, height, maxval, offset = _pgm_header(data, path)
    if not 0 < maxval < 256:
        raise ImageFormatError(
            f"{path}: expected an 8-bit PGM (maxval 1..255), got maxval {maxval}; "
            f"save it with 8 bits per pixel"
        )
    check_size(width, height, path)
    count = width * height
    if data[:2] == b"P5":
        raster = np.frombuffer(data, np.uint8, count=min(count, len(data) - offset), offset=offset)
    else:
        text = re.sub(rb"#[^\n]*", b"", data[offset:]).split(maxsplit=count)[:count]
        if not all(token.isdigit() for token in text):
            raise ImageFormatError(f"{path}: expected decimal pixel values after the header")
        longest = max((len(token) for token in text), default=0)
        if longest > _MAX_DIGITS:
            raise ImageFormatError(
                f"{path}: a pixel value has {longest} digits; expected at most {_MAX_DIGITS} "
                f"(values up to maxval {maxval})"
            )
        raster = np.array([int(token) for token in text], np.int64)
    if raster.size != count:
        raise ImageFormatError(f"{path}: expected {count} pixels, found {raster.size}")
    if raster.max() > maxval:
        raise ImageFormatError(f"{path}: a pixel value exceeds maxval {maxval}")
    gray: FloatArray = raster.reshape(height, width).astype(np.float32) / np.float32(maxval)
    return gray


def _pgm_header(data: bytes, path: Path) -> tuple[int, int, int, int]:
    """Width, height, maxval and the raster's offset (after one whitespace byte)."""
    fields: list[int] = []
    i = 2
    while len(fields) < 3:
        start = i = _skip_blanks(data, i)
        while i < len(data) and data[i : i + 1].isdigit():
            i += 1
        if i == start or (start == 2 and len(data) > 2 and data[2] not in _WHITESPACE):
            raise ImageFormatError(f"{path}: a PGM header needs width, height and maxval")
        if i - start > _MAX_DIGITS:
            name = ("width", "height", "maxval")[len(fields)]
            raise ImageFormatError(
                f"{path}: the PGM header's {name} has {i - start} digits; expected at most "
                f"{_MAX_DIGITS} (an 8-bit 28x28 image has width 28, height 28, maxval <= 255)"
            )
        fields.append(int(data[start:i]))
    if i >= len(data) or data[i] not in _WHITESPACE:
        raise ImageFormatError(f"{path}: expected whitespace and pixels after the PGM header")
    return fields[0], fields[1], fields[2], i + 1


def _skip_blanks(data: bytes, i: int) -> int:
    """The index of the next byte that is neither whitespace nor in a # comment."""
    while i < len(data):
        if data[i] in _WHITESPACE:
            i += 1
        elif data[i] == ord("#"):
            end = data.find(b"\n", i)
            i = len(data) if end < 0 else end + 1
        else:
            break
    return i
