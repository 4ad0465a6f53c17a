"""Losses: finite-difference gradients, closed forms, PyTorch's values, huge logits."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import batch_sizes, loss_gradcheck, seeds, shapes
from hypothesis import example, given
from hypothesis import strategies as st

from tinynet import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss

TOL = 1e-6

# --- gradients on random shapes (float64) ---------------------------------------------


@given(
    n=batch_sizes,
    classes=st.integers(1, 6),
    smoothing=st.sampled_from([0.0, 0.1, 0.35]),
    seed=seeds,
)
@example(n=1, classes=3, smoothing=0.0, seed=0)
@example(n=1, classes=3, smoothing=0.1, seed=0)
def test_cross_entropy_gradient(n: int, classes: int, smoothing: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = 3 * rng.standard_normal((n, classes))
    labels = rng.integers(0, classes, n)
    assert loss_gradcheck(CrossEntropyLoss(label_smoothing=smoothing), logits, labels) < TOL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(shape=shapes, seed=seeds)
@example(shape=(1,), seed=0)
def test_mse_gradient(reduction: str, shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred, target = rng.standard_normal(shape), rng.standard_normal(shape)
    assert loss_gradcheck(MSELoss(reduction), pred, target) < TOL


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@given(shape=shapes, seed=seeds)
@example(shape=(1, 1), seed=0)
def test_bce_with_logits_gradient(reduction: str, shape: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits, target = 3 * rng.standard_normal(shape), rng.random(shape)
    assert loss_gradcheck(BCEWithLogitsLoss(reduction), logits, target) < TOL


# --- cross-entropy against its definition ---------------------------------------------


def explicit_softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits)  # moderate logits only: no shift needed
    return e / e.sum(axis=1, keepdims=True)


@given(n=batch_sizes, classes=st.integers(2, 6), seed=seeds)
def test_cross_entropy_is_minus_log_softmax_and_gradient_is_softmax_minus_onehot(
    n: int, classes: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    logits = 4 * rng.standard_normal((n, classes))
    labels = rng.integers(0, classes, n)
    probs = explicit_softmax(logits)
    loss = CrossEntropyLoss()
    value = loss.forward(logits, labels)
    assert value == pytest.approx(-np.log(probs[np.arange(n), labels]).mean(), rel=1e-12)
    onehot = np.eye(classes)[labels]
    np.testing.assert_allclose(loss.backward(), (probs - onehot) / n, rtol=1e-12, atol=1e-15)


def test_cross_entropy_worked_example() -> None:
    # two equal logits: p = [1/2, 1/2], loss = log 2 for either label
    # gradient (p - onehot) / N with N = 2: [[-1/4, 1/4], [1/4, -1/4]]
    loss = CrossEntropyLoss()
    assert loss.forward(np.zeros((2, 2)), np.array([0, 1])) == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_array_equal(loss.backward(), [[-0.25, 0.25], [0.25, -0.25]])


def test_cross_entropy_label_smoothing_is_cross_entropy_with_a_mixed_target() -> None:
    rng = np.random.default_rng(5)
    n, classes, e = 4, 5, 0.2
    logits = rng.standard_normal((n, classes))
    labels = np.array([0, 4, 2, 2])
    q = (1 - e) * np.eye(classes)[labels] + e / classes  # the smoothed target
    probs = explicit_softmax(logits)
    loss = CrossEntropyLoss(label_smoothing=e)
    expected = -(q * np.log(probs)).sum(axis=1).mean()
    assert loss.forward(logits, labels) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss.backward(), (probs - q) / n, rtol=1e-12, atol=1e-15)


def test_cross_entropy_keeps_float32() -> None:
    logits = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    loss = CrossEntropyLoss(label_smoothing=0.1)
    value = loss.forward(logits, np.array([0, 1, 3]))
    assert isinstance(value, float)
    assert loss.backward().dtype == np.float32


# --- MSE and BCE worked examples ------------------------------------------------------


def test_mse_worked_example() -> None:
    pred = np.array([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[0.0, 2.0], [5.0, 4.0]])
    # diff = [1, 0, -2, 0]; squares sum to 5; mean over 4 elements = 1.25
    mean, total = MSELoss(), MSELoss("sum")
    assert mean.forward(pred, target) == 1.25
    np.testing.assert_array_equal(mean.backward(), [[0.5, 0.0], [-1.0, 0.0]])  # 2 diff / 4
    assert total.forward(pred, target) == 5.0
    np.testing.assert_array_equal(total.backward(), [[2.0, 0.0], [-4.0, 0.0]])  # 2 diff


def test_mse_casts_the_target_to_the_prediction_dtype() -> None:
    pred = np.ones((2, 3), np.float32)
    loss = MSELoss()
    assert loss.forward(pred, np.zeros((2, 3), np.float64)) == 1.0
    assert loss.backward().dtype == np.float32


def test_bce_with_logits_worked_example() -> None:
    # x = 0: sigmoid = 1/2, loss = log 2 whatever the target; gradient (1/2 - t) / numel
    loss = BCEWithLogitsLoss()
    target = np.array([[0.0, 1.0, 0.25, 1.0]])
    assert loss.forward(np.zeros((1, 4)), target) == pytest.approx(np.log(2), rel=1e-15)
    np.testing.assert_allclose(loss.backward(), [[0.125, -0.125, 0.0625, -0.125]], rtol=1e-15)


def test_bce_with_logits_equals_the_textbook_formula_on_moderate_logits() -> None:
    rng = np.random.default_rng(2)
    x, t = 3 * rng.standard_normal((5, 3)), rng.random((5, 3))
    s = 1 / (1 + np.exp(-x))
    expected = -(t * np.log(s) + (1 - t) * np.log(1 - s))
    loss = BCEWithLogitsLoss("sum")
    assert loss.forward(x, t) == pytest.approx(expected.sum(), rel=1e-12)
    np.testing.assert_allclose(loss.backward(), s - t, rtol=1e-12)


# --- numerics at logits of magnitude 1e4 -----------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_and_exact_at_huge_logits(dtype: type) -> None:
    logits = np.array([[1e4, 0.0, -1e4]] * 3, dtype)
    labels = np.array([0, 1, 2])
    loss = CrossEntropyLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.forward(logits, labels)
        grad = loss.backward()
    # log-sum-exp of a row = 1e4 + log(1 + e^-1e4 + e^-2e4) = 1e4 exactly in floating point,
    # so the losses are 1e4 - logit: [0, 1e4, 2e4], mean 1e4; softmax is [1, 0, 0]
    assert value == 1e4
    onehot = np.eye(3)
    expected = (np.array([[1.0, 0.0, 0.0]] * 3) - onehot) / 3
    np.testing.assert_array_equal(grad, expected.astype(dtype))
    assert grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_is_finite_and_exact_at_huge_logits(dtype: type) -> None:
    logits = np.array([1e4, -1e4, 1e4, -1e4], dtype)
    target = np.array([1.0, 0.0, 0.0, 1.0], dtype)
    loss = BCEWithLogitsLoss()
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value = loss.forward(logits, target)
        grad = loss.backward()
    # right answers cost log(1 + e^-1e4) = 0; wrong ones cost 1e4: mean (0 + 0 + 1e4 + 1e4) / 4
    assert value == 5e3
    np.testing.assert_array_equal(grad, np.array([0.0, 0.0, 0.25, -0.25], dtype))


# --- PyTorch's values, where torch is installed ---------------------------------------


def test_losses_match_torch() -> None:
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = np.random.default_rng(11)
    logits, labels = 3 * rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    pred, target = rng.standard_normal((6, 5)), rng.random((6, 5))

    def tl(a: np.ndarray) -> object:
        return torch.from_numpy(a).long()

    def tf(a: np.ndarray) -> object:
        return torch.from_numpy(a)

    cases = [
        (CrossEntropyLoss(), logits, labels, lambda t: functional.cross_entropy(t, tl(labels))),
        (
            CrossEntropyLoss(label_smoothing=0.15),
            logits,
            labels,
            lambda t: functional.cross_entropy(t, tl(labels), label_smoothing=0.15),
        ),
        (MSELoss(), pred, target, lambda t: functional.mse_loss(t, tf(target))),
        (
            MSELoss("sum"),
            pred,
            target,
            lambda t: functional.mse_loss(t, tf(target), reduction="sum"),
        ),
        (
            BCEWithLogitsLoss(),
            pred,
            target,
            lambda t: functional.binary_cross_entropy_with_logits(t, tf(target)),
        ),
        (
            BCEWithLogitsLoss("sum"),
            pred,
            target,
            lambda t: functional.binary_cross_entropy_with_logits(t, tf(target), reduction="sum"),
        ),
    ]

    for loss, x, y, reference in cases:
        tensor = torch.from_numpy(x.copy()).requires_grad_()
        expected = reference(tensor)
        expected.backward()
        assert loss.forward(x, y) == pytest.approx(expected.item(), rel=1e-12), loss
        np.testing.assert_allclose(loss.backward(), tensor.grad.numpy(), rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("n", [1, 5])
def test_cross_entropy_leaves_the_logits_untouched(n: int) -> None:
    """It works on a transposed copy; with one sample the transpose is contiguous
    already, where a view would have been shifted in place."""
    logits = np.random.default_rng(n).standard_normal((n, 4))
    before = logits.copy()
    loss = CrossEntropyLoss(label_smoothing=0.1)
    loss.forward(logits, np.zeros(n, np.int64))
    loss.backward()
    np.testing.assert_array_equal(logits, before)
