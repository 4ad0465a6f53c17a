"""Array functions the layers, losses and loops share: no state, no layers.

``sigmoid`` and ``softmax`` (numerically stable), and the standard normal density and
distribution function that `GELU` needs, vectorized, to the input's precision.

NumPy has no ``erf``; GELU needs ``Phi(x)``, the standard normal CDF, and its derivative
``phi(x)``. ``math.erf`` is exact but one Python call per element. A rational
approximation good to 1e-7 is not enough: a float64 gradient check differentiates the
forward numerically, so the forward must be as accurate as the backward is, to about
1e-13. Here both are computed to a few units in the last place (ulp) of the dtype:

- ``phi(x) = exp(-x**2 / 2) / sqrt(2 pi)``, with ``x**2`` split exactly into the square
  of ``x``'s leading half-significand (which has no rounding error) and a small rest:
  ``exp`` of a rounded ``x**2`` would turn its rounding error (up to 700 ulp at
  x = 37) into as many ulp of ``phi``.
- ``Phi(x)`` for ``|x| < 3``: ``1/2 + phi(x) * (x + x**3/3 + x**5/(3*5) + ...)``, whose
  terms are all of one sign (so nothing cancels inside the sum), summed by Horner's
  rule with only as many terms as the largest ``|x|`` of the batch needs.
- ``Phi(x)`` for ``|x| >= 3``: the tail ``Phi(-t) = phi(t) / (t + 1/(t + 2/(t + 3/(t + ...))))``
  (Laplace's continued fraction for Mills' ratio), evaluated from a fixed depth upwards;
  it converges fast for large ``t``, and ``Phi(t) = 1 - Phi(-t)``. The tail keeps full
  relative precision down to the smallest normal number (x = -37.5 in float64), where
  ``(1 + erf(x / sqrt(2))) / 2`` has long since cancelled to zero.

Measured against mpmath (50 digits) on a dense grid, float64: ``phi`` within 5e-16
relative; ``Phi`` within 6e-16 relative for ``|x| >= 3`` and within 5e-16 absolute
(3e-13 relative, where Phi(x) is near 1e-3 and 1/2 + ... cancels) for ``|x| < 3``.
float32: ``phi`` within 3 ulp relative, ``Phi`` within 2 ulp absolute.
"""

from __future__ import annotations

import math

import numpy as np

from tinynet.typing import FloatArray


def sigmoid(x: FloatArray) -> FloatArray:
    """``1 / (1 + exp(-x))`` without overflow for any finite x; same shape and dtype."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(x: FloatArray, axis: int = -1) -> FloatArray:
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the maximum so it cannot overflow."""
    e: FloatArray = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)

_SERIES_LIMIT = 3.0
"""``|x|`` below which Phi is summed as a series, at and above which as a continued fraction."""

_PDF_CLIP = 40.0
"""``phi`` underflows to 0 beyond this ``|x|`` in every float dtype; clipping keeps inf finite."""

_MAX_TERMS = 80
"""More series terms than ``|x| < 3`` needs in any dtype up to float64 (which needs 34)."""

_ODD_SERIES = [1.0 / math.prod(range(1, 2 * n + 2, 2)) for n in range(_MAX_TERMS)]
"""``1 / (2n+1)!!`` = 1, 1/3, 1/15, 1/105...: Phi(x) - 1/2 = phi(x) * x * sum(c_n x**(2n))."""


def _continued_fraction_depth(dtype: np.dtype[np.floating]) -> int:
    """Depth at which the tail's continued fraction is exact to ``dtype`` for ``t >= 3``.

    Measured against mpmath: at t = 3, 49 levels reach 2**-53 and 13 reach 2**-24;
    deeper is never worse, and larger t needs fewer (t = 6: 19 and 6).
    """
    return 56 if np.finfo(dtype).nmant > 23 else 16


def normal_pdf(x: FloatArray) -> FloatArray:
    """``exp(-x**2 / 2) / sqrt(2 pi)`` elementwise: a new array of ``x``'s shape and dtype."""
    t = np.abs(x)
    np.minimum(t, _PDF_CLIP, out=t)
    hi = _leading_half(t)
    # t**2 = hi**2 + (t - hi) * (t + hi): the first exact, the second small.
    rest = t - hi
    t += hi
    rest *= t
    rest *= -0.5
    np.exp(rest, out=rest)
    hi *= hi
    hi *= -0.5
    pdf = np.exp(hi, out=hi)
    pdf *= rest
    pdf *= _INV_SQRT_2PI
    return pdf


def _leading_half(t: FloatArray) -> FloatArray:
    """``t`` with the low half of its significand zeroed, so that its square is exact
    (and ``t`` minus it too): one bitwise AND on the array's bits."""
    precision = np.finfo(t.dtype).nmant + 1  # significand bits, the implicit one included
    low = precision - precision // 2  # zeroed: the rest has precision // 2 bits
    bits = np.dtype(f"u{t.dtype.itemsize}")
    mask = bits.type(((1 << 8 * t.dtype.itemsize) - 1) ^ ((1 << low) - 1))
    lead: FloatArray = np.bitwise_and(t.view(bits), mask).view(t.dtype)
    return lead


_CHUNK_BYTES = 1 << 19
"""`normal_cdf` works through larger arrays in pieces of this many bytes, which stay in
a core's L2 cache over the series' 20-50 passes: 3x faster on a (12, 64, 512) float32
GELU input than one pass over the whole 1.5 MB, with the same values."""


def normal_cdf(x: FloatArray, pdf: FloatArray | None = None) -> FloatArray:
    """``Phi(x)``, the standard normal CDF, elementwise: a new array of ``x``'s shape and dtype.

    ``pdf`` may pass ``normal_pdf(x)`` when the caller has it already (GELU's backward
    needs both), to save recomputing it. NaN gives NaN; -inf gives 0 and inf gives 1.
    """
    if pdf is None:
        pdf = normal_pdf(x)
    chunk = _CHUNK_BYTES // x.dtype.itemsize
    if x.size <= chunk:
        return _cdf(x, pdf)
    cdf = np.empty(x.shape, x.dtype)
    flat, flat_x, flat_pdf = (np.ascontiguousarray(a).reshape(-1) for a in (cdf, x, pdf))
    for start in range(0, flat.size, chunk):
        piece = slice(start, start + chunk)
        flat[piece] = _cdf(flat_x[piece], flat_pdf[piece])
    return cdf


def _cdf(x: FloatArray, pdf: FloatArray) -> FloatArray:
    """`normal_cdf` of one piece."""
    t = np.abs(x)
    near = t < _SERIES_LIMIT
    if near.all():
        return _near_cdf(x, pdf)
    cdf = np.empty_like(x)
    cdf[near] = _near_cdf(x[near], pdf[near])
    far = ~near
    tail = pdf[far] * _mills_ratio(t[far])
    cdf[far] = np.where(x[far] > 0, 1 - tail, tail)
    return cdf


def _near_cdf(x: FloatArray, pdf: FloatArray) -> FloatArray:
    """Phi(x) for |x| < 3: ``1/2 + pdf * x * P(x**2)``, P summed by Horner's rule."""
    u = x * x
    terms = _terms_needed(u, x.dtype)
    series = np.full_like(x, _ODD_SERIES[terms - 1])
    for c in reversed(_ODD_SERIES[: terms - 1]):
        series *= u
        series += c
    series *= x
    series *= pdf
    series += 0.5
    return series


def _terms_needed(u: FloatArray, dtype: np.dtype[np.floating]) -> int:
    """How many terms of P(u) make the rest below half an ulp of the sum, for every u.

    The terms ``c_n u**n`` are positive and their ratio ``u / (2n + 3)`` falls, so the rest
    after ``n`` terms is at most ``c_n u**n / (1 - u / (2n + 3))``, against a sum >= 1.
    """
    largest = float(u.max()) if u.size else 0.0
    eps = float(np.finfo(dtype).eps) / 2
    term = 1.0
    for n in range(1, _MAX_TERMS):
        term *= largest / (2 * n + 1)
        ratio = largest / (2 * n + 3)
        if ratio < 1 and term / (1 - ratio) < eps:
            return n + 1
    return _MAX_TERMS


def _mills_ratio(t: FloatArray) -> FloatArray:
    """``Phi(-t) / phi(t)`` for t >= 3: ``1 / (t + 1/(t + 2/(t + 3/(t + ...))))``."""
    denominator = t.copy()
    for k in range(_continued_fraction_depth(t.dtype), 0, -1):
        np.divide(k, denominator, out=denominator)
        denominator += t
    ratio: FloatArray = np.reciprocal(denominator, out=denominator)
    return ratio
