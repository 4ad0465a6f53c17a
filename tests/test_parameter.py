"""Parameter: lazy zeroing of gradients, and what layers and optimizers see of it."""

from __future__ import annotations

import numpy as np

from tinynet import CrossEntropyLoss, Dense, Layer, Parameter, Sequential
from tinynet.optim import SGD
from tinynet.typing import FloatArray


def test_zero_grad_is_lazy_but_reads_as_zero() -> None:
    p = Parameter(np.ones((2, 3), np.float32))
    p.grad += 5.0
    p.zero_grad()
    assert np.array_equal(p.grad_storage, np.full((2, 3), 5.0))  # nothing written yet
    assert np.array_equal(p.grad, np.zeros((2, 3)))  # but reading gives zeros
    p.grad += 1.0  # and accumulating starts from them
    assert np.array_equal(p.grad, np.ones((2, 3)))


def test_accumulate_grad_overwrites_after_zero_grad_and_adds_otherwise() -> None:
    p = Parameter(np.zeros(3))
    a, b = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    p.grad += 100.0
    p.zero_grad()
    p.accumulate_grad(np.add, a, b)  # straight into the buffer: 11, 22, 33
    p.accumulate_grad(np.add, a, a)  # then added: + 2, 4, 6
    assert np.array_equal(p.grad, [13.0, 26.0, 39.0])


class AddWeightSum(Layer):
    """y = x + sum(w) for a shared w: its backward uses ``+=``, as a user's layer would."""

    def __init__(self, w: Parameter) -> None:
        super().__init__()
        self.w = w

    def forward(self, x: FloatArray) -> FloatArray:
        return x + self.w.data.sum()

    def backward(self, grad_y: FloatArray) -> FloatArray:
        self.w.grad += grad_y.sum()
        return grad_y


def test_tied_weights_sum_whichever_layer_writes_first() -> None:
    """A Dense (writing with out= after zero_grad) and a user's layer (+=) sharing one
    weight W: both contributions must add up, whichever backward runs first."""
    rng = np.random.default_rng(0)
    x, ones = rng.standard_normal((4, 3)), np.ones((4, 3))
    for user_first in (True, False):
        dense = Dense(3, 3, seed=1, dtype=np.float64)
        w = dense.weight.data
        user = AddWeightSum(dense.weight)
        model = Sequential(user, dense) if user_first else Sequential(dense, user)
        model.zero_grad()
        model.forward(x)
        model.backward(ones)  # dL/dy = 1 everywhere
        if user_first:  # y = (x + sum W) @ W + b: Dense's backward runs first
            h = x + w.sum()
            expected = h.T @ ones + (ones @ w.T).sum()
        else:  # y = x @ W + b + sum W: the user's backward runs first
            expected = x.T @ ones + ones.sum()
        np.testing.assert_allclose(dense.weight.grad, expected, rtol=1e-12)


def test_a_parameter_no_backward_reached_steps_with_a_zero_gradient() -> None:
    used, unused = Dense(2, 2, seed=0), Dense(2, 2, seed=1)
    opt = SGD([*used.parameters(), *unused.parameters()], lr=0.5)
    for p in unused.parameters():
        p.grad += 7.0  # stale values from before zero_grad
    before = [p.data.copy() for p in unused.parameters()]
    opt.zero_grad()
    loss = CrossEntropyLoss()
    loss.forward(used(np.ones((3, 2), np.float32)), np.array([0, 1, 1]))
    used.backward(loss.backward())
    opt.step()
    after = [p.data for p in unused.parameters()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
