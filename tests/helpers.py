"""Helpers shared by the tests: strategies, a loss gradient check, test-only layers."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from hypothesis import strategies as st

from tinynet import Dropout, Layer, Loss
from tinynet.typing import FloatArray

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
