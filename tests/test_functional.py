"""tinynet.functional: the normal pdf and cdf against the standard library, to a few ulp."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import functional
from tinynet.functional import normal_cdf, normal_pdf

EPS64 = float(np.finfo(np.float64).eps)


def reference_cdf(x: float) -> float:
    """Phi(x) = erfc(-x / sqrt(2)) / 2. Rounding x / sqrt(2) costs up to x**2 ulp of
    erfc in the tails, which the tolerances below allow for."""
    return 0.5 * math.erfc(-x / math.sqrt(2))


def reference_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def assert_ulp_close(got: np.ndarray, x: np.ndarray, want: np.ndarray, ulps: float) -> None:
    """|got - want| within ``ulps * (1 + x**2)`` ulp of want (the reference's own error
    grows like x**2), or ``ulps`` ulp of 1/2 absolute (where ``1/2 + ...`` cancels)."""
    tolerance = ulps * EPS64 * ((1 + x * x) * np.abs(want) + 0.5)
    worst = np.max(np.abs(got - want) - tolerance)
    assert worst <= 0, f"off by {worst:.3g} beyond tolerance"


def test_cdf_and_pdf_match_the_standard_library_on_a_dense_grid() -> None:
    # Both regions (|x| < 3: series, |x| >= 3: continued fraction) and deep tails.
    x = np.concatenate([np.linspace(-37.5, 9, 30001), np.linspace(-3.01, 3.01, 6021)])
    assert_ulp_close(normal_cdf(x), x, np.array([reference_cdf(v) for v in x]), ulps=4)
    assert_ulp_close(normal_pdf(x), x, np.array([reference_pdf(v) for v in x]), ulps=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-37.5, 37.5), min_size=1, max_size=20))
def test_cdf_matches_the_standard_library_for_any_batch(values: list[float]) -> None:
    # The number of series terms depends on the batch's largest |x|: mix them freely.
    x = np.array(values)
    assert_ulp_close(normal_cdf(x), x, np.array([reference_cdf(v) for v in x]), ulps=4)


def test_tail_keeps_relative_precision_where_one_plus_erf_cancels() -> None:
    # Phi(-20) = 2.75e-89: (1 + erf(-20 / sqrt(2))) / 2 is exactly 0 in float64.
    got = normal_cdf(np.array([-20.0]))[0]
    assert got == pytest.approx(reference_cdf(-20.0), rel=1e-13)
    assert got > 0


def test_cdf_is_monotone_and_symmetric() -> None:
    x = np.linspace(-10, 10, 20001)
    cdf = normal_cdf(x)
    assert np.all(np.diff(cdf) >= 0)
    np.testing.assert_allclose(cdf + cdf[::-1], 1.0, rtol=0, atol=4 * EPS64)


def test_special_values() -> None:
    x = np.array([-np.inf, -50.0, 0.0, 50.0, np.inf, np.nan])
    np.testing.assert_array_equal(normal_cdf(x), [0.0, 0.0, 0.5, 1.0, 1.0, np.nan])
    np.testing.assert_array_equal(normal_pdf(x)[:5], [0.0, 0.0, 1 / math.sqrt(2 * math.pi), 0, 0])


def test_float32_stays_float32_and_is_accurate_to_its_precision() -> None:
    x64 = np.linspace(-12, 12, 4801)
    x = x64.astype(np.float32)
    cdf, pdf = normal_cdf(x), normal_pdf(x)
    assert cdf.dtype == pdf.dtype == np.float32
    eps32 = float(np.finfo(np.float32).eps)
    exact_cdf = normal_cdf(x.astype(np.float64))
    exact_pdf = normal_pdf(x.astype(np.float64))
    assert np.max(np.abs(cdf - exact_cdf)) <= 2 * eps32
    assert np.max(np.abs(pdf - exact_pdf) / exact_pdf) <= 4 * eps32


def test_passing_the_pdf_gives_the_same_cdf() -> None:
    x = np.random.default_rng(0).standard_normal((7, 5)) * 4
    np.testing.assert_array_equal(normal_cdf(x, normal_pdf(x)), normal_cdf(x))


def test_tails_are_exact_to_a_few_ulp_against_mpmath() -> None:
    # The stdlib references above lose up to x**2 ulp themselves; mpmath does not, so this
    # is what catches an exp(-x*x/2) whose rounded argument costs hundreds of ulp at x = 30.
    mpmath = pytest.importorskip("mpmath")
    x = np.linspace(-37.5, -3, 3451)
    with mpmath.workdps(40):
        want_cdf = np.array([float(mpmath.ncdf(v)) for v in x])
        want_pdf = np.array([float(mpmath.npdf(v)) for v in x])
    assert np.max(np.abs(normal_cdf(x) / want_cdf - 1)) <= 4 * EPS64
    assert np.max(np.abs(normal_pdf(x) / want_pdf - 1)) <= 4 * EPS64
    assert np.max(np.abs(normal_pdf(-x) / want_pdf - 1)) <= 4 * EPS64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_cdf_of_a_large_array_in_pieces_equals_it_value_by_value(dtype: str) -> None:
    """Past `_CHUNK_BYTES` the CDF is computed piece by piece: the same values as small
    calls, wherever each piece starts, for a non-contiguous input too."""
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((700, 401)) * 3).astype(dtype)  # both branches in most pieces
    x[5, 7], x[600, 3], x[699, 400] = np.nan, -np.inf, np.inf
    assert x.nbytes > 2 * functional._CHUNK_BYTES
    expected = np.concatenate([normal_cdf(row) for row in x.T]).reshape(401, 700)
    got = normal_cdf(x.T)  # a transposed view
    assert got.shape == (401, 700)
    np.testing.assert_array_equal(got, expected)
