"""The options the classic networks need: a drawn bias (`Dense(bias_init=...)`) and
momentum in the exponential-moving-average form (`SGD(initial_buffer="zeros")`)."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet import Dense, Parameter
from tinynet.init import normal, uniform
from tinynet.optim import SGD, Momentum


def test_bias_init_draws_the_bias_after_the_weight_from_the_same_generator() -> None:
    layer = Dense(5, 3, init=uniform(-0.5, 0.5), bias_init=uniform(-0.5, 0.5), seed=7)
    expected = np.random.default_rng(7)
    weight = expected.uniform(-0.5, 0.5, (5, 3)).astype(np.float32)
    bias = expected.uniform(-0.5, 0.5, (3,)).astype(np.float32)
    assert layer.bias is not None
    np.testing.assert_array_equal(layer.weight.data, weight)
    np.testing.assert_array_equal(layer.bias.data, bias)
    assert layer.bias.data.dtype == np.float32


def test_bias_init_by_name_and_the_default_zero_bias_draws_nothing() -> None:
    drawn = Dense(4, 6, bias_init=normal(1.0), seed=1, dtype=np.float64)
    assert drawn.bias is not None
    assert drawn.bias.data.dtype == np.float64
    assert np.all(drawn.bias.data != 0)
    default = Dense(4, 6, seed=1)
    named = Dense(4, 6, bias_init="zeros", seed=1)
    assert default.bias is not None
    assert named.bias is not None
    np.testing.assert_array_equal(default.bias.data, np.zeros(6, np.float32))
    np.testing.assert_array_equal(named.bias.data, np.zeros(6, np.float32))
    # the zero bias consumes no draws: the next layer from a shared generator is unchanged
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    Dense(4, 6, rng=rng_a)
    Dense(4, 6, bias_init="zeros", rng=rng_b)
    np.testing.assert_array_equal(
        Dense(6, 2, rng=rng_a).weight.data, Dense(6, 2, rng=rng_b).weight.data
    )
    with pytest.raises(ValueError, match="unknown initializer 'nope'"):
        Dense(4, 6, bias_init="nope")


def ema_reference(grads: list[np.ndarray], lr: float, beta: float) -> np.ndarray:
    """The from-scratch rule: v = 0 at first; v = beta v + (1 - beta) g; p -= lr v."""
    p = np.zeros_like(grads[0])
    v = np.zeros_like(grads[0])
    for g in grads:
        v = beta * v + (1 - beta) * g
        p = p - lr * v
    return p


def run_sgd(optimizer_type: type[SGD], grads: list[np.ndarray], **kwargs: object) -> np.ndarray:
    param = Parameter(np.zeros_like(grads[0]))
    optimizer = optimizer_type([param], **kwargs)  # type: ignore[arg-type]
    for g in grads:
        optimizer.zero_grad()
        param.grad += g
        optimizer.step()
    return param.data


@pytest.mark.parametrize("optimizer_type", [SGD, Momentum])
def test_zero_initial_buffer_gives_the_ema_momentum_exactly(optimizer_type: type[SGD]) -> None:
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(7) for _ in range(4)]
    ema = run_sgd(
        optimizer_type, grads, lr=0.05, momentum=0.9, dampening=0.9, initial_buffer="zeros"
    )
    np.testing.assert_allclose(ema, ema_reference(grads, 0.05, 0.9), rtol=1e-12, atol=1e-15)
    # one step: EMA moves by lr * 0.1 * g (0.005 g); PyTorch's rule by lr * g (0.05 g)
    first = run_sgd(optimizer_type, grads[:1], lr=0.05, momentum=0.9, dampening=0.9)
    np.testing.assert_allclose(first, -0.05 * grads[0], rtol=1e-12)
    first_ema = run_sgd(
        optimizer_type, grads[:1], lr=0.05, momentum=0.9, dampening=0.9, initial_buffer="zeros"
    )
    np.testing.assert_allclose(first_ema, -0.005 * grads[0], rtol=1e-12)


def test_initial_buffer_is_checked_and_kept_in_the_state_dict() -> None:
    param = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="initial_buffer must be one of"):
        SGD([param], lr=0.1, momentum=0.9, initial_buffer="ones")
    saved = SGD([param], lr=0.1, momentum=0.9, initial_buffer="zeros")
    fresh = SGD([param], lr=0.1, momentum=0.9)
    fresh.load_state_dict(saved.state_dict())
    assert fresh.initial_buffer == "zeros"
