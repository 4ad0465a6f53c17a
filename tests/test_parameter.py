"""Parameter: one owner for its memory; the one gradient idiom trains right everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet import CrossEntropyLoss, Dense, Layer, MSELoss, Parameter, Sequential
from tinynet.blocks import pack
from tinynet.optim import SGD, Adam
from tinynet.typing import FloatArray

# --- assignment copies in; arrays keep their identity ----------------------------------


def test_assigning_data_or_grad_copies_into_the_same_arrays() -> None:
    p = Parameter(np.zeros((2, 3)))
    data, grad = p.data, p.grad
    p.data = np.arange(6.0).reshape(2, 3)
    p.grad = np.ones((2, 3))
    p.grad += 1.0  # reads grad, adds in place, assigns the same array back
    assert p.data is data
    assert p.grad is grad
    np.testing.assert_array_equal(data, np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(grad, np.full((2, 3), 2.0))


def test_assigning_values_of_another_shape_is_a_clear_error() -> None:
    p = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=r"Parameter\.data: expected values of shape \(3,\)"):
        p.data = np.zeros(4)


def test_copies_of_a_packed_parameter_own_their_arrays() -> None:
    import copy
    import pickle

    p = Parameter(np.ones(3))
    SGD([p], lr=0.1)
    for clone in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert clone.block is None
        clone.data = np.full(3, 5.0)
        np.testing.assert_array_equal(p.data, np.ones(3))


# --- packing: once, by the first optimizer ------------------------------------------------


def small_model(dtype: object = np.float64) -> Sequential:
    return Sequential(Dense(3, 4, seed=0), Scale(4), Dense(4, 2, seed=1)).astype(dtype)


def test_the_first_optimizer_packs_the_parameters_into_one_block_keeping_values() -> None:
    model = small_model()
    before = [p.data.copy() for p in model.parameters()]
    opt = Adam(model.parameters())
    (span,) = opt.spans
    block = span.block
    assert span.size == block.size == sum(v.size for v in before)
    for p, values in zip(model.parameters(), before, strict=True):
        assert p.block is block
        assert np.shares_memory(p.data, block.data)
        assert np.shares_memory(p.grad, block.grad)
        np.testing.assert_array_equal(p.data, values)


def test_a_parameter_is_moved_once_a_second_optimizer_updates_it_in_place() -> None:
    model = small_model()
    Adam(model.parameters())
    arrays = [(p.data, p.grad) for p in model.parameters()]
    last = SGD(model[2].parameters(), lr=0.1)  # a subset of a packed block
    assert [(p.data, p.grad) for p in model.parameters()] == arrays  # nothing moved
    (span,) = last.spans  # the last layer's weight and bias: one run of the shared block
    assert span.params == (model[2].weight, model[2].bias)
    assert span.stop == span.block.size
    model[2].weight.grad[...] = 1.0
    before = model[2].weight.data.copy()
    last.step()
    np.testing.assert_allclose(model[2].weight.data, before - 0.1)


def test_astype_of_part_of_a_packed_block_is_refused() -> None:
    model = small_model()
    Adam(model.parameters())
    with pytest.raises(ValueError, match=r"share an optimizer's block with 3 others"):
        model[0].astype(np.float32)


def test_pack_keeps_parameters_of_each_dtype_together() -> None:
    a, b, c = (Parameter(np.ones(2, dtype)) for dtype in (np.float32, np.float64, np.float32))
    spans = pack([a, b, c])
    assert [s.params for s in spans] == [(a, c), (b,)]
    assert a.block is c.block is not b.block


# --- the custom layer written the documented way ----------------------------------------


class Scale(Layer):
    """y = x * scale, one factor per feature: the layer of docs/custom_layers.md."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.scale = Parameter(np.linspace(0.5, 1.5, features, dtype=np.float32))
        self._x: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self._x = x if self.training else None
        return x * self.scale.data

    def backward(self, grad_y: FloatArray) -> FloatArray:
        x = self.saved(self._x)
        self.scale.grad += (grad_y * x).sum(axis=0)  # the one documented idiom
        return grad_y * self.scale.data


def hand_trained(
    x: FloatArray, t: FloatArray, weights: list[FloatArray], lrs: tuple[float, float], steps: int
) -> list[FloatArray]:
    """Dense -> Scale under MSE, SGD by hand: ``lrs`` for (the Dense, the Scale)."""
    w, b, s = (a.astype(np.float64) for a in weights)
    for _ in range(steps):
        h = x @ w + b
        y = h * s
        dy = 2 * (y - t) / y.size
        ds, dh = (dy * h).sum(axis=0), dy * s
        dw, db = x.T @ dh, dh.sum(axis=0)
        w, b, s = w - lrs[0] * dw, b - lrs[0] * db, s - lrs[1] * ds
    return [w, b, s]


def train(
    model: Sequential, optimizers: list[SGD], x: FloatArray, t: FloatArray, steps: int
) -> None:
    loss = MSELoss()
    for _ in range(steps):
        for opt in optimizers:
            opt.zero_grad()
        loss.forward(model(x), t)
        model.backward(loss.backward())
        for opt in optimizers:
            opt.step()


@pytest.mark.parametrize("when", ["astype first", "optimizer first"])
def test_a_custom_layer_trains_correctly_after_astype_with_two_optimizers(when: str) -> None:
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((8, 3)), rng.standard_normal((8, 4))
    model = Sequential(Dense(3, 4, seed=0), Scale(4))  # float32
    start = [p.data.copy() for p in model.parameters()]
    if when == "astype first":
        model.astype(np.float64)
    dense_opt = SGD(model[0].parameters(), lr=0.1)  # two optimizers, disjoint sets
    scale_opt = SGD(model[1].parameters(), lr=0.05)
    if when == "optimizer first":
        model.astype(np.float64)  # the optimizers follow their parameters
    train(model, [dense_opt, scale_opt], x, t, steps=5)
    expected = hand_trained(x, t, start, (0.1, 0.05), steps=5)
    for p, want in zip(model.parameters(), expected, strict=True):
        assert p.dtype == np.float64
        np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-14)


def test_a_custom_layer_trains_with_one_optimizer_in_float32() -> None:
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((8, 3)).astype(np.float32), rng.standard_normal((8, 4))
    model = Sequential(Dense(3, 4, seed=0), Scale(4))
    start = [p.data.copy() for p in model.parameters()]
    opt = SGD(model.parameters(), lr=0.1)
    train(model, [opt], x, t.astype(np.float32), steps=5)
    expected = hand_trained(x, t, start, (0.1, 0.1), steps=5)
    for p, want in zip(model.parameters(), expected, strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.data, want, rtol=1e-4, atol=1e-6)


def test_casting_after_steps_carries_the_optimizer_state_over() -> None:
    """astype between steps is the same as saving the state and rebuilding in float64."""
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((8, 3)), rng.standard_normal((8, 4))
    runs = []
    for rebuild in (False, True):
        model = Sequential(Dense(3, 4, seed=0), Scale(4))
        opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
        train(model, [opt], x.astype(np.float32), t.astype(np.float32), steps=2)
        model.astype(np.float64)
        if rebuild:
            saved = opt.state_dict()
            opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
            opt.load_state_dict(saved)
        train(model, [opt], x, t, steps=3)
        assert all(b.dtype == np.float64 for state in opt.state for b in state.values())
        runs.append([p.data.copy() for p in model.parameters()])
    for a, b in zip(*runs, strict=True):
        np.testing.assert_array_equal(a, b)


# --- gradients accumulate ----------------------------------------------------------------


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
    """A Dense and a user's layer sharing one weight W: both contributions must add up,
    whichever backward runs first."""
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
