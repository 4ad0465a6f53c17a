"""Bad input gets a clear error naming the layer, the expected and the received shape/dtype."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinynet import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Loss,
    MSELoss,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    init,
)
from tinynet.optim import SGD, Adam, AdamW, RMSProp, SequentialLR, StepLR

ALL_LAYERS: list[Callable[[], Layer]] = [
    lambda: Dense(4, 3, seed=0),
    ReLU,
    LeakyReLU,
    Sigmoid,
    Tanh,
    Softmax,
    lambda: Dropout(0.5, seed=0),
    Flatten,
]
WITH_SEQUENTIAL = [*ALL_LAYERS, lambda: Sequential(Dense(4, 3, seed=0), ReLU())]


def escaped(*parts: str) -> str:
    """A pattern matching the parts in order, anything between them."""
    return ".*".join(re.escape(p) for p in parts)


# --- shapes and dtypes of inputs ------------------------------------------------------


def test_dense_names_the_expected_and_received_shape() -> None:
    layer = Dense(784, 128, seed=0)
    with pytest.raises(ValueError, match=escaped("Dense(784, 128)", "(N, ..., 784)", "(32, 783)")):
        layer(np.zeros((32, 783), np.float32))
    with pytest.raises(ValueError, match=escaped("Dense(784, 128)", "(N, ..., 784)", "(784,)")):
        layer(np.zeros(784, np.float32))  # a single sample without its batch axis


def test_a_shape_error_deep_in_a_model_names_the_layer_that_failed() -> None:
    model = Sequential(Dense(784, 128, seed=0), ReLU(), Dense(64, 10, seed=1))
    with pytest.raises(ValueError, match=escaped("Dense(64, 10)", "(N, ..., 64)", "(5, 128)")):
        model(np.zeros((5, 784), np.float32))


def test_float64_into_a_float32_layer() -> None:
    with pytest.raises(TypeError, match=escaped("Dense(4, 3)", "float32", "float64")):
        Dense(4, 3, seed=0)(np.zeros((2, 4)))
    with pytest.raises(TypeError, match=escaped("Dense(4, 3)", "float64", "float32")):
        Dense(4, 3, seed=0, dtype=np.float64)(np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_integer_input_is_refused_by_every_layer(make: Callable[[], Layer]) -> None:
    layer = make()
    name = re.escape(repr(layer).split("\n")[0])
    with pytest.raises(TypeError, match=f"{name}.*float.*got dtype int64"):
        layer(np.zeros((2, 4), np.int64))


def test_a_model_names_the_inner_layer_that_refused() -> None:
    model = Sequential(Dense(4, 3, seed=0), Sequential(ReLU()))
    with pytest.raises(TypeError, match=escaped("Dense(4, 3)", "got dtype int64")):
        model(np.zeros((2, 4), np.int64))
    model(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=escaped("ReLU()", "(2, 3)", "(2, 4)")):
        model.backward(np.zeros((2, 4), np.float32))


@pytest.mark.parametrize("make", WITH_SEQUENTIAL)
def test_a_list_is_refused_by_every_layer(make: Callable[[], Layer]) -> None:
    with pytest.raises(TypeError, match=r"numpy array.*, got a list"):
        make()([[1.0, 2.0, 3.0, 4.0]])


# --- labels and targets ---------------------------------------------------------------


def logits() -> np.ndarray:
    return np.zeros((4, 10))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.array([0, 1, -1, 2]), r"CrossEntropyLoss.*\[0, 10\), got -1"),
        (np.array([0, 1, 10, 2]), r"CrossEntropyLoss.*\[0, 10\), got 10"),
        (np.array([0, 99, 10, -3]), r"\[0, 10\), got 99 \(3 of 4 out of range\)"),
        (np.array([0, 1, 2]), r"CrossEntropyLoss.*labels of shape \(4,\), got shape \(3,\)"),
        (np.zeros((4, 1), np.int64), r"labels of shape \(4,\), got shape \(4, 1\)"),
    ],
)
def test_bad_labels_raise_value_error(labels: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CrossEntropyLoss().forward(logits(), labels)


def test_float_or_non_array_labels_raise_type_error() -> None:
    with pytest.raises(TypeError, match=r"CrossEntropyLoss.*integer class labels.*float64"):
        CrossEntropyLoss().forward(logits(), np.array([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="integer numpy array, got a list"):
        CrossEntropyLoss().forward(logits(), [0, 1, 2, 3])


def test_cross_entropy_wants_two_dimensional_float_logits() -> None:
    with pytest.raises(ValueError, match=r"logits of shape \(N, D1\), got shape \(10,\)"):
        CrossEntropyLoss().forward(np.zeros(10), np.array([1]))
    with pytest.raises(TypeError, match=r"float logits.*int64"):
        CrossEntropyLoss().forward(np.zeros((2, 3), np.int64), np.array([1, 2]))


@pytest.mark.parametrize("loss_type", [MSELoss, BCEWithLogitsLoss])
def test_elementwise_losses_want_a_target_of_the_prediction_shape(loss_type: type[Loss]) -> None:
    pattern = escaped(loss_type.__name__, "(4, 10)", "(4,)")
    with pytest.raises(ValueError, match=pattern):
        loss_type().forward(np.zeros((4, 10)), np.zeros(4))
    with pytest.raises(ValueError, match=escaped("(4, 10)", "got a list")):
        loss_type().forward(np.zeros((4, 10)), [0.0] * 4)
    with pytest.raises(TypeError, match="numeric target"):
        loss_type().forward(np.zeros(2), np.array(["a", "b"]))


# --- backward out of order ------------------------------------------------------------


@pytest.mark.parametrize("make", WITH_SEQUENTIAL)
def test_backward_before_forward(make: Callable[[], Layer]) -> None:
    layer = make()
    with pytest.raises(
        RuntimeError, match=escaped("backward() needs a forward() in training mode")
    ):
        layer.backward(np.zeros((2, 3), np.float32))


@pytest.mark.parametrize("make", WITH_SEQUENTIAL)
def test_backward_after_an_eval_mode_forward(make: Callable[[], Layer]) -> None:
    layer = make()
    x = np.ones((2, 4), np.float32)
    y = layer(x)  # a training forward first: its cache must not survive the eval forward
    layer.eval()
    layer(x)
    with pytest.raises(RuntimeError, match=r"training mode first \(training=False\)"):
        layer.backward(np.ones_like(y))


@pytest.mark.parametrize("loss", [CrossEntropyLoss(), MSELoss(), BCEWithLogitsLoss()])
def test_loss_backward_needs_a_fresh_forward(loss: Loss) -> None:
    with pytest.raises(RuntimeError, match="needs a forward"):
        loss.backward()
    target = np.array([0, 1]) if isinstance(loss, CrossEntropyLoss) else np.zeros((2, 3))
    loss.forward(np.zeros((2, 3)), target)
    loss.backward()
    with pytest.raises(RuntimeError, match="needs a forward"):
        loss.backward()  # the cache was consumed


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_a_gradient_of_the_wrong_shape(make: Callable[[], Layer]) -> None:
    layer = make()
    y = layer(np.ones((2, 4), np.float32))
    wrong = np.ones((y.shape[0] + 1, *y.shape[1:]), np.float32)
    name = re.escape(repr(layer).split("\n")[0])
    expected, received = re.escape(str(y.shape)), re.escape(str(wrong.shape))
    with pytest.raises(ValueError, match=f"{name}.*grad_y of shape {expected}, got.*{received}"):
        layer.backward(wrong)


@pytest.mark.parametrize("make", ALL_LAYERS)
def test_a_gradient_of_the_wrong_dtype(make: Callable[[], Layer]) -> None:
    """backward returns dLoss/dx in x's dtype (the Layer contract): a float64 gradient
    into a float32 layer is refused, as a float64 batch is, not silently upcast."""
    layer = make()
    y = layer(np.ones((2, 4), np.float32))
    name = re.escape(repr(layer))
    with pytest.raises(TypeError, match=f"{name}.*grad_y of dtype float32, got float64"):
        layer.backward(np.ones(y.shape))


# --- construction ---------------------------------------------------------------------


def test_sequential_wants_layers() -> None:
    with pytest.raises(TypeError, match="argument 1 must be a Layer, got function"):
        Sequential(Dense(2, 2, seed=0), lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a Layer, got int"):
        Sequential().append(3)  # type: ignore[arg-type]


def test_layer_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="in_features must be a positive integer, got 0"):
        Dense(0, 3)
    with pytest.raises(ValueError, match=r"out_features must be a positive integer, got 2\.5"):
        Dense(3, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\), got 1"):
        Dropout(1)
    with pytest.raises(ValueError, match="either rng or seed"):
        Dense(2, 2, rng=np.random.default_rng(0), seed=0)
    with pytest.raises(
        ValueError, match=r"label_smoothing must be a finite number in \[0, 1\], got 1.5"
    ):
        CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction must be one of"):
        MSELoss("average")


def params() -> list[Parameter]:
    return [Parameter(np.zeros(3)), Parameter(np.zeros((2, 2)))]


@pytest.mark.parametrize("opt_type", [SGD, Adam, AdamW, RMSProp])
def test_optimizers_check_their_parameters(opt_type: Any) -> None:
    with pytest.raises(ValueError, match=f"{opt_type.__name__}: got an empty parameter list"):
        opt_type([])
    p = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="a parameter appears more than once"):
        opt_type([p, Parameter(np.zeros(1)), p])
    with pytest.raises(TypeError, match=r"expected Parameters.*got ndarray at position 1"):
        opt_type([p, np.zeros(3)])
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -0\.1"):
        opt_type(params(), lr=-0.1)
    with pytest.raises(ValueError, match="lr must be a finite number >= 0, got nan"):
        opt_type(params(), lr=float("nan"))


def test_a_model_passed_instead_of_its_parameters() -> None:
    model = Sequential(Dense(2, 2, seed=0))
    with pytest.raises(TypeError, match="expected Parameters"):
        SGD(model, lr=0.1)  # type: ignore[arg-type]


@pytest.mark.parametrize("betas", [(0.9, 1.0), (-0.1, 0.999), (0.9,), (0.9, 0.99, 0.9)])
def test_adam_rejects_bad_betas(betas: Any) -> None:
    for opt_type in (Adam, AdamW):
        with pytest.raises(ValueError, match=r"betas must be two numbers in \[0, 1\)"):
            opt_type(params(), betas=betas)


def test_optimizer_hyperparameters_are_checked() -> None:
    with pytest.raises(ValueError, match="momentum must be"):
        SGD(params(), lr=0.1, momentum=-0.5)
    with pytest.raises(ValueError, match="nesterov needs momentum > 0 and dampening = 0"):
        SGD(params(), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="nesterov needs"):
        SGD(params(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="weight_decay must be"):
        Adam(params(), weight_decay=-1)
    with pytest.raises(ValueError, match="eps must be"):
        Adam(params(), eps=-1e-8)
    with pytest.raises(ValueError, match=r"alpha must be a finite number in \[0, 1\], got 1.5"):
        RMSProp(params(), alpha=1.5)


def test_schedules_check_their_arguments() -> None:
    opt = SGD(params(), lr=0.1)
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer"):
        StepLR("sgd", step_size=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_size must be a positive integer, got 0"):
        StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="one fewer than schedulers"):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(opt, 3)], milestones=[])
    other = SGD(params(), lr=0.1)
    with pytest.raises(ValueError, match="must drive the same optimizer"):
        SequentialLR(opt, [StepLR(opt, 2), StepLR(other, 3)], milestones=[4])


def test_parameter_wants_a_float_array() -> None:
    with pytest.raises(TypeError, match="float numpy array, got int64"):
        Parameter(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="float numpy array, got list"):
        Parameter([1.0])  # type: ignore[arg-type]


def test_unknown_initializer_lists_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match=r"unknown initializer 'kaiming'; expected one of.*he_normal"
    ):
        Dense(2, 2, init="kaiming")
    with pytest.raises(ValueError, match="unknown initializer"):
        init.get("xavier")
