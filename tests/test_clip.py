"""Gradient clipping: torch.nn.utils's functions in float64, by hand, and inside fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinynet import Dense, MSELoss, Parameter, ReLU, Sequential
from tinynet.optim import SGD, clip_grad_norm_, clip_grad_value_
from tinynet.train import fit


def params_with_grads(scale: float, seed: int = 0) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    params = [Parameter(np.zeros(shape)) for shape in [(3, 4), (4,), (2, 2, 2)]]
    for p in params:
        p.grad = rng.standard_normal(p.shape) * scale
    return params


def test_clip_grad_norm_by_hand() -> None:
    p = Parameter(np.zeros(2))
    p.grad = np.array([3.0, 4.0])  # norm 5
    assert clip_grad_norm_([p], max_norm=1.0) == 5.0
    np.testing.assert_allclose(p.grad, np.array([3.0, 4.0]) / (5 + 1e-6))
    p.grad = np.array([0.3, 0.4])  # norm 0.5: below max_norm, unchanged
    assert clip_grad_norm_(p, max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(p.grad, [0.3, 0.4])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_matches_torch(norm_type: float, scale: float) -> None:
    torch = pytest.importorskip("torch")
    ours = params_with_grads(scale)
    theirs = [torch.zeros(p.shape, dtype=torch.float64, requires_grad=True) for p in ours]
    for p, t in zip(ours, theirs, strict=True):
        t.grad = torch.tensor(p.grad.copy())
    total = clip_grad_norm_(ours, max_norm=1.5, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm=1.5, norm_type=norm_type)
    assert total == pytest.approx(float(expected), rel=1e-13)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-13, atol=0)


def test_clip_grad_value_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    ours = params_with_grads(2.0)
    theirs = [torch.tensor(p.grad.copy()) for p in ours]
    clip_grad_value_(ours, 0.7)
    for p, t in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(p.grad, t.clamp(-0.7, 0.7).numpy())


def test_non_finite_gradients() -> None:
    p = Parameter(np.zeros(2))
    p.grad = np.array([np.nan, 1.0])
    with pytest.raises(FloatingPointError, match=r"total norm of order 2\.0 .* nan"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad, [np.nan, 1.0])  # unchanged
    clip_grad_norm_([p], 1.0)  # PyTorch's default: the gradients become NaN
    assert np.isnan(p.grad).all()
    with pytest.raises(ValueError, match="max_norm >= 0"):
        clip_grad_norm_([p], -1.0)
    assert clip_grad_norm_([], 1.0) == 0.0


def test_fit_clips_every_batch_as_the_manual_loop_does() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    y = 50 * rng.standard_normal((32, 1))  # large targets: large gradients, always clipped

    def model() -> Sequential:
        return Sequential(Dense(3, 8, seed=1), ReLU(), Dense(8, 1, seed=2)).astype(np.float64)

    clipped = model()
    fit(
        clipped,
        x,
        y,
        loss=MSELoss(),
        optimizer=SGD(clipped.parameters(), lr=0.01),
        epochs=2,
        batch_size=32,
        shuffle=False,
        verbose=0,
        clip_grad_norm=0.5,
    )
    manual = model()
    loss, opt = MSELoss(), SGD(manual.parameters(), lr=0.01)
    for _ in range(2):
        loss.forward(manual(x), y)
        opt.zero_grad()
        manual.backward(loss.backward())
        assert clip_grad_norm_(manual.parameters(), 0.5) > 0.5
        opt.step()
    for a, b in zip(clipped.parameters(), manual.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    with pytest.raises(ValueError, match="clip_grad_norm must be a number > 0"):
        fit(manual, x, y, loss=MSELoss(), optimizer=opt, verbose=0, clip_grad_norm=0)
