"""Normalization: feature statistics from the training data, saved with the model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet import Dense, Normalization, Sequential, gradcheck


def raw(n: int = 200, seed: int = 0) -> np.ndarray:
    """Features on very different scales, one of them constant."""
    rng = np.random.default_rng(seed)
    x = rng.normal([0.0, 100.0, -5.0, 7.0], [1.0, 50.0, 0.01, 0.0], (n, 4))
    return x


def test_adapt_then_forward_equals_a_standard_scaler() -> None:
    x = raw()
    layer = Normalization(4, dtype=np.float64).adapt(x)
    mean, std = x.mean(axis=0), x.std(axis=0)  # population std, as StandardScaler's
    expected = (x - mean) / np.where(std > 0, std, 1.0)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(layer(x)[:, 3], 0.0)  # a constant feature is centred
    np.testing.assert_allclose(layer(x)[:, :3].std(axis=0), 1.0, rtol=1e-12)


def test_it_is_the_identity_before_adapt_and_maps_sequences_by_feature() -> None:
    x = raw().astype(np.float32)
    np.testing.assert_array_equal(Normalization(4)(x), x)
    layer = Normalization(4).adapt(x.reshape(20, 10, 4))
    np.testing.assert_allclose(
        layer(x.reshape(20, 10, 4)).reshape(200, 4), layer(x), rtol=1e-6, atol=1e-6
    )


def test_gradient_is_checked() -> None:
    layer = Normalization(4, dtype=np.float64).adapt(raw()[:, :3].repeat([1, 1, 2], axis=1))
    assert gradcheck(layer, np.random.default_rng(1).standard_normal((5, 4))) < 1e-6


def test_statistics_are_saved_so_predict_on_raw_rows_is_right(tmp_path: Path) -> None:
    x = raw().astype(np.float32)
    model = Sequential(Normalization(4).adapt(x), Dense(4, 2, seed=0))
    tinynet.save(model, tmp_path / "m.npz")
    loaded = tinynet.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded(x), model(x))
    np.testing.assert_array_equal(loaded[0].mean, model[0].mean)


def test_bad_input_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="num_features must be a positive integer"):
        Normalization(0)
    with pytest.raises(ValueError, match=r"Normalization\(4\): adapt needs finite samples"):
        Normalization(4).adapt(np.full((3, 4), np.nan, np.float32))
    with pytest.raises(ValueError, match=r"Normalization\(4\).*\(N, \.\.\., 4\)"):
        Normalization(4).adapt(np.zeros((3, 5), np.float32))
