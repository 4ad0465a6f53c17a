"""The convolutional model files: LeNet-5 and mnist_cnn, their layers and recipes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tinynet import (
    AvgPool2d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    MaxPool2d,
    ReLU,
    Sequential,
    Tanh,
)
from tinynet.datasets import load_mnist, model_layout
from tinynet.modelfile import ModelFile, load_model_file

MODELS = Path(__file__).resolve().parents[1] / "models"


def load(name: str) -> ModelFile:
    return load_model_file(MODELS / f"{name}.py")


def test_lenet5_is_lecuns_layers_in_order() -> None:
    model = load("lenet5").build(0)
    assert isinstance(model, Sequential)
    kinds = [type(layer) for layer in model]
    assert kinds == [
        Conv2d, Tanh, AvgPool2d,  # C1, S2
        Conv2d, Tanh, AvgPool2d,  # C3, S4
        Conv2d, Tanh, Flatten,  # C5
        Dense, Tanh,  # F6
        Dense,  # the output, logits
    ]  # fmt: skip
    convs = [layer for layer in model if isinstance(layer, Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)),
        (6, 16, (5, 5)),
        (16, 120, (5, 5)),
    ]
    assert convs[0].padding == (2, 2)  # 28x28 seen as the paper's 32x32
    assert model.num_parameters() == 156 + 2_416 + 48_120 + 10_164 + 850  # 61,706
    shapes = model.summary((1, 28, 28), print_fn=None)
    for shape in ("(None, 6, 28, 28)", "(None, 6, 14, 14)", "(None, 16, 10, 10)"):
        assert shape in shapes
    assert "(None, 16, 5, 5)" in shapes
    assert "(None, 120, 1, 1)" in shapes


def test_lenet5_starts_from_lecuns_uniform_weights() -> None:
    model = load("lenet5").build(0)
    for layer in model:
        if isinstance(layer, (Conv2d, Dense)):
            weight = layer.weight.data
            fan_in = weight[0].size if isinstance(layer, Conv2d) else weight.shape[0]
            bound = 2.4 / fan_in
            assert np.abs(weight).max() <= bound
            assert np.abs(weight).max() > 0.9 * bound  # uniform up to the bound
            assert layer.bias is not None
            np.testing.assert_array_equal(layer.bias.data, 0)


def test_mnist_cnn_layers() -> None:
    model = load("mnist_cnn").build(0)
    assert isinstance(model, Sequential)
    kinds = [type(layer) for layer in model]
    stage = [Conv2d, MaxPool2d, BatchNorm2d, ReLU]
    assert kinds == [*stage * 3, Flatten, Dense, ReLU, Dropout, Dense]
    convs = [layer for layer in model if isinstance(layer, Conv2d)]
    assert [(c.out_channels, c.bias) for c in convs] == [(16, None), (32, None), (64, None)]
    assert model.num_parameters() == 98_554
    assert "(None, 64, 3, 3)" in model.summary((1, 28, 28), print_fn=None)


@pytest.mark.parametrize("name", ["lenet5", "mnist_cnn"])
def test_cnn_model_files_take_images_and_are_seeded(name: str) -> None:
    file = load(name)
    assert file.input_shape == (1, 28, 28)
    assert file.reported is not None
    assert "%" in file.reported
    a, b, c = file.build(0), file.build(0), file.build(1)
    same = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(np.array_equal(x, y) for x, y in same)
    assert not np.array_equal(a.state_dict()["0.weight"], c.state_dict()["0.weight"])


@pytest.mark.parametrize("name", ["lenet5", "mnist_cnn"])
def test_every_recipe_trains_one_short_epoch_on_images(name: str) -> None:
    file = load(name)
    (x, y), _ = load_mnist()
    images, labels = model_layout(x[:256], file.input_shape), y[:256]
    for recipe in file.named_recipes().values():
        model = file.build(0)
        before = [p.data.copy() for p in model.parameters()]
        history = replace(recipe, epochs=1).fit(model, images, labels, seed=0, verbose=0)
        assert np.isfinite(history["loss"][0])
        assert all(
            not np.array_equal(b, p.data) for b, p in zip(before, model.parameters(), strict=True)
        )
