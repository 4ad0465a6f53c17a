"""Helpers shared by the tests: strategies, a loss gradient check, test-only layers."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st

from tinynet import Dropout, Layer, Loss
from tinynet.typing import FloatArray

ROOT = Path(__file__).resolve().parent.parent


def run_python(script: Path, *args: str, cwd: Path, timeout: float = 120) -> str:
    """Run ``script`` with ``args`` in a fresh interpreter in ``cwd``, with this checkout
    importable (and matplotlib drawing off-screen); return its output. Fails the test,
    showing stdout and stderr, unless it exits 0."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    env.setdefault("MPLBACKEND", "Agg")
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (
        f"{script.name} {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


seeds = st.integers(0, 2**32 - 1)
batch_sizes = st.integers(1, 4)
features = st.integers(1, 6)
# (N, ...) with 1 to 3 axes, each small: gradchecks loop over every entry.
shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


def relative_error(analytic: FloatArray, numeric: FloatArray) -> float:
    """``||a - n|| / max(||a||, ||n||, 1e-3)`` (written here, not imported, so the tests
    do not measure tinynet with tinynet's own ruler).

    The floor: a central difference of width 2e-6 on a loss of order 1 carries about
    1e-16 / 1e-6 = 1e-10 of rounding noise per entry, so for a gradient much smaller
    than 1e-3 (one sample, confidently right) a relative 1e-6 is below that noise; the
    comparison then becomes absolute, at 1e-9, still far below any real error.
    """
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)), 1e-3)
    return float(np.linalg.norm(analytic - numeric)) / scale


def numeric_loss_grad(loss: Loss, pred: FloatArray, target: Any, eps: float = 1e-6) -> FloatArray:
    """Central differences of ``loss.forward(pred, target)`` with respect to ``pred``."""
    moved = pred.copy()
    flat = moved.reshape(-1)
    numeric = np.zeros(flat.size)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = loss.forward(moved, target)
        flat[i] = original - eps
        minus = loss.forward(moved, target)
        flat[i] = original
        numeric[i] = (plus - minus) / (2 * eps)
    return numeric.reshape(pred.shape)


def loss_gradcheck(loss: Loss, pred: FloatArray, target: Any) -> float:
    """Relative error between ``loss.backward()`` and central differences, in float64."""
    assert pred.dtype == np.float64
    loss.forward(pred, target)
    analytic = loss.backward().copy()
    assert analytic.shape == pred.shape
    return relative_error(analytic, numeric_loss_grad(loss, pred, target))


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], margin: float = 0.1) -> Any:
    """Standard-normal-like values with ``|x| >= margin``: keeps ReLU inputs off the kink,
    where a central difference of width 2e-6 would straddle it."""
    u = rng.standard_normal(shape)
    return np.where(u < 0, -1.0, 1.0) * (margin + np.abs(u))


class ReseededDropout(Dropout):
    """Dropout whose every forward draws the same mask: reseeded from ``mask_seed``.

    Finite differences call forward many times; this makes the mask fixed across them,
    as `tinynet.gradcheck`'s docstring asks.
    """

    def __init__(self, p: float, mask_seed: int) -> None:
        super().__init__(p)
        self.mask_seed = mask_seed

    def forward(self, x: FloatArray) -> FloatArray:
        self.rng = np.random.default_rng(self.mask_seed)
        return super().forward(x)


def rand(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> FloatArray:
    """Standard normal x. Not from default_rng(seed): gradcheck draws its upstream gradient
    from that, and an upstream gradient affine in x is one BatchNorm's input ignores."""
    return np.random.default_rng((seed, 1)).standard_normal(shape) * scale


def f64(layer: Layer) -> Layer:
    return layer.astype(np.float64)


def perturb(layer: Layer, seed: int = 1) -> Layer:
    """Move every parameter away from its initial value (BatchNorm's 1 and 0 hide bugs)."""
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data += rng.standard_normal(p.shape) * 0.5
    return layer


# --- a small independent PNG encoder (vectorised filters; Pillow checks it below) --------


def paeth(a: Any, b: Any, c: Any) -> Any:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(
    pixels: Any, colour: int, filters: tuple[int, ...] = (0,), *, interlace: int = 0
) -> bytes:
    """An 8-bit PNG of ``pixels`` (h, w, channels); row y uses filter filters[y % len]."""
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1).astype(np.int64)
    bpp = rows.shape[1] // width
    previous = np.zeros(rows.shape[1], np.int64)
    raw = bytearray()
    for y, row in enumerate(rows):
        left = np.concatenate([np.zeros(bpp, np.int64), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int64), previous[:-bpp]])
        kind = filters[y % len(filters)]
        predicted = [
            0 * row,
            left,
            previous,
            (left + previous) // 2,
            paeth(left, previous, up_left),
        ]
        raw.append(kind)
        raw += ((row - predicted[kind]) % 256).astype(np.uint8).tobytes()
        previous = row
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"tEXt", b"Comment\x00ancillary chunks are skipped")
        + chunk(b"IDAT", zlib.compress(bytes(raw))[:20])  # image data may span chunks
        + chunk(b"IDAT", zlib.compress(bytes(raw))[20:])
        + chunk(b"IEND", b"")
    )


class Geometry(NamedTuple):
    """A batch shape and a window over it, for convolution and pooling tests."""

    n: int
    channels: int
    height: int
    width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.n, self.channels, self.height, self.width)


@st.composite
def geometries(draw: st.DrawFn, *, dilation: bool = True, pool: bool = False) -> Geometry:
    """Small random windows: non-square kernels and images, stride 1 to 3, padding,
    dilation (if asked), batch 1 included; at least one output position. For a pool,
    padding is at most half the kernel size (PyTorch's rule)."""
    pair = st.tuples
    kernel = draw(pair(st.integers(1, 3), st.integers(1, 3)))
    stride = draw(pair(st.integers(1, 3), st.integers(1, 3)))
    dilated = draw(pair(st.integers(1, 2), st.integers(1, 2))) if dilation else (1, 1)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilated, strict=True)]
    limit = [k // 2 if pool else 2 for k in kernel]
    padding = draw(pair(st.integers(0, limit[0]), st.integers(0, limit[1])))
    height, width = (
        max(1, s - 2 * p + draw(st.integers(0, 4))) for s, p in zip(span, padding, strict=True)
    )
    return Geometry(
        n=draw(st.integers(1, 3)),
        channels=draw(st.integers(1, 3)),
        height=height,
        width=width,
        kernel=kernel,
        stride=stride,
        padding=padding,
        dilation=dilated,
    )


def assert_inplace_is_exact(make: Any, x: FloatArray) -> None:
    """``make(inplace)`` builds a model with in-place layers (``inplace=True``) or not: both
    must give the same outputs and input gradients for ``x``, bit for bit."""
    models: list[Layer] = [make(False), make(True)]
    outputs = [model(x) for model in models]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    grads = [model.backward(np.ones_like(out)) for model, out in zip(models, outputs, strict=True)]
    np.testing.assert_array_equal(grads[0], grads[1])


def write_image_csv(path: Any, images: Any, labels: Any = None) -> None:
    """Write uint8 ``images`` (N, H, W) and optional ``labels`` (N,) as a CSV in Kaggle's
    digit-recognizer layout (``label,pixel0,...``), fast: every value's digits and comma
    come from a lookup table, so 60,000 MNIST images take about a second."""
    table = np.zeros((256, 4), np.uint8)  # "0," "12," "255," padded with zero bytes
    for value in range(256):
        text = f"{value},".encode()
        table[value, : len(text)] = list(text)
    n = len(images)
    pixels = np.asarray(images, np.uint8).reshape(n, -1)
    header = [f"pixel{i}" for i in range(pixels.shape[1])]
    if labels is not None:
        header.insert(0, "label")
    with open(path, "wb") as handle:
        handle.write((",".join(header) + "\n").encode())
        for start in range(0, n, 10_000):
            rows = pixels[start : start + 10_000]
            if labels is not None:
                column = np.asarray(labels[start : start + 10_000], np.uint8)[:, None]
                rows = np.concatenate([column, rows], axis=1)
            encoded = table[rows].reshape(len(rows), -1)
            keep = encoded != 0
            text = encoded[keep]
            text[np.cumsum(keep.sum(axis=1)) - 1] = ord("\n")  # each row's last comma
            handle.write(text.tobytes())


def edit_header(path: Path, edit: Callable[[dict[str, Any]], object], target: Path) -> Path:
    """Copy the model file at ``path`` to ``target`` with its JSON header passed through
    ``edit`` (which changes it in place)."""
    with zipfile.ZipFile(path) as archive:
        items = {info.filename: archive.read(info) for info in archive.infolist()}
    header = json.loads(np.load(io.BytesIO(items["__tinynet__.npy"])).tobytes())
    edit(header)
    buffer = io.BytesIO()
    encoded = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.lib.format.write_array(buffer, encoded, allow_pickle=False)
    items["__tinynet__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)
    return target
