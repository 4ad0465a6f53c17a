"""What every image decoder shares: the MNIST size, the error type, the size check."""

from __future__ import annotations

from pathlib import Path

SIZE = 28
"""Height and width of an MNIST image."""

CONVERT = "convert it, e.g. with Pillow: Image.open(path).convert('L').save('digit.png')"
"""The end of every error message about an unsupported file."""


class ImageFormatError(ValueError):
    """An image file that cannot be read as a 28x28 digit; the message says why and how
    to convert it."""


def check_size(width: int, height: int, path: Path) -> None:
    """``ImageFormatError`` unless the image is 28x28 (nothing is ever resized)."""
    if (width, height) != (SIZE, SIZE):
        raise ImageFormatError(
            f"{path}: expected a {SIZE}x{SIZE} image (MNIST's size), got {width}x{height} "
            f"(width x height); resize and centre the digit first, e.g. with Pillow: "
            f"Image.open(path).convert('L').resize(({SIZE}, {SIZE}))"
        )
