"""The float32 error bound of `roundoff` holds against float64 and is not vacuous."""

from __future__ import annotations

import numpy as np
import pytest
import roundoff
from roundoff import assert_float32_close, float32_tolerance

from tinynet import (
    AdaptiveAvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Flatten,
    MaxPool2d,
    ReLU,
    Sequential,
    Tanh,
    Unflatten,
)


def cnn() -> Sequential:
    model = Sequential(
        Unflatten(1, (1, 12, 14)),
        Conv2d(1, 4, 3, padding=1, seed=0),
        BatchNorm2d(4),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, 3, seed=1),
        Tanh(),
        AdaptiveAvgPool2d((2, 3)),
        Flatten(),
        Dense(36, 10, seed=3),
    )
    model.forward(np.random.default_rng(0).standard_normal((9, 168)).astype(np.float32))
    return model.eval()


def test_float32_is_within_half_the_bound_of_float64() -> None:
    """The bound is twice one implementation's: float32 against (nearly) exact float64."""
    model = cnn()
    x = np.random.default_rng(1).standard_normal((50, 168)).astype(np.float32)
    exact = model.astype(np.float64)(x.astype(np.float64))
    got = cnn()(x)
    assert np.all(np.abs(got - exact) <= float32_tolerance(cnn(), x) / 2)


def test_a_wrong_answer_is_caught() -> None:
    """The bound is about 3e-5 of the outputs here (of magnitude 2): an error of 1e-3,
    a bias off by one part in a thousand, is refused."""
    model = cnn()
    x = np.random.default_rng(2).standard_normal((20, 168)).astype(np.float32)
    expected = model(x)
    assert np.max(float32_tolerance(model, x)) < 2e-4
    with pytest.raises(AssertionError, match="more than the bound"):
        assert_float32_close(expected + np.float32(1e-3), expected, model, x)


def test_the_probabilistic_bound_is_below_the_worst_case_on_a_deep_model() -> None:
    model = cnn()
    x = np.random.default_rng(3).standard_normal((20, 168)).astype(np.float32)
    exact, worst = roundoff.bound(model, x.astype(np.float64), np.zeros((20, 168)))
    np.testing.assert_allclose(exact, model.astype(np.float64)(x.astype(np.float64)), 1e-12)
    assert np.all(roundoff.spread(cnn(), x, exact) < worst)
