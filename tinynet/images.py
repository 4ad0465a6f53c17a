"""Digit images for inference: 28x28 grayscale from PGM, PNG and ``.npy`` files.

What the built-in MNIST models expect, and so what these functions return:

- **Size**: exactly 28x28 pixels. Nothing is resized or cropped (MNIST digits are
  also centred by their centre of mass in a 20x20 box, which a resize would not do):
  any other size is an error saying so. Prepare images with, e.g., Pillow:
  ``Image.open(p).convert("L").resize((28, 28)).save("digit.png")``.
- **Scale**: float32 in [0, 1]: 8-bit values divided by 255 (by ``maxval`` for PGM).
- **Polarity**: white digit (1.0) on a black background (0.0), as MNIST. A dark digit
  on light paper must be inverted: pass ``invert=True`` (``x -> 1 - x``).
- **Colour**: RGB becomes luma ``(0.299 R + 0.587 G + 0.114 B) / 255`` (ITU-R 601-2,
  as Pillow's ``convert("L")``, unrounded). Transparent pixels are background: alpha
  blends over black, or over white with ``invert=True``, so they end up black.

Files are recognised by content, not by name: 8-bit PGM (``P2`` plain or ``P5``
binary); PNG, 8 bits per channel, grayscale, grayscale+alpha, RGB or RGBA,
non-interlaced, decoded with the standard library's ``zlib`` and PNG's five row
filters; ``.npy`` arrays (read with ``allow_pickle=False``) of shape (N, 28, 28) or
(N, 784), or one image (28, 28) or (784,), uint8 in 0..255 or float in [0, 1].
Anything else is an `ImageFormatError` suggesting a conversion.
"""

from __future__ import annotations

import io
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tinynet.layers.activations import Softmax, softmax
from tinynet.layers.base import Layer
from tinynet.typing import Array, FloatArray

SIZE = 28
"""Height and width of an MNIST image."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_NPY_MAGIC = b"\x93NUMPY"
_CONVERT = "convert it, e.g. with Pillow: Image.open(path).convert('L').save('digit.png')"


class ImageFormatError(ValueError):
    """An image file that cannot be read as a 28x28 digit; the message says why and how
    to convert it."""


class Prediction(NamedTuple):
    """One image's predicted class: ``source`` is the path (``path[i]`` for row ``i`` of
    an ``.npy`` batch), ``label`` the class index, ``probability`` its softmax score."""

    source: str
    label: int
    probability: float


# --- public functions --------------------------------------------------------------------


def load_image(path: str | os.PathLike[str], *, invert: bool = False) -> FloatArray:
    """One digit image as a float32 array of shape (28, 28) with values in [0, 1].

    ``path`` is a PGM or PNG file, or an ``.npy`` file holding exactly one image.
    """
    images, _ = _read(Path(path), invert)
    if images.shape[0] != 1:
        raise ImageFormatError(
            f"{path}: holds {images.shape[0]} images, expected one; use load_images"
        )
    image: FloatArray = images[0]
    return image


def load_images(path: str | os.PathLike[str], *, invert: bool = False) -> FloatArray:
    """The images in ``path`` as float32 (N, 28, 28) in [0, 1]: N = 1 for a PGM or PNG."""
    return _read(Path(path), invert)[0]


def predict_images(
    model: Layer,
    paths: Iterable[str | os.PathLike[str]],
    *,
    invert: bool = False,
    batch_size: int = 1024,
) -> list[Prediction]:
    """Classify every image in ``paths`` (PGM, PNG, or ``.npy`` batches) with ``model``.

    Images are fed as float (N, 784) rows in the model's dtype, in inference mode
    (the model's modes are restored afterwards). The model's output (N, classes) is
    taken as logits and turned into probabilities with a softmax, unless its last
    layer is a `Softmax`. Returns one `Prediction` per image, in order.
    """
    sources: list[str] = []
    batches: list[FloatArray] = []
    for path in paths:
        images, is_batch = _read(Path(path), invert)
        sources += [f"{path}[{i}]" for i in range(len(images))] if is_batch else [str(path)]
        batches.append(images)
    if not batches:
        return []
    x = np.concatenate(batches).reshape(len(sources), SIZE * SIZE).astype(_dtype(model))
    probabilities = _probabilities(model, x, batch_size)
    labels = probabilities.argmax(axis=1)
    return [
        Prediction(source, int(label), float(row[label]))
        for source, label, row in zip(sources, labels, probabilities, strict=True)
    ]


# --- dispatch ----------------------------------------------------------------------------


def _read(path: Path, invert: bool) -> tuple[FloatArray, bool]:
    """(images (N, 28, 28) float32, whether the file is an array batch)."""
    if not path.is_file():
        raise FileNotFoundError(f"no such image file: {path}")
    data = path.read_bytes()
    if data.startswith(_NPY_MAGIC):
        return _with_polarity(_npy_images(data, path), invert), True
    if data.startswith(_PNG_SIGNATURE):
        gray, alpha = _png_gray(data, path)
    elif data[:2] in (b"P2", b"P5"):
        gray, alpha = _pgm_gray(data, path), None
    else:
        raise ImageFormatError(
            f"{path}: not a PGM (P2/P5), PNG or .npy file ({_sniff(data)}); {_CONVERT}"
        )
    image = _with_polarity(gray, invert)
    if alpha is not None:  # transparent pixels are background: black after inversion
        image = image * alpha
    return image[np.newaxis].astype(np.float32), False


def _with_polarity(images: FloatArray, invert: bool) -> FloatArray:
    result: FloatArray = 1 - images if invert else images
    return result


def _sniff(data: bytes) -> str:
    """What the file looks like, for the error message."""
    if data.startswith(b"\xff\xd8\xff"):
        return "it looks like a JPEG"
    if data[:2] in (b"P1", b"P3", b"P4", b"P6"):
        return f"it is a {data[:2].decode()} Netpbm file, not 8-bit grayscale PGM"
    return f"it starts with {data[:8]!r}" if data else "it is empty"


def _check_size(width: int, height: int, path: Path) -> None:
    if (width, height) != (SIZE, SIZE):
        raise ImageFormatError(
            f"{path}: expected a {SIZE}x{SIZE} image (MNIST's size), got {width}x{height} "
            f"(width x height); resize and centre the digit first, e.g. with Pillow: "
            f"Image.open(path).convert('L').resize(({SIZE}, {SIZE}))"
        )


# --- .npy --------------------------------------------------------------------------------


def _npy_images(data: bytes, path: Path) -> FloatArray:
    """(N, 28, 28) float32 in [0, 1] from an .npy of uint8 0..255 or floats in [0, 1]."""
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as error:
        raise ImageFormatError(f"{path}: not a readable .npy array: {error}") from None
    shapes = {(SIZE, SIZE): (1, SIZE, SIZE), (SIZE * SIZE,): (1, SIZE, SIZE)}
    if array.shape in shapes:
        array = array.reshape(shapes[array.shape])
    elif array.ndim == 3 and array.shape[1:] == (SIZE, SIZE):
        pass
    elif array.ndim == 2 and array.shape[1] == SIZE * SIZE:
        array = array.reshape(-1, SIZE, SIZE)
    else:
        raise ImageFormatError(
            f"{path}: expected an array of shape (N, {SIZE}, {SIZE}) or (N, {SIZE * SIZE}), "
            f"got {array.shape}"
        )
    return _scaled(array, path)


def _scaled(array: Array, path: Path) -> FloatArray:
    if array.dtype == np.uint8:
        result: FloatArray = array.astype(np.float32) / np.float32(255)
        return result
    if np.issubdtype(array.dtype, np.floating):
        if array.size and not (np.all(np.isfinite(array)) and 0 <= array.min() <= array.max() <= 1):
            raise ImageFormatError(
                f"{path}: float images must lie in [0, 1], got values in "
                f"[{array.min()}, {array.max()}]; divide 0..255 data by 255"
            )
        return array.astype(np.float32)
    raise ImageFormatError(
        f"{path}: expected uint8 (0..255) or float ([0, 1]) pixels, got dtype {array.dtype}"
    )


# --- PGM ---------------------------------------------------------------------------------

_WHITESPACE = b" \t\r\n\x0b\x0c"


def _pgm_gray(data: bytes, path: Path) -> FloatArray:
    """(28, 28) float in [0, 1] from an 8-bit P2 (plain) or P5 (binary) PGM."""
    width, height, maxval, offset = _pgm_header(data, path)
    if not 0 < maxval < 256:
        raise ImageFormatError(
            f"{path}: expected an 8-bit PGM (maxval 1..255), got maxval {maxval}; "
            f"save it with 8 bits per pixel"
        )
    _check_size(width, height, path)
    count = width * height
    if data[:2] == b"P5":
        raster = np.frombuffer(data, np.uint8, count=min(count, len(data) - offset), offset=offset)
    else:
        text = re.sub(rb"#[^\n]*", b"", data[offset:]).split()[:count]
        if not all(token.isdigit() for token in text):
            raise ImageFormatError(f"{path}: expected decimal pixel values after the header")
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


# --- PNG ---------------------------------------------------------------------------------

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}
"""Colour type -> channels: gray, RGB, gray + alpha, RGBA (3, palette, is not read)."""
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _png_gray(data: bytes, path: Path) -> tuple[FloatArray, FloatArray | None]:
    """(gray (28, 28), alpha (28, 28) or None), both float in [0, 1], from a PNG."""
    header, compressed = _png_chunks(data, path)
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", header
    )
    if colour not in _CHANNELS or depth != 8:
        kind = "palette" if colour == 3 else f"colour type {colour}"
        raise ImageFormatError(
            f"{path}: expected an 8-bit grayscale, RGB or RGBA PNG, got {depth}-bit {kind}; "
            f"{_CONVERT}"
        )
    if interlace or compression or filtering:
        raise ImageFormatError(f"{path}: interlaced or non-standard PNG; {_CONVERT}")
    _check_size(width, height, path)
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
    position, idat, header = len(_PNG_SIGNATURE), [], None
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
            raise ImageFormatError(f"{path}: unexpected PNG chunk {kind!r}; {_CONVERT}")
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


# --- prediction --------------------------------------------------------------------------


def _dtype(model: Layer) -> np.dtype[np.floating]:
    params = model.parameters()
    return params[0].dtype if params else np.dtype(np.float32)


def _last_layer(model: Layer) -> Layer:
    children = [child for _, child in model.named_children()]
    return _last_layer(children[-1]) if children else model


def _probabilities(model: Layer, x: FloatArray, batch_size: int) -> FloatArray:
    """Softmax scores (N, classes) of ``model`` on ``x``, in inference mode."""
    modes = [(layer, layer.training) for layer in model.modules()]
    model.eval()
    try:
        outputs = [model(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    finally:
        for layer, mode in modes:
            layer.training = mode
    y = np.concatenate(outputs)
    if y.ndim != 2:
        raise ValueError(f"predict_images: expected model outputs (N, classes), got {y.shape}")
    return y if isinstance(_last_layer(model), Softmax) else softmax(y)
