"""GELU and SiLU/Swish: gradients, PyTorch parity, worked examples, extreme inputs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from helpers import rand
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import GELU, Layer, SiLU, Swish, gradcheck

TOLERANCE = 1e-6
SHAPES = st.tuples(st.integers(1, 5), st.integers(1, 6))
"""(batch, features): batch size 1 included."""


# --- activations -------------------------------------------------------------------------

ACTIVATIONS: dict[str, Callable[[], Layer]] = {
    "gelu": GELU,
    "gelu_tanh": lambda: GELU(approximate="tanh"),
    "silu": SiLU,
    "swish": Swish,
}


@pytest.mark.parametrize("name", ACTIVATIONS)
@settings(max_examples=25, deadline=None)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_activation_gradcheck(name: str, shape: tuple[int, int], seed: int) -> None:
    # scale 4: about half the entries of x land beyond |x| = 3, GELU's other branch.
    assert gradcheck(ACTIVATIONS[name](), rand(shape, seed, scale=4.0)) < TOLERANCE


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_gradcheck_across_the_series_and_tail_boundary(name: str) -> None:
    x = np.array([[-3.0, 3.0, -3 - 1e-7, 3 + 1e-7, -2.9999999, 2.9999999, 0.0, -12.0, 12.0]])
    assert gradcheck(ACTIVATIONS[name](), x) < TOLERANCE


TORCH_ACTIVATIONS = {
    "gelu": ("gelu", {}),
    "gelu_tanh": ("gelu", {"approximate": "tanh"}),
    "silu": ("silu", {}),
    "swish": ("silu", {}),
}


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch_in_float64(name: str) -> None:
    torch = pytest.importorskip("torch")
    function, kwargs = TORCH_ACTIVATIONS[name]
    x = np.concatenate([np.linspace(-40, 40, 8001), np.linspace(-4, 4, 8001)])[None, :]
    grad_y = rand(x.shape)
    t = torch.tensor(x, requires_grad=True)
    want = getattr(torch.nn.functional, function)(t, **kwargs)
    want.backward(torch.tensor(grad_y))
    layer = ACTIVATIONS[name]()
    np.testing.assert_allclose(layer(x), want.detach(), rtol=1e-14, atol=1e-14)
    # atol: torch's 1 + tanh(u) cancels to 0 near x = -7 where the gradient is 1e-14.
    np.testing.assert_allclose(layer.backward(grad_y), t.grad, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_matches_torch_in_float32(name: str) -> None:
    torch = pytest.importorskip("torch")
    function, kwargs = TORCH_ACTIVATIONS[name]
    x = rand((64, 33), scale=4.0).astype(np.float32)
    y = ACTIVATIONS[name]()(x)
    assert y.dtype == np.float32
    want = getattr(torch.nn.functional, function)(torch.tensor(x), **kwargs)
    np.testing.assert_allclose(y, want, rtol=1e-6, atol=1e-6)


def test_gelu_worked_example() -> None:
    # GELU(1) = 1 * Phi(1) = 0.8413447460685429; GELU(-1) = -Phi(-1) = -0.15865525393145707
    # (Phi(1) = (1 + erf(1/sqrt 2)) / 2). GELU'(1) = Phi(1) + phi(1) = 0.8413... + 0.2419707...
    layer = GELU()
    y = layer(np.array([[1.0, -1.0, 0.0]]))
    np.testing.assert_allclose(y, [[0.8413447460685429, -0.15865525393145707, 0.0]], rtol=1e-15)
    grad = layer.backward(np.ones((1, 3)))
    np.testing.assert_allclose(grad[0, 0], 0.8413447460685429 + 0.24197072451914337, rtol=1e-15)
    np.testing.assert_allclose(grad[0, 2], 0.5, rtol=1e-15)


def test_silu_and_gelu_are_finite_and_exact_for_huge_inputs() -> None:
    x = np.array([[-1e4, -800.0, 800.0, 1e4]])  # exp(-800) underflows to 0
    for layer in (SiLU(), GELU(), GELU(approximate="tanh")):
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            y = layer(x)
            grad = layer.backward(np.ones_like(x))
        np.testing.assert_array_equal(y, [[0, 0, 800, 1e4]])  # x * 0 and x * 1
        np.testing.assert_array_equal(grad, [[0, 0, 1, 1]])


def test_gelu_tail_keeps_relative_precision() -> None:
    # torch's (1 + erf(x / sqrt 2)) / 2 is exactly 0 at x = -10; GELU(-10) = -10 Phi(-10)
    # = -7.619853024160527e-23 (Phi(-10) = 7.619853024160527e-24).
    np.testing.assert_allclose(GELU()(np.array([[-10.0]])), -7.619853024160527e-23, rtol=1e-14)


def test_swish_is_silu_under_another_name() -> None:
    x = rand((3, 4))
    assert isinstance(Swish(), SiLU)
    np.testing.assert_array_equal(Swish()(x), SiLU()(x))
    assert repr(Swish()) == "Swish()"


def test_gelu_rejects_unknown_approximation() -> None:
    with pytest.raises(ValueError, match=r"GELU: approximate must be one of .*'sigmoid'"):
        GELU(approximate="sigmoid")
    assert repr(GELU(approximate="tanh")) == "GELU(approximate='tanh')"


def test_gelu_backward_uses_the_last_training_forward() -> None:
    """The exact GELU keeps Phi and phi from its forward: two forwards, then one
    backward, must give the gradient at the second input, as a fresh layer's."""
    rng = np.random.default_rng(0)
    x1, x2, grad = (rng.standard_normal((3, 5, 4)) * 2 for _ in range(3))
    layer, fresh = GELU(), GELU()
    layer.forward(x1)
    layer.forward(x2)
    fresh.forward(x2)
    np.testing.assert_array_equal(layer.backward(grad), fresh.backward(grad))
    layer.forward(x1)
    layer.eval().forward(x2)  # an inference forward keeps nothing
    with pytest.raises(RuntimeError, match="training"):
        layer.backward(grad)
