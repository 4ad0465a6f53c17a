"""BatchNorm1d: gradients, running statistics, PyTorch parity, errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import f64, perturb, rand
from hypothesis import given, settings
from hypothesis import strategies as st

from tinynet import BatchNorm1d, gradcheck

TOLERANCE = 1e-6


# --- BatchNorm1d ---------------------------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 6), c=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_batchnorm_gradcheck(affine: bool, n: int, c: int, seed: int) -> None:
    layer = perturb(f64(BatchNorm1d(c, affine=affine)), seed)
    assert gradcheck(layer, rand((n, c), seed, scale=3.0) + 2) < TOLERANCE


def test_batchnorm_gradcheck_with_two_samples() -> None:
    # With N = 2, x_hat = +-sqrt(var / (var + eps)) barely depends on x: dy/dx is of order
    # eps / var, below what finite differences resolve. A large eps makes it measurable.
    layer = perturb(f64(BatchNorm1d(3, eps=1.0)))
    assert gradcheck(layer, rand((2, 3), scale=2.0)) < TOLERANCE


def test_batchnorm_gradcheck_in_a_network_with_batch_size_one_is_refused() -> None:
    # One sample has no batch variance: PyTorch raises, and so do we, in training mode.
    with pytest.raises(
        ValueError, match=r"BatchNorm1d\(3.*more than one value per channel.*\(1, 3\).*eval"
    ):
        gradcheck(f64(BatchNorm1d(3)), rand((1, 3)))


def test_batchnorm_worked_example() -> None:
    # One feature, x = [1, 3]: batch mean 2, biased var 1, so x_hat = [-1, 1] / sqrt(1 + eps).
    # running_mean = 0.9 * 0 + 0.1 * 2 = 0.2; running_var = 0.9 * 1 + 0.1 * 2 = 1.1
    # (the unbiased variance of [1, 3] is 2).
    layer = BatchNorm1d(1, dtype=np.float64)
    y = layer(np.array([[1.0], [3.0]]))
    np.testing.assert_allclose(y, [[-1 / np.sqrt(1 + 1e-5)], [1 / np.sqrt(1 + 1e-5)]])
    np.testing.assert_allclose(layer.running_mean, [0.2])
    np.testing.assert_allclose(layer.running_var, [1.1])
    layer.eval()  # (x - 0.2) / sqrt(1.1 + eps), one sample at a time is fine now
    np.testing.assert_allclose(layer(np.array([[0.2 + np.sqrt(1.1 + 1e-5)]])), [[1.0]])


def test_batchnorm_updates_its_buffers_in_place_and_only_in_training() -> None:
    layer = BatchNorm1d(4)
    mean, var = layer.running_mean, layer.running_var
    layer(rand((8, 4)).astype(np.float32) + 5)
    assert layer.running_mean is mean
    assert layer.running_var is var
    assert np.all(mean > 0.3)
    before = mean.copy(), var.copy()
    layer.eval()(rand((8, 4), seed=2).astype(np.float32))
    np.testing.assert_array_equal(mean, before[0])
    np.testing.assert_array_equal(var, before[1])
    assert list(dict(layer.named_buffers())) == [
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert layer.num_batches_tracked == 1  # the training forward only
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


def test_batchnorm_astype_casts_buffers() -> None:
    layer = BatchNorm1d(3).astype(np.float64)
    assert layer.running_mean.dtype == layer.running_var.dtype == np.float64
    assert layer(rand((4, 3))).dtype == np.float64


@pytest.mark.parametrize(("momentum", "eps", "affine"), [(0.1, 1e-5, True), (0.3, 1e-3, False)])
def test_batchnorm_matches_torch_over_several_batches(
    momentum: float, eps: float, affine: bool
) -> None:
    torch = pytest.importorskip("torch")
    c = 5
    ours = perturb(BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine, dtype=np.float64))
    theirs = torch.nn.BatchNorm1d(c, eps=eps, momentum=momentum, affine=affine).double()
    if affine:
        assert ours.weight is not None
        assert ours.bias is not None
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.data))
            theirs.bias.copy_(torch.tensor(ours.bias.data))
    for step in range(4):
        x = rand((7 + step, c), seed=step, scale=3.0) - 1
        grad_y = rand(x.shape, seed=100 + step)
        t = torch.tensor(x, requires_grad=True)
        want = theirs(t)
        want.backward(torch.tensor(grad_y))
        np.testing.assert_allclose(ours(x), want.detach(), rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(ours.backward(grad_y), t.grad, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ours.running_mean, theirs.running_mean, rtol=1e-13)
    np.testing.assert_allclose(ours.running_var, theirs.running_var, rtol=1e-13)
    if affine:
        assert ours.weight is not None
        assert ours.bias is not None
        # Both accumulated over the four steps (nothing zeroed them).
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-12)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad, rtol=1e-12)
    ours.eval()
    theirs.eval()
    x = rand((3, c), seed=9)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach(), rtol=1e-12, atol=1e-13)


def test_batchnorm_backward_params_accumulates_what_backward_does() -> None:
    x, grad_y = rand((6, 3)), rand((6, 3), seed=1)
    full, params_only = perturb(f64(BatchNorm1d(3))), perturb(f64(BatchNorm1d(3)))
    full(x)
    full.backward(grad_y)
    params_only(x)
    params_only.backward_params(grad_y)
    for (_, a), (_, b) in zip(full.named_parameters(), params_only.named_parameters(), strict=True):
        np.testing.assert_allclose(a.grad, b.grad, rtol=1e-15)
        assert np.any(a.grad != 0)


def test_batchnorm_errors_name_the_layer_and_the_shapes() -> None:
    layer = BatchNorm1d(3)
    with pytest.raises(
        ValueError,
        match=r"BatchNorm1d\(3.*expected input of shape \(N, 3\) or \(N, 3, L\), got shape "
        r"\(2, 4\)",
    ):
        layer(np.zeros((2, 4), np.float32))
    with pytest.raises(
        ValueError,
        match=r"expected input of shape \(N, 3\) or \(N, 3, L\), got shape \(2, 3, 1, 1\)",
    ):
        layer(np.zeros((2, 3, 1, 1), np.float32))
    with pytest.raises(TypeError, match=r"BatchNorm1d\(3.*dtype float32, got float64"):
        layer(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="needs a forward"):
        BatchNorm1d(3).backward(np.zeros((2, 3), np.float32))
    layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"grad_y of shape \(2, 3\), got shape \(3, 3\)"):
        layer.backward(np.zeros((3, 3), np.float32))
    for kwargs in (
        {"num_features": 0},
        {"num_features": 2, "eps": 0},
        {"num_features": 2, "momentum": 1.5},
    ):
        with pytest.raises(ValueError, match="BatchNorm1d: "):
            BatchNorm1d(**kwargs)  # type: ignore[arg-type]
