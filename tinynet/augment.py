"""Data augmentation: transforms of a batch of images, for ``DataLoader(transform=...)``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinynet import validation
from tinynet.init import make_rng
from tinynet.typing import Array


class RandomShift:
    """Shift each image by its own random whole-pixel offset, filling with zeros.

    ``transform(x_batch) -> new batch``: ``x_batch`` is (N, H*W), (N, H, W) or
    (N, C, H, W) (NCHW, as `tinynet.Conv2d` takes it) with ``(H, W) = image_shape``, of
    any numeric dtype; the result has its shape and dtype. Image ``i`` (all its channels
    alike) moves ``dy`` rows down and ``dx`` columns right (negative: up, left),
    ``out[i, r, c] = x[i, r - dy, c - dx]``, with ``dy`` and ``dx`` drawn independently
    and uniformly from the integers in [-max_shift, max_shift] using ``self.rng``
    (``rng``, or a generator seeded with ``seed``). Pixels moved out are dropped;
    pixels moved in are 0. ``max_shift=0`` returns an unchanged copy.

    Vectorized, with no loop over images: the batch is copied once into a buffer with
    zero margins, and each image's shifted copy is one slice of a strided view of it.
    """

    def __init__(
        self,
        max_shift: int = 2,
        image_shape: tuple[int, int] = (28, 28),
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
    ) -> None:
        if isinstance(max_shift, bool) or not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"RandomShift: expected an int max_shift >= 0, got {max_shift!r}")
        if not (validation.is_shape(image_shape) and len(image_shape) == 2):
            raise ValueError(
                f"RandomShift: expected image_shape (H, W) of positive ints, got {image_shape!r}"
            )
        self.max_shift = max_shift
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.rng = make_rng(rng, seed)
        self._cache: tuple[Array, Array] | None = None

    def __call__(self, x_batch: Array) -> Array:
        """A shifted copy of ``x_batch`` (N, H*W), (N, H, W) or (N, C, H, W); see the class
        docstring."""
        images = self._as_flat(x_batch)
        (h, w), s = self.image_shape, self.max_shift
        dy, dx = self.rng.integers(-s, s + 1, size=(2, x_batch.shape[0]))
        channels = images.shape[0] // x_batch.shape[0] if x_batch.shape[0] else 1
        if channels > 1:  # every channel of an image moves with it
            dy, dx = np.repeat(dy, channels), np.repeat(dx, channels)
        n = images.shape[0]
        buffer, windows = self._buffers(n, images.dtype)
        pad = (windows.shape[1] - 1) // 2
        buffer[:n, pad : pad + h * w] = images
        # In row-major order a shift by (dy, dx) is a shift by dy*W + dx of the flat
        # image; the zero margins of the buffer supply the rows moved in...
        shifted: Array = windows[np.arange(n), pad - dy * w - dx]
        # ...but the columns moved in wrap around from the neighbouring row: zero them.
        columns = shifted.reshape(n, h, w)
        for d in range(1, min(s, w) + 1):
            columns[dx >= d, :, d - 1] = 0
            columns[dx <= -d, :, w - d] = 0
        return shifted.reshape(x_batch.shape)

    def _as_flat(self, x_batch: Array) -> Array:
        """``x_batch`` as (N*C, H*W) flat images (C = 1 but for NCHW), or a clear error."""
        h, w = self.image_shape
        if isinstance(x_batch, np.ndarray) and (
            (x_batch.ndim == 2 and x_batch.shape[1] == h * w)
            or (x_batch.ndim in (3, 4) and x_batch.shape[-2:] == (h, w))
        ):
            return x_batch.reshape(-1, h * w)
        raise ValueError(
            f"{self!r}: expected a batch of shape (N, {h * w}), (N, {h}, {w}) or "
            f"(N, C, {h}, {w}), got {validation.describe(x_batch)}"
        )

    def _buffers(self, n: int, dtype: np.dtype[Any]) -> tuple[Array, Array]:
        """A zero-margined buffer of at least ``n`` flat images, (N', pad + H*W + pad) with
        ``pad = s*W + s``, and the read-only view ``windows[i, j] = buffer[i, j : j + H*W]``.

        Both are kept between calls (so a call is not thread-safe): only the middle of
        the buffer is ever written, so its margins stay zero.
        """
        if self._cache is None or self._cache[0].shape[0] < n or self._cache[0].dtype != dtype:
            h, w = self.image_shape
            pad = self.max_shift * (w + 1)
            buffer = np.zeros((n, h * w + 2 * pad), dtype)
            step = buffer.strides
            windows = as_strided(
                buffer,
                shape=(n, 2 * pad + 1, h * w),
                strides=(step[0], step[1], step[1]),
                writeable=False,
            )
            self._cache = buffer, windows
        return self._cache

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, image_shape={self.image_shape})"
