"""Sequential: backward_params, container protocol, names, summary, modes, astype, learning."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from helpers import ReseededDropout

from tinynet import (
    CrossEntropyLoss,
    Dense,
    Dropout,
    Flatten,
    Layer,
    Parameter,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    gradcheck,
)
from tinynet.optim import SGD
from tinynet.typing import FloatArray


def mnist_net(seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(
        Dense(784, 128, rng=rng), ReLU(), Dense(128, 64, rng=rng), ReLU(), Dense(64, 10, rng=rng)
    )


# --- backward_params ------------------------------------------------------------------


class MatmulCounter(np.ndarray):
    """An ndarray that counts the matrix products it takes part in."""

    count: ClassVar[int] = 0

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if ufunc is np.matmul:
            MatmulCounter.count += 1
        plain = [x.view(np.ndarray) if isinstance(x, MatmulCounter) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(
                o.view(np.ndarray) if isinstance(o, MatmulCounter) else o for o in kwargs["out"]
            )
        return getattr(ufunc, method)(*plain, **kwargs)


def count_weight_products(layer: Dense) -> None:
    layer.weight = Parameter(layer.weight.data.view(MatmulCounter))


@pytest.mark.parametrize("nested", [False, True])
def test_backward_params_gives_the_same_gradients_and_skips_the_input_gradient(
    nested: bool,
) -> None:
    def make() -> Sequential:
        rng = np.random.default_rng(1)
        first = Sequential(Dense(6, 5, rng=rng), Tanh()) if nested else Dense(6, 5, rng=rng)
        return Sequential(first, ReLU(), Dense(5, 3, rng=rng), Softmax())

    x = np.random.default_rng(2).standard_normal((4, 6)).astype(np.float32)
    g = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    full, partial = make(), make()
    full(x)
    full.backward(g)
    first_dense = partial[0][0] if nested else partial[0]
    assert isinstance(first_dense, Dense)
    count_weight_products(first_dense)
    partial(x)
    MatmulCounter.count = 0
    assert partial.backward_params(g) is None
    # The first Dense's weight takes part in no product: grad_x = grad_y @ W.T was skipped
    assert MatmulCounter.count == 0
    for (name, a), (_, b) in zip(full.named_parameters(), partial.named_parameters(), strict=True):
        assert np.array_equal(a.grad, b.grad), name
    # ... while backward does compute it: the counter is a real witness
    partial(x)
    MatmulCounter.count = 0
    partial.backward(g)
    assert MatmulCounter.count == 1


# --- container protocol ---------------------------------------------------------------


def test_indexing_slicing_len_iteration() -> None:
    a, b, c = Dense(2, 3, seed=0), ReLU(), Dense(3, 1, seed=1)
    model = Sequential(a, b, c)
    assert len(model) == 3
    assert list(model) == [a, b, c]
    assert model[0] is a
    assert model[-1] is c
    tail = model[1:]
    assert isinstance(tail, Sequential)
    assert list(tail) == [b, c]  # a new Sequential sharing the layers
    x = np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(tail(a(x)), model(x))
    assert model.append(Sigmoid()) is model
    assert len(model) == 4


def test_nesting_composes() -> None:
    rng = np.random.default_rng(0)
    inner = Sequential(Dense(3, 4, rng=rng), Tanh())
    model = Sequential(Dense(2, 3, rng=rng), inner, Dense(4, 1, rng=rng))
    x = rng.standard_normal((5, 2)).astype(np.float32)
    np.testing.assert_array_equal(model(x), model[2](inner[1](inner[0](model[0](x)))))
    assert len(model.parameters()) == 6


def test_named_parameters_are_named_by_position() -> None:
    model = Sequential(
        Dense(2, 3, seed=0),
        Sequential(Dense(3, 3, seed=1), ReLU(), Dense(3, 1, bias=False, seed=2)),
    )
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.0.weight", "1.0.bias", "1.2.weight"]
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes["1.2.weight"] == (3, 1)


def test_tied_weights_are_one_set_of_parameters_with_summed_gradients() -> None:
    first = Dense(3, 3, seed=0, dtype=np.float64)
    second = Dense(3, 3, seed=1, dtype=np.float64)
    second.weight, second.bias = first.weight, first.bias  # weight tying
    model = Sequential(first, Tanh(), second)
    assert model.parameters() == [first.weight, first.bias]  # each once, in order
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert model.num_parameters() == 12
    # the gradient of a tied weight is the sum over both uses: finite differences agree
    assert gradcheck(model, np.random.default_rng(0).standard_normal((2, 3))) < 1e-6
    assert len(SGD(model.parameters(), lr=0.1).spans[0].params) == 2


def test_one_layer_instance_in_two_places_is_rejected() -> None:
    """A layer caches its last forward's input, so a second use would corrupt the
    first use's gradient; Sequential refuses rather than compute it wrong."""
    shared = Dense(3, 3, seed=0)
    with pytest.raises(ValueError, match=r"Dense\(3, 3\) appears more than once"):
        Sequential(shared, Tanh(), shared)
    relu = ReLU()
    with pytest.raises(ValueError, match=r"ReLU\(\) appears more than once"):
        Sequential(Dense(3, 3, seed=0), relu, Sequential(Dense(3, 3, seed=1), relu))
    model = Sequential(shared)
    with pytest.raises(ValueError, match="more than once"):
        model.append(shared)
    with pytest.raises(ValueError, match="more than once"):
        model.append(model)
    assert len(model) == 1  # a rejected append adds nothing


def test_parameters_keep_a_stable_order() -> None:
    model = mnist_net()
    order = [id(p) for p in model.parameters()]
    assert order == [id(p) for p in model.parameters()]
    assert [p.shape for p in model.parameters()] == [
        (784, 128),
        (128,),
        (128, 64),
        (64,),
        (64, 10),
        (10,),
    ]


# --- summary --------------------------------------------------------------------------


def test_summary_of_the_mnist_net(capsys: pytest.CaptureFixture[str]) -> None:
    model = mnist_net()
    text = model.summary()
    assert capsys.readouterr().out.strip() == text.strip()  # printed by default
    lines = text.splitlines()
    rows = {
        "Dense(784, 128)": ("(None, 128)", "100,480"),  # 784 * 128 + 128
        "Dense(128, 64)": ("(None, 64)", "8,256"),  # 128 * 64 + 64
        "Dense(64, 10)": ("(None, 10)", "650"),  # 64 * 10 + 10
    }
    for layer, (shape, count) in rows.items():
        line = next(line for line in lines if layer in line)
        assert shape in line
        assert line.rstrip().endswith(count)
    assert sum("ReLU()" in line for line in lines) == 2
    assert lines[-1] == "Total params: 109,386"
    assert model.num_parameters() == 109_386


def test_summary_leaves_modes_and_random_state_alone(capsys: pytest.CaptureFixture[str]) -> None:
    dropout = Dropout(0.5, seed=0)
    model = Sequential(Flatten(), Dense(12, 4, seed=0), dropout, Sequential(Dense(4, 2, seed=1)))
    model[3].eval()
    state = dropout.rng.bit_generator.state
    text = model.summary(input_shape=(3, 4), print_fn=None)
    assert capsys.readouterr().out == ""
    assert "(None, 12)" in text
    assert "(None, 2)" in text
    assert dropout.rng.bit_generator.state == state  # no mask drawn
    assert [m.training for m in model.modules()] == [True, True, True, True, False, False]


def test_summary_between_forward_and_backward_changes_nothing() -> None:
    x = np.random.default_rng(0).standard_normal((3, 784)).astype(np.float32)
    g = np.random.default_rng(1).standard_normal((3, 10)).astype(np.float32)
    plain, summarized = mnist_net(), mnist_net()
    plain(x)
    grad_plain = plain.backward(g)
    summarized(x)
    summarized.summary(print_fn=None)  # must not drop what backward needs
    assert np.array_equal(summarized.backward(g), grad_plain)
    for a, b in zip(plain.parameters(), summarized.parameters(), strict=True):
        assert np.array_equal(a.grad, b.grad)


def test_summary_print_fn_receives_the_table() -> None:
    received: list[str] = []
    text = mnist_net().summary(print_fn=received.append)
    assert received == [text]


# --- modes and dtype ------------------------------------------------------------------


def test_train_and_eval_propagate_to_every_nested_layer() -> None:
    model = Sequential(Dense(2, 2, seed=0), Sequential(Dropout(0.5, seed=0), Sequential(ReLU())))
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = np.ones((3, 2), np.float32)
    np.testing.assert_array_equal(model(x), model(x))  # dropout off: deterministic
    model.train()
    assert all(m.training for m in model.modules())
    assert len(list(model.modules())) == 6


class RunningMean(Layer):
    """A layer with a buffer: the running mean of its inputs (not trained)."""

    buffer_names = ("running_mean",)

    def __init__(self, features: int) -> None:
        super().__init__()
        self.running_mean = np.zeros(features, np.float32)

    def forward(self, x: FloatArray) -> FloatArray:
        if self.training:
            self.running_mean += 0.1 * (x.mean(axis=0) - self.running_mean)
        return x

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y


def test_astype_casts_parameters_gradients_and_buffers() -> None:
    model = Sequential(Dense(3, 2, seed=0), Sequential(RunningMean(2), Dense(2, 2, seed=1)))
    weights32 = [p.data.copy() for p in model.parameters()]
    assert model.astype(np.float64) is model
    for p, before in zip(model.parameters(), weights32, strict=True):
        assert p.data.dtype == np.float64
        assert p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, before)  # float32 -> float64 is exact
    assert model[1][0].running_mean.dtype == np.float64
    assert [name for name, _ in model.named_buffers()] == ["1.0.running_mean"]
    y = model(np.ones((4, 3)))  # now a float64 batch is accepted
    assert y.dtype == np.float64
    model.astype("float32")
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model[1][0].running_mean.dtype == np.float32


def test_astype_rejects_non_float_dtypes() -> None:
    with pytest.raises(TypeError, match="float dtype, got int32"):
        Dense(2, 2, seed=0).astype(np.int32)


def test_repr_shows_the_structure() -> None:
    model = Sequential(Dense(2, 3, seed=0), Sequential(ReLU(), Dropout(0.25, seed=0)))
    text = repr(model)
    assert "(0): Dense(2, 3)" in text
    assert "(1): Sequential(" in text
    assert "(1): Dropout(p=0.25)" in text


# --- the MNIST-sized net learns -------------------------------------------------------


def clusters(n: int, seed: int) -> tuple[FloatArray, Any]:
    """10 classes, each a Gaussian blob around its own random centre in 784 dimensions."""
    centres = np.random.default_rng(123).standard_normal((10, 784)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    noise = 2.0 * rng.standard_normal((n, 784)).astype(np.float32)
    return 0.1 * (centres[labels] + noise), labels


def test_one_manual_training_step_of_the_mnist_net() -> None:
    model = mnist_net()
    loss = CrossEntropyLoss()
    opt = SGD(model.parameters(), lr=0.1)
    x, y = clusters(32, seed=1)
    before = [p.data.copy() for p in model.parameters()]
    first = loss.forward(model(x), y)
    grad_x = model.backward(loss.backward())
    assert grad_x.shape == (32, 784)
    assert grad_x.dtype == np.float32
    opt.step()
    opt.zero_grad()
    assert all(
        not np.array_equal(p.data, b) for p, b in zip(model.parameters(), before, strict=True)
    )
    assert not any(p.grad.any() for p in model.parameters())
    assert loss.forward(model(x), y) < first  # a gradient step on this batch lowers its loss


def test_the_mnist_net_learns_a_separable_problem() -> None:
    model = mnist_net(seed=3)
    loss = CrossEntropyLoss()
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    x_train, y_train = clusters(1024, seed=4)
    x_test, y_test = clusters(512, seed=5)

    def test_loss_and_accuracy() -> tuple[float, float]:
        model.eval()
        logits = model(x_test)
        model.train()
        return loss.forward(logits, y_test), float((logits.argmax(axis=1) == y_test).mean())

    initial_loss, initial_accuracy = test_loss_and_accuracy()
    batches = np.random.default_rng(6)
    for _ in range(300):
        index = batches.integers(0, len(x_train), 32)
        loss.forward(model(x_train[index]), y_train[index])
        model.backward_params(loss.backward())
        opt.step()
        opt.zero_grad()
    final_loss, final_accuracy = test_loss_and_accuracy()
    assert initial_accuracy < 0.3  # about chance (0.1) before training
    assert final_accuracy > 0.95  # on held-out samples
    assert final_loss < 0.1 * initial_loss


def test_dropout_in_a_model_with_a_fixed_mask_trains_like_masked_activations() -> None:
    rng = np.random.default_rng(0)
    model = Sequential(Dense(4, 6, rng=rng), ReseededDropout(0.5, 7), Dense(6, 2, rng=rng))
    x = rng.standard_normal((3, 4)).astype(np.float32)
    hidden = model[0](x)
    mask = model[1](np.ones_like(hidden))  # the fixed scaled mask: 0 or 2
    np.testing.assert_allclose(model(x), (hidden * mask) @ model[2].weight.data, rtol=1e-6)
