"""Careless calls that used to give a silent wrong answer or an internal message (issue
12, phase 2; ``shared/repro`` 14, 15, 16, 20, 23): each is now refused by name, or gives
the right answer. Also the rules this settled: one backward per forward, where float64
input is converted, in-place layers never write the caller's array."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinynet
from tinynet import (
    BatchNorm1d,
    Dense,
    Dropout,
    Flatten,
    Layer,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from tinynet.containers import Parallel, Residual
from tinynet.heads import Head
from tinynet.images import predict_images
from tinynet.inference import evaluate, forward_in_batches, predict, predict_proba
from tinynet.losses import CrossEntropyLoss
from tinynet.optim import SGD, Adam
from tinynet.train import fit

RNG = np.random.default_rng(0)
X = RNG.random((50, 6), np.float32)
Y = RNG.integers(0, 4, 50)


def model() -> Sequential:
    """A 4-class classifier, its head recorded as fit records it."""
    net = Sequential(Dense(6, 5, seed=0), ReLU(), Dense(5, 4, seed=1))
    net.head = Head("multiclass", "softmax", 4)
    return net


# --- 14: evaluate checks y -------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "error", "message"),
    [
        (np.array([3]), ValueError, r"one target per sample, 50 of them; got y of shape \(1,\)"),
        (np.zeros(60, np.int64), ValueError, r"50 of them; got y of shape \(60,\)"),
        (np.full(50, 99), ValueError, r"labels must lie in \[0, 4\), got 99 \(50 of 50"),
        (np.full(50, -1), ValueError, r"labels must lie in \[0, 4\), got -1"),
        (Y.astype(np.float32), TypeError, "expected integer class labels, got dtype float32"),
        (np.zeros((50, 3)), ValueError, r"for outputs of shape \(50, 4\), expected y as integer"),
        (list(Y), TypeError, "expected y to be a numpy array, got list"),
    ],
)
def test_evaluate_without_a_loss_refuses_targets_that_are_no_labels(
    y: Any, error: type[Exception], message: str
) -> None:
    """repro 14: these broadcast into a wrong accuracy or silently dropped it."""
    with pytest.raises(error, match=f"evaluate: .*{message}"):
        evaluate(model(), X, y)


def test_evaluate_takes_labels_or_one_hot_rows() -> None:
    m = model()
    labels = evaluate(m, X, Y)["accuracy"]
    expected = float(np.mean(predict(m, X) == Y))
    assert labels == pytest.approx(expected)
    assert evaluate(m, X, np.eye(4)[Y])["accuracy"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="evaluate: expected one target per sample"):
        evaluate(m, X, Y[:10], loss=CrossEntropyLoss())  # with a loss too


# --- 15: batch_size --------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "8", None])
@pytest.mark.parametrize(
    "call",
    [
        lambda bs: predict(model(), X, batch_size=bs),
        lambda bs: predict_proba(model(), X, batch_size=bs),
        lambda bs: evaluate(model(), X, Y, batch_size=bs),
        lambda bs: forward_in_batches(model(), X, bs),
    ],
)
def test_a_batch_size_that_is_no_positive_integer_is_refused(
    call: Callable[[object], object], batch_size: object
) -> None:
    """repro 15: 'range() arg 3 must not be zero', 'need at least one array'."""
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got"):
        call(batch_size)


# --- 16, 23: fit's arguments -----------------------------------------------------------


def test_fit_refuses_an_optimizer_over_another_models_parameters() -> None:
    """repro 16: it 'trained' three epochs and changed nothing."""
    m = model()
    with pytest.raises(ValueError, match="fit: 4 of the optimizer's 4 parameters are not this"):
        fit(m, X, Y, loss=CrossEntropyLoss(), optimizer=Adam(model().parameters()), verbose=0)
    mixed = [*m.parameters()[:2], *model().parameters()[2:]]
    with pytest.raises(ValueError, match="fit: 2 of the optimizer's 4 parameters"):
        fit(m, X, Y, loss=CrossEntropyLoss(), optimizer=SGD(mixed), verbose=0)


def test_fit_trains_an_optimizer_over_part_of_the_model_the_rest_frozen() -> None:
    m = model()
    frozen = m[0].weight.data.copy()  # type: ignore[attr-defined]
    last = m[2].parameters()
    fit(m, X, Y, loss=CrossEntropyLoss(), optimizer=SGD(last, lr=0.1), epochs=1, verbose=0)
    assert np.array_equal(m[0].weight.data, frozen)  # type: ignore[attr-defined]
    assert not np.array_equal(last[0].data, model()[2].weight.data)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"initial_epoch": -3}, r"initial_epoch must be an integer in \[0, epochs=2\], got -3"),
        ({"initial_epoch": 3}, r"initial_epoch must be an integer in \[0, epochs=2\], got 3"),
        ({"initial_epoch": 1.0}, "initial_epoch must be an integer"),
        ({"seed": -1}, "seed must be None or an integer >= 0, got -1"),
        ({"seed": 1.5}, "seed must be None or an integer >= 0"),
        (
            {"validation_data": (X, Y, None)},
            r"validation_data must be a pair \(x_val, y_val\), got",
        ),
        ({"validation_data": X}, "validation_data must be a pair"),
        ({"optimizer": "adam"}, "expected a tinynet Optimizer, got str"),
    ],
)
def test_fit_refuses_its_arguments_by_name(arguments: dict[str, Any], message: str) -> None:
    """repro 16 (initial_epoch -3 ran epochs -3..0) and 23 (numpy's 'expected
    non-negative integer', 'too many values to unpack')."""
    m = model()
    kwargs: dict[str, Any] = {"optimizer": Adam(m.parameters()), "epochs": 2, **arguments}
    with pytest.raises((ValueError, TypeError), match=f"fit: {message}"):
        fit(m, X, Y, loss=CrossEntropyLoss(), verbose=0, **kwargs)


def test_minor_argument_messages_say_what_is_wrong(tmp_path: Path) -> None:
    """repro 23."""
    with pytest.raises(ValueError, match=r"label_smoothing must be .*got '0.1' \(a str\)"):
        CrossEntropyLoss(label_smoothing="0.1")  # type: ignore[arg-type]
    image = tmp_path / "d.pgm"
    image.write_bytes(b"P5\n28 28\n255\n" + bytes(784))
    digits = Sequential(Dense(784, 10, seed=0))
    with pytest.raises(TypeError, match=r"expected a list of image paths, got one path .*\[path\]"):
        predict_images(digits, str(image))
    assert len(predict_images(digits, [image], loss="cross_entropy")) == 1


# --- one backward per forward ----------------------------------------------------------


class Plain(Layer):
    """A custom layer that keeps its input and never clears it (as many will)."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = tinynet.Parameter(np.ones(4, np.float32))
        self._x: Any = None

    def forward(self, x: Any) -> Any:
        self._x = x if self.training else None
        return x * self.scale.data

    def backward(self, grad_y: Any) -> Any:
        self.scale.grad += (grad_y * self.saved(self._x)).sum(axis=0)
        return grad_y * self.scale.data


@pytest.mark.parametrize(
    "make",
    [
        lambda: Dense(4, 4, seed=0),
        lambda: ReLU(),
        lambda: Sigmoid(),
        lambda: Flatten(),
        lambda: Dropout(0.5, seed=0),
        lambda: BatchNorm1d(4),
        lambda: Parallel(Dense(4, 2, seed=0), Tanh()),
        lambda: Residual(Dense(4, 4, seed=0)),
        lambda: Sequential(Dense(4, 4, seed=0), ReLU(inplace=True), Dense(4, 4, seed=1)),
        lambda: Sequential(Plain()),  # the Sequential itself counts its forwards
    ],
)
def test_a_second_backward_after_one_forward_raises_instead_of_doubling(
    make: Callable[[], Layer],
) -> None:
    layer = make()
    x = RNG.random((3, 4), np.float32)
    y = layer(x)
    layer.backward(np.ones_like(y))
    grads = [p.grad.copy() for p in layer.parameters()]
    with pytest.raises(RuntimeError, match="each forward serves one backward"):
        layer.backward(np.ones_like(y))
    assert all(np.array_equal(g, p.grad) for g, p in zip(grads, layer.parameters(), strict=True))
    layer(x)  # a new forward allows a new backward, whose gradients add up
    layer.backward(np.ones_like(y))
    for g, p in zip(grads, layer.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, 2 * g, rtol=1e-6)


def test_backward_params_consumes_the_forward_too() -> None:
    m = model()
    y = m(X)
    m.backward_params(np.ones_like(y))
    with pytest.raises(RuntimeError, match="each forward serves one backward"):
        m.backward(np.ones_like(y))


def test_a_wrong_grad_y_does_not_consume_the_forward() -> None:
    layer = Dense(4, 3, seed=0)
    layer(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="grad_y"):
        layer.backward(np.ones((2, 2), np.float32))
    layer.backward(np.ones((2, 3), np.float32))  # the right one still works


# --- the float64 rule -------------------------------------------------------------------


def test_float64_is_an_error_for_a_layer_and_converted_once_by_the_loops() -> None:
    """The rule (README, `as_model_input`): a layer never casts (PyTorch's rule: the
    mistake is visible where it is made); fit/evaluate/predict take a dataset and
    convert float input once to the model's dtype (Keras's); integers are refused."""
    m = model()
    x64 = X.astype(np.float64)
    with pytest.raises(TypeError, match=r"Dense\(6, 5\): expected input of dtype float32"):
        m(x64)
    assert np.array_equal(predict(m, x64), predict(m, X))
    np.testing.assert_array_equal(predict_proba(m, x64), predict_proba(m, X))
    assert evaluate(m, x64, Y) == evaluate(m, X, Y)
    a, b = model(), model()
    fit(a, x64, Y, loss=CrossEntropyLoss(), optimizer=Adam(a.parameters()), seed=0, verbose=0)
    fit(b, X, Y, loss=CrossEntropyLoss(), optimizer=Adam(b.parameters()), seed=0, verbose=0)
    assert all(
        np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )
    assert a.dtype == np.float32
    with pytest.raises(TypeError, match="expected float inputs, got dtype int64"):
        predict(m, (X * 255).astype(np.int64))


# --- 20: in-place layers never write the caller's array -------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: Sequential(ReLU(inplace=True), Dense(4, 3, seed=0)),
        lambda: Sequential(Flatten(), ReLU(inplace=True), Dense(4, 3, seed=0)),
        lambda: Sequential(Dropout(0.5, seed=0), ReLU(inplace=True), Dense(4, 3, seed=0)),
        lambda: Sequential(Sequential(Flatten(), ReLU(inplace=True)), Dense(4, 3, seed=0)),
        lambda: Residual(Sequential(ReLU(inplace=True), Dense(4, 4, seed=0))),
        lambda: Parallel(ReLU(inplace=True), mode="sum"),  # these two write their input
        lambda: ReLU(inplace=True),  # called directly (what they are for); predict copies
    ],
)
def test_predict_and_training_never_write_the_callers_input(
    make: Callable[[], Layer], tmp_path: Path
) -> None:
    """repro 20: x [-1, 2, -3, 4] came back as [0, 2, 0, 4]."""
    for loaded in (make(), tinynet.load(_saved(make(), tmp_path))):
        x = np.array([[-1.0, 2.0, -3.0, 4.0], [1.0, -2.0, 3.0, -4.0]], np.float32)
        before = x.copy()
        forward_in_batches(loaded, x)
        assert np.array_equal(x, before)
        if not loaded.inplace:
            loaded.train()
            loaded(x)
            assert np.array_equal(x, before)


def _saved(layer: Layer, folder: Path) -> Path:
    path = folder / "m.npz"
    tinynet.save(layer, path)
    return path


LAYERS: dict[str, Callable[[], Layer]] = {
    "dense": lambda: Dense(4, 4, seed=3),
    "relu": ReLU,
    "relu_inplace": lambda: ReLU(inplace=True),
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "flatten": Flatten,
    "dropout": lambda: Dropout(0.0),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(LAYERS)), min_size=1, max_size=5), st.booleans())
def test_in_place_layers_are_refused_or_exact(names: list[str], nest: bool) -> None:
    """Any chain of these layers is either refused at construction or computes what the
    same chain without in-place layers computes, gradients included, and never changes
    the caller's input."""

    def build(inplace: bool) -> Sequential:
        layers = [LAYERS[n]() if inplace or n != "relu_inplace" else ReLU() for n in names]
        layers = [Dense(4, 4, seed=9), *layers] if "dense" not in names else layers
        return Sequential(Sequential(*layers[:2]), *layers[2:]) if nest else Sequential(*layers)

    try:
        model = build(True)
    except ValueError as error:
        refused = str(error)
        assert "would overwrite the output" in refused, refused
        return
    reference = build(False).astype(np.float64)
    model.astype(np.float64)
    x = np.random.default_rng(1).standard_normal((3, 4))
    before = x.copy()
    g = np.random.default_rng(2).standard_normal((3, 4))
    np.testing.assert_allclose(model(x), reference(x))
    assert np.array_equal(x, before)
    np.testing.assert_allclose(model.backward(g), reference.backward(g))
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, q.grad)
