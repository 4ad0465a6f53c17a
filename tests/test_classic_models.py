"""The classic model files: their architectures, initializations and recipes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from tinynet import CrossEntropyLoss, Dense, Layer, MSELoss, ReLU, Sequential, Sigmoid
from tinynet.datasets import load_mnist
from tinynet.modelfile import ModelFile, load_model_file
from tinynet.optim import SGD

MODELS = Path(__file__).resolve().parents[1] / "models"

# name: (layer sizes, hidden activation, output activation or None for logits, parameters)
ARCHITECTURES = {
    "kdexd_30": ([784, 30, 10], ReLU, None, 784 * 30 + 30 + 30 * 10 + 10),  # 23,860
    "nielsen_30": ([784, 30, 10], Sigmoid, Sigmoid, 784 * 30 + 30 + 30 * 10 + 10),  # 23,860
    "mlp_64_28": ([784, 64, 28, 10], ReLU, None, 784 * 64 + 64 + 64 * 28 + 28 + 28 * 10 + 10),
    "mlp_10_10": ([784, 10, 10], ReLU, None, 784 * 10 + 10 + 10 * 10 + 10),  # 7,960
    "mlp_128_64_momentum": (
        [784, 128, 64, 10],
        ReLU,
        None,
        784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10,  # 109,386
    ),
}


def load(name: str) -> ModelFile:
    return load_model_file(MODELS / f"{name}.py")


def layers(model: Layer) -> list[Layer]:
    assert isinstance(model, Sequential)
    return list(model)


@pytest.fixture(scope="module")
def small_slice() -> tuple[np.ndarray, np.ndarray]:
    """300 real MNIST training images (N, 784) float32 and their labels."""
    (x, y), _ = load_mnist()
    return x[:300], y[:300]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_layer_sizes_activations_and_parameter_count(name: str) -> None:
    sizes, hidden, output, parameters = ARCHITECTURES[name]
    model = load(name).build(0)
    found = layers(model)
    dense = [layer for layer in found if isinstance(layer, Dense)]
    assert [d.in_features for d in dense] + [dense[-1].out_features] == sizes
    # Dense, activation, Dense, activation, ..., Dense[, output activation]
    expected: list[type] = []
    for i in range(len(sizes) - 1):
        expected.append(Dense)
        if i < len(sizes) - 2:
            expected.append(hidden)
    if output is not None:
        expected.append(output)
    assert [type(layer) for layer in found] == expected
    assert model.num_parameters() == parameters
    assert all(p.dtype == np.float32 for p in model.parameters())
    out = model(np.zeros((2, 784), np.float32))
    assert out.shape == (2, 10)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_build_is_seeded(name: str) -> None:
    file = load(name)
    a, b, c = file.build(0), file.build(0), file.build(1)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    assert not np.array_equal(a.parameters()[0].data, c.parameters()[0].data)


def test_initializations_are_the_originals() -> None:
    # Nielsen: weights and biases N(0, 1)
    nielsen = load("nielsen_30").build(0)
    w1, b1 = nielsen.parameters()[:2]
    assert w1.data.std() == pytest.approx(1.0, abs=0.02)  # 23,520 draws
    assert b1.data.std() == pytest.approx(1.0, abs=0.5)  # 30 draws
    assert np.all(b1.data != 0)
    # kdexd: weights N(0, 1) / sqrt(fan_in), biases N(0, 1)
    kdexd = load("kdexd_30").build(0).parameters()
    for weight, bias in zip(kdexd[::2], kdexd[1::2], strict=True):
        fan_in = weight.shape[0]
        assert weight.data.std() == pytest.approx(np.sqrt(1 / fan_in), rel=0.15)
        assert np.all(bias.data != 0)
    w1, b1 = kdexd[:2]
    assert w1.data.std() * np.sqrt(784) == pytest.approx(1.0, abs=0.02)  # 23,520 draws
    assert b1.data.std() == pytest.approx(1.0, abs=0.5)  # 30 draws
    # drawn layer by layer, weight then bias: standard normals scaled by 1 / sqrt(fan_in)
    rng = np.random.default_rng(0)
    for weight, bias in zip(kdexd[::2], kdexd[1::2], strict=True):
        fan_in = weight.shape[0]
        w = rng.standard_normal(weight.shape) / np.sqrt(fan_in)
        np.testing.assert_allclose(weight.data, w, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(bias.data, rng.standard_normal(bias.shape), rtol=1e-6, atol=1e-7)
    # luke-harriman and the notebook: weights and biases U(-0.5, 0.5)
    for name in ("mlp_64_28", "mlp_10_10"):
        for p in load(name).build(0).parameters():
            assert np.all(np.abs(p.data) <= 0.5)
            assert np.abs(p.data).max() > 0.4
        w = load(name).build(0).parameters()[0].data
        assert w.std() == pytest.approx(np.sqrt(1 / 12), rel=0.05)  # U(-0.5, 0.5)
    # VarnitOS: N(0, 1) * sqrt(1 / fan_in), zero biases
    varnit = load("mlp_128_64_momentum").build(0).parameters()
    for weight, bias in zip(varnit[::2], varnit[1::2], strict=True):
        fan_in = weight.shape[0]
        assert weight.data.std() == pytest.approx(np.sqrt(1 / fan_in), rel=0.15)
        np.testing.assert_array_equal(bias.data, 0)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_recipes_are_original_and_tuned_and_train_one_short_epoch(
    name: str, small_slice: tuple[np.ndarray, np.ndarray]
) -> None:
    file = load(name)
    assert set(file.recipes) == {"original", "tuned"}
    assert file.recipe is file.recipes["original"]
    assert file.recipe_name == "original"
    assert file.reported is not None
    assert "%" in file.reported
    x, y = small_slice
    for recipe in file.recipes.values():
        model = file.build(0)
        before = [p.data.copy() for p in model.parameters()]
        history = replace(recipe, epochs=1).fit(model, x, y, seed=0, verbose=0)
        assert len(history.epoch) == 1
        assert np.isfinite(history["loss"][0])
        assert all(
            not np.array_equal(b, p.data) for b, p in zip(before, model.parameters(), strict=True)
        )
        scores = recipe.evaluate(model, x, y)
        labels = model.eval()(x).argmax(axis=1)  # counted here, not by tinynet's metrics
        assert scores["accuracy"] == pytest.approx(np.mean(labels == y), abs=1e-12)


def test_the_original_recipes_say_what_the_originals_did() -> None:
    nielsen = load("nielsen_30").recipes["original"]
    assert (nielsen.loss, nielsen.targets, nielsen.optimizer) == ("mse", "one_hot", "sgd")
    assert (nielsen.epochs, nielsen.batch_size) == (30, 10)
    assert nielsen.optimizer_args == {"lr": 15.0}
    harriman = load("mlp_64_28").recipes["original"]
    assert (harriman.optimizer, harriman.optimizer_args) == ("sgd", {"lr": 0.01})
    assert (harriman.epochs, harriman.batch_size) == (250, 64)
    notebook = load("mlp_10_10").recipes["original"]
    assert (notebook.optimizer, notebook.optimizer_args) == ("sgd", {"lr": 0.1})
    assert (notebook.epochs, notebook.batch_size) == (500, None)
    kdexd = load("kdexd_30").recipes["original"]
    assert (kdexd.optimizer, kdexd.optimizer_args) == ("sgd", {"lr": 0.01})
    assert (kdexd.epochs, kdexd.batch_size, kdexd.schedule) == (100, 16, "constant")
    varnit = load("mlp_128_64_momentum").recipes["original"]
    assert (varnit.epochs, varnit.batch_size) == (2000, None)
    optimizer = varnit.make_optimizer(load("mlp_128_64_momentum").build(0))
    assert isinstance(optimizer, SGD)
    assert optimizer.hyperparameters() == {
        "lr": 0.05,
        "momentum": 0.9,
        "dampening": 0.9,
        "nesterov": False,
        "weight_decay": 0.0,
        "initial_buffer": "zeros",
    }
    for recipe in (kdexd, harriman, notebook, varnit):
        assert (recipe.loss, recipe.targets, recipe.max_shift) == ("cross_entropy", "labels", 0)


Column = Callable[[np.ndarray], np.ndarray]


def sigmoid(z: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1 / (1 + np.exp(-z))
    return out


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    return sigmoid(z) * (1 - sigmoid(z))


def relu_prime(z: np.ndarray) -> np.ndarray:
    return (z > 0).astype(z.dtype)


def softmax_column(z: np.ndarray) -> np.ndarray:
    e: np.ndarray = np.exp(z - z.max())
    return e / e.sum()


def per_image_update(
    weights: list[np.ndarray],
    biases: list[np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    lr: float,
    *,
    hidden: Column,
    hidden_prime: Column,
    output: Column,
    output_prime: Column | None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Nielsen's network.py update_mini_batch, written out (kdexd's fit keeps it): per-image
    backprop in his column-vector layout (w of shape (out, in)), summed over the batch,
    then w -= (lr / m) * sum. The error at the output is (a - y) * output_prime(z), or
    a - y when ``output_prime`` is None (a softmax under cross-entropy). x (m, 784), y
    one-hot (m, 10)."""
    grad_w = [np.zeros_like(w) for w in weights]
    grad_b = [np.zeros_like(b) for b in biases]
    for image, target in zip(x, y, strict=True):
        activations, zs = [image[:, None]], []
        for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
            zs.append(w @ activations[-1] + b)
            activations.append((output if i == len(weights) - 1 else hidden)(zs[-1]))
        delta = activations[-1] - target[:, None]
        if output_prime is not None:
            delta = delta * output_prime(zs[-1])
        for layer in range(len(weights) - 1, -1, -1):
            grad_w[layer] += delta @ activations[layer].T
            grad_b[layer] += delta
            if layer:
                delta = (weights[layer].T @ delta) * hidden_prime(zs[layer - 1])
    m = x.shape[0]
    new_w = [w - lr / m * g for w, g in zip(weights, grad_w, strict=True)]
    new_b = [b - lr / m * g for b, g in zip(biases, grad_b, strict=True)]
    return new_w, new_b


def assert_one_step_is_the_originals(
    name: str,
    x: np.ndarray,
    labels: np.ndarray,
    loss_type: type,
    update: Callable[..., tuple[list[np.ndarray], list[np.ndarray]]],
) -> None:
    """One SGD step of the file's original recipe, in float64 from ``build(3)``, moves every
    weight and bias where ``update(weights, biases, x, onehot)`` (the original's per-image
    rule) does."""
    file = load(name)
    recipe = file.recipes["original"]
    model = file.build(3).astype(np.float64)
    params = model.parameters()
    weights = [p.data.T.copy() for p in params[::2]]
    biases = [p.data[:, None].copy() for p in params[1::2]]
    x = x.astype(np.float64)
    expected_w, expected_b = update(weights, biases, x, np.eye(10)[labels])

    loss = recipe.make_loss()
    assert isinstance(loss, loss_type)
    optimizer = recipe.make_optimizer(model)
    loss.forward(model(x), recipe.prepare_targets(labels, np.float64))
    optimizer.zero_grad()
    model.backward(loss.backward())
    optimizer.step()
    for p, w in zip(params[::2], expected_w, strict=True):
        np.testing.assert_allclose(p.data, w.T, rtol=1e-12, atol=1e-12)
    for p, b in zip(params[1::2], expected_b, strict=True):
        np.testing.assert_allclose(p.data, b[:, 0], rtol=1e-12, atol=1e-12)
    # and the step is not trivially small: it moved the weights
    assert not np.allclose(params[0].data, weights[0].T)


def test_nielsen_recipe_takes_exactly_his_step(small_slice: tuple[np.ndarray, np.ndarray]) -> None:
    # MSELoss(mean) over m*10 entries has gradient (a - y)/(5m); his is (a - y)/m:
    # lr 15.0 = 5 * 3.0 gives his update. Checked on one mini-batch of 10, in float64.
    x, labels = small_slice
    assert_one_step_is_the_originals(
        "nielsen_30",
        x[:10],
        labels[:10],
        MSELoss,
        partial(
            per_image_update,
            lr=3.0,
            hidden=sigmoid,
            hidden_prime=sigmoid_prime,
            output=sigmoid,
            output_prime=sigmoid_prime,
        ),
    )


def test_kdexd_recipe_takes_exactly_its_step(small_slice: tuple[np.ndarray, np.ndarray]) -> None:
    # CrossEntropyLoss(mean) on logits has gradient (softmax - onehot)/m: its output error
    # a - y summed over the batch and divided by m. SGD at 0.01 gives its update. Checked on
    # one mini-batch of 16, in float64.
    x, labels = small_slice
    assert_one_step_is_the_originals(
        "kdexd_30",
        x[:16],
        labels[:16],
        CrossEntropyLoss,
        partial(
            per_image_update,
            lr=0.01,
            hidden=lambda z: np.maximum(z, 0),
            hidden_prime=relu_prime,
            output=softmax_column,
            output_prime=None,
        ),
    )
