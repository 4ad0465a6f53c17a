"""tinynet.images: PGM/PNG/.npy decoding, polarity, errors, and predict_images."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import chunk, png_bytes

from tinynet import Dense, Flatten, Sequential, Softmax
from tinynet.functional import softmax
from tinynet.images import (
    ImageFormatError,
    Prediction,
    load_image,
    load_images,
    predict_images,
)

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def digit(channels: int = 1, seed: int = 0, size: int = 28) -> Any:
    """Random uint8 pixels (size, size, channels) with some 0 and 255 corners."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, channels), np.uint8)
    pixels[0, 0], pixels[-1, -1] = 0, 255
    return pixels


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def expected_gray(pixels: Any, colour: int) -> Any:
    """What load_image should return: luma, alpha-blended over black, / 255."""
    values = pixels.astype(np.float32) / np.float32(255)
    alpha = values[..., -1] if colour in (4, 6) else 1
    colours = values[..., :3] if colour in (2, 6) else values[..., 0]
    if colour in (2, 6):
        colours = colours @ np.array([0.299, 0.587, 0.114], np.float32)
    return colours * alpha


# --- PNG ---------------------------------------------------------------------------------


@pytest.mark.parametrize("colour", sorted(CHANNELS))
def test_png_all_five_filters(tmp_path: Path, colour: int) -> None:
    pixels = digit(CHANNELS[colour], seed=colour)
    path = write(tmp_path, "d.png", png_bytes(pixels, colour, filters=(0, 1, 2, 3, 4)))
    image = load_image(path)
    assert image.shape == (28, 28)
    assert image.dtype == np.float32
    if colour == 0:  # grayscale: exactly MNIST's x / 255
        np.testing.assert_array_equal(image, pixels[..., 0].astype(np.float32) / 255)
    np.testing.assert_allclose(image, expected_gray(pixels, colour), atol=1e-6)


@pytest.mark.parametrize("colour", sorted(CHANNELS))
def test_the_test_encoder_agrees_with_pillow(tmp_path: Path, colour: int) -> None:
    image_module = pytest.importorskip("PIL.Image")
    pixels = digit(CHANNELS[colour], seed=colour)
    path = write(tmp_path, "d.png", png_bytes(pixels, colour, filters=(4, 3, 2, 1, 0)))
    with image_module.open(path) as decoded:
        np.testing.assert_array_equal(np.asarray(decoded).reshape(pixels.shape), pixels)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_png_written_by_pillow(tmp_path: Path, mode: str) -> None:
    image_module = pytest.importorskip("PIL.Image")
    channels = len(mode)
    pixels = digit(channels, seed=channels)
    source = image_module.fromarray(pixels[..., 0] if channels == 1 else pixels, mode=mode)
    source.save(tmp_path / "d.png")
    image = load_image(tmp_path / "d.png")
    if mode in ("L", "RGB"):  # Pillow's own gray conversion rounds to whole levels
        pillow_gray = np.asarray(source.convert("L"), np.float32) / 255
        np.testing.assert_allclose(image, pillow_gray, atol=0.5 / 255 + 1e-6)
    colour = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}[mode]
    np.testing.assert_allclose(image, expected_gray(pixels, colour), atol=1e-6)


def test_transparent_pixels_are_background_in_both_polarities(tmp_path: Path) -> None:
    pixels = np.zeros((28, 28, 2), np.uint8)
    pixels[..., 0] = 40  # dark ink...
    pixels[10:18, 12:16, 1] = 255  # ...opaque only where the stroke is
    path = write(tmp_path, "ink.png", png_bytes(pixels, 4))
    normal, inverted = load_image(path), load_image(path, invert=True)
    assert normal[0, 0] == 0
    assert inverted[0, 0] == 0  # transparent: black either way
    np.testing.assert_allclose(inverted[12, 13], 1 - 40 / 255, rtol=1e-6)
    np.testing.assert_allclose(normal[12, 13], 40 / 255, rtol=1e-6)


def test_invert_for_dark_digits_on_white(tmp_path: Path) -> None:
    pixels = digit()
    path = write(tmp_path, "d.png", png_bytes(pixels, 0))
    np.testing.assert_allclose(load_image(path, invert=True), 1 - load_image(path), atol=0)


# --- PGM ---------------------------------------------------------------------------------


def test_plain_pgm_with_comments_and_maxval(tmp_path: Path) -> None:
    values = np.arange(28 * 28).reshape(28, 28) % 16
    text = "\n".join(" ".join(map(str, row)) for row in values)
    data = f"P2\n# made by hand\n28 # width\n28\n15\n{text}\n".encode()
    image = load_image(write(tmp_path, "d.pgm", data))
    np.testing.assert_array_equal(image, values.astype(np.float32) / np.float32(15))


def test_binary_pgm(tmp_path: Path) -> None:
    pixels = digit()[..., 0]
    data = b"P5 28 28\n255\n" + pixels.tobytes()
    image = load_image(write(tmp_path, "d.pgm", data))
    np.testing.assert_array_equal(image, pixels.astype(np.float32) / 255)


def test_pgm_written_by_pillow(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    pixels = digit(seed=3)[..., 0]
    image_module.fromarray(pixels, mode="L").save(tmp_path / "d.pgm")
    assert (tmp_path / "d.pgm").read_bytes()[:2] == b"P5"
    np.testing.assert_array_equal(load_image(tmp_path / "d.pgm"), pixels / np.float32(255))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"P5 28 28\n65535\n" + bytes(2 * 28 * 28), "8-bit PGM"),
        (b"P5 28 28\n255\n" + bytes(100), "expected 784 pixels, found 100"),
        (b"P2 28 28 255\n" + b"1 " * 783 + b"300", "exceeds maxval 255"),
        (b"P2 28 28 255\n" + b"1 " * 783 + b"x", "decimal pixel values"),
        (b"P5 28\n", "needs width, height and maxval"),
        (b"P5 32 32\n255\n" + bytes(32 * 32), r"expected a 28x28 image .* got 32x32"),
    ],
)
def test_bad_pgm(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(ImageFormatError, match=message):
        load_image(write(tmp_path, "bad.pgm", data))


# --- errors ------------------------------------------------------------------------------


def test_wrong_size_png_says_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, "big.png", png_bytes(digit(size=32), 0))
    with pytest.raises(ImageFormatError, match=r"expected a 28x28 image.*got 32x32.*resize"):
        load_image(path)


@pytest.mark.parametrize(
    ("mode", "message"),
    [("P", "palette"), ("I;16", "16-bit colour type 0"), ("1", "1-bit colour type 0")],
)
def test_unsupported_png_kinds_suggest_conversion(tmp_path: Path, mode: str, message: str) -> None:
    image_module = pytest.importorskip("PIL.Image")
    image_module.new(mode, (28, 28)).save(tmp_path / "d.png")
    with pytest.raises(ImageFormatError, match=rf"{message}.*convert\('L'\)"):
        load_image(tmp_path / "d.png")


def test_interlaced_png(tmp_path: Path) -> None:
    path = write(tmp_path, "d.png", png_bytes(digit(), 0, interlace=1))
    with pytest.raises(ImageFormatError, match="interlaced"):
        load_image(path)


def test_corrupt_and_truncated_png(tmp_path: Path) -> None:
    data = bytearray(png_bytes(digit(), 0))
    data[60] ^= 0xFF
    with pytest.raises(ImageFormatError, match="corrupt or truncated PNG"):
        load_image(write(tmp_path, "corrupt.png", bytes(data)))
    good = png_bytes(digit(), 0)
    with pytest.raises(ImageFormatError, match="truncated PNG"):
        load_image(write(tmp_path, "cut.png", good[: len(good) - 12]))


def test_png_with_too_little_image_data(tmp_path: Path) -> None:
    header = struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(100)))
        + chunk(b"IEND", b"")
    )
    with pytest.raises(ImageFormatError, match="holds 100 bytes, expected 812"):
        load_image(write(tmp_path, "short.png", data))


def test_jpeg_and_other_files_suggest_conversion(tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    image_module.new("L", (28, 28)).save(tmp_path / "d.jpg")
    with pytest.raises(ImageFormatError, match=r"looks like a JPEG.*convert\('L'\)"):
        load_image(tmp_path / "d.jpg")
    with pytest.raises(ImageFormatError, match="P6 Netpbm file"):
        load_image(write(tmp_path, "d.ppm", b"P6 28 28 255\n" + bytes(3 * 784)))
    with pytest.raises(ImageFormatError, match="not a PGM"):
        load_image(write(tmp_path, "notes.txt", b"hello"))
    with pytest.raises(ImageFormatError, match="it is empty"):
        load_image(write(tmp_path, "empty.png", b""))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        load_image(tmp_path / "nope.png")


# --- .npy batches ------------------------------------------------------------------------


def test_npy_batches(tmp_path: Path) -> None:
    pixels = np.stack([digit(seed=s)[..., 0] for s in range(3)])
    np.save(tmp_path / "u8.npy", pixels)
    np.save(tmp_path / "flat.npy", pixels.reshape(3, 784) / 255.0)
    np.save(tmp_path / "one.npy", pixels[0])
    expected = pixels.astype(np.float32) / 255
    np.testing.assert_array_equal(load_images(tmp_path / "u8.npy"), expected)
    np.testing.assert_allclose(load_images(tmp_path / "flat.npy"), expected, atol=1e-7)
    assert load_images(tmp_path / "flat.npy").dtype == np.float32
    np.testing.assert_array_equal(load_image(tmp_path / "one.npy"), expected[0])
    with pytest.raises(ImageFormatError, match="holds 3 images, expected one; use load_images"):
        load_image(tmp_path / "u8.npy")


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 28, 27), np.uint8), r"expected an array of shape \(N, 28, 28\)"),
        (np.full((1, 784), 255.0), r"must lie in \[0, 1\]"),
        (np.zeros((1, 784), np.int32), "uint8"),
        (np.array([None] * 784, dtype=object), "Python objects, which only pickle can read"),
    ],
)
def test_bad_npy(tmp_path: Path, array: Any, message: str) -> None:
    np.save(tmp_path / "bad.npy", array, allow_pickle=True)
    with pytest.raises(ImageFormatError, match=message):
        load_images(tmp_path / "bad.npy")


# --- predict_images ----------------------------------------------------------------------


def test_predict_images_over_files_and_batches(tmp_path: Path) -> None:
    model = Sequential(Flatten(), Dense(784, 10, seed=0))
    png = write(tmp_path, "a.png", png_bytes(digit(seed=1), 0))
    np.save(tmp_path / "b.npy", np.stack([digit(seed=s)[..., 0] for s in (2, 3)]))
    with pytest.raises(ValueError, match="no head"):
        predict_images(model, [png])  # logits, and nothing says of what
    predictions = predict_images(model, [png, tmp_path / "b.npy"], loss="cross_entropy")
    assert [p.source for p in predictions] == [
        str(png),
        f"{tmp_path / 'b.npy'}[0]",
        f"{tmp_path / 'b.npy'}[1]",
    ]
    x = np.concatenate([load_images(png), load_images(tmp_path / "b.npy")]).reshape(3, 784)
    probabilities = softmax(model.eval()(x))
    for prediction, row in zip(predictions, probabilities, strict=True):
        assert isinstance(prediction, Prediction)
        assert prediction.label == int(row.argmax())
        assert prediction.probability == pytest.approx(float(row.max()))
    assert predict_images(model, []) == []


def test_predict_images_keeps_softmax_outputs_and_model_modes(tmp_path: Path) -> None:
    model = Sequential(Dense(784, 10, seed=0), Softmax()).astype(np.float64)
    png = write(tmp_path, "a.png", png_bytes(digit(seed=1), 0))
    [(source, label, probability)] = predict_images(model, [png], invert=True)
    assert all(layer.training for layer in model.modules())  # restored
    expected = model.eval()((1 - load_images(png)).reshape(1, 784).astype(np.float64))
    assert label == int(expected.argmax())
    assert probability == float(expected.max())
    assert source == str(png)
