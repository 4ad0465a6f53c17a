"""Convolutional model files end to end: ``INPUT_SHAPE``, `model_layout`, and the CLI's
train, evaluate, predict (on a PNG) and summary on ``models/lenet5.py``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import png_bytes

from tinynet.cli import main
from tinynet.datasets import load_mnist, model_layout
from tinynet.images import predict_images
from tinynet.inference import forward_in_batches
from tinynet.io import load, save
from tinynet.modelfile import load_model_file

ROOT = Path(__file__).resolve().parents[1]
LENET = str(ROOT / "models" / "lenet5.py")


def test_model_layout_reshapes_rows_to_images_and_back_without_copying() -> None:
    rows = np.arange(2 * 784, dtype=np.float32).reshape(2, 784)
    images = model_layout(rows, (1, 28, 28))
    assert images.shape == (2, 1, 28, 28)
    assert np.shares_memory(images, rows)
    assert images[1, 0, 2, 3] == rows[1, 2 * 28 + 3]  # row by row: the same pixel
    flat = model_layout(images, None)
    assert flat.shape == (2, 784)
    assert np.shares_memory(flat, rows)
    assert np.shares_memory(model_layout(rows, (784,)), rows)


def test_model_layout_refuses_samples_of_another_size_and_scalars() -> None:
    with pytest.raises(ValueError, match=r"input shape \(3, 28, 28\) \(2352 values\)"):
        model_layout(np.zeros((4, 784), np.float32), (3, 28, 28))
    with pytest.raises(ValueError, match="got a scalar"):
        model_layout(np.float32(1.0) * np.ones(()), (1,))


def test_model_layout_refuses_images_of_another_geometry() -> None:
    """r3 d15: 14x56 images (and (2, 392) samples) were reshaped into (1, 28, 28)."""
    for shape in ((14, 56), (2, 392), (1, 56, 14)):
        with pytest.raises(ValueError, match=rf"samples of shape \({shape[0]}, .*reshaping would"):
            model_layout(np.zeros((3, *shape), np.float32), (1, 28, 28))
    images = np.zeros((3, 28, 28), np.float32)  # the same images, with or without a channel
    assert model_layout(images, (1, 28, 28)).shape == (3, 1, 28, 28)
    assert model_layout(images[:, None], (28, 28)).shape == (3, 28, 28)
    assert model_layout(images, (784,)).shape == (3, 784)  # an MLP takes them flat


def test_model_files_declare_their_input_shape(tmp_path: Path) -> None:
    assert load_model_file(LENET).input_shape == (1, 28, 28)
    assert load_model_file(ROOT / "models" / "mnist_mlp.py").input_shape is None
    bad = tmp_path / "bad.py"
    for value in ("'1x28x28'", "(1, 0, 28)", "(1.0, 28, 28)", "()"):
        bad.write_text(
            "from tinynet import Dense\n"
            f"INPUT_SHAPE = {value}\n"
            "def build(seed):\n    return Dense(784, 10)\n"
        )
        with pytest.raises(TypeError, match="INPUT_SHAPE must be a tuple of positive ints"):
            load_model_file(bad)


@pytest.fixture(scope="module")
def tiny_mnist(mnist_subset: Callable[[int, int], Path]) -> Path:
    """400 training and 100 test images of real MNIST, as IDX files."""
    return mnist_subset(400, 100)


def test_a_cnn_model_file_trains_evaluates_predicts_and_summarizes(
    tmp_path: Path, tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, metrics_path = tmp_path / "lenet.npz", tmp_path / "m.json"
    train = ["train", LENET, "--data", str(tiny_mnist), "--epochs", "1", "--verbose", "0"]
    assert main([*train, "--save", str(weights), "--metrics-json", str(metrics_path)]) == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["epochs"] == 1
    assert metrics["parameters"] == 61_706
    assert "400 samples" in capsys.readouterr().out

    assert main(["evaluate", LENET, "--weights", str(weights), "--data", str(tiny_mnist)]) == 0
    assert f"accuracy {100 * metrics['test_accuracy']:.2f}%" in capsys.readouterr().out

    # a real test digit as a PNG file: predicted as the model itself does on (1, 28, 28)
    _, (x_test, _) = load_mnist(flatten=False)
    digit = tmp_path / "digit.png"
    pixels = np.rint(x_test[0, 0] * 255).astype(np.uint8)[:, :, np.newaxis]
    digit.write_bytes(png_bytes(pixels, colour=0))
    model = load(weights)
    image = (pixels[np.newaxis, np.newaxis, :, :, 0] / np.float32(255)).astype(np.float32)
    expected = int(forward_in_batches(model, image).argmax())
    assert main(["predict", str(weights), str(digit)]) == 0
    assert capsys.readouterr().out.startswith(f"{digit}: {expected} (")

    assert main(["summary", LENET]) == 0
    table = capsys.readouterr().out
    for shape in ("(None, 6, 28, 28)", "(None, 16, 5, 5)", "(None, 120, 1, 1)", "(None, 10)"):
        assert shape in table
    assert "Total params: 61,706" in table


def test_predict_finds_a_cnn_input_without_the_model_file(tmp_path: Path) -> None:
    """A model saved from Python (no ``input_shape`` in its metadata) gets (C, 28, 28)
    images when it starts with a convolution, flat rows when it starts with a Dense."""
    mf = load_model_file(LENET)
    path = tmp_path / "bare.npz"
    save(mf.build(0), path)
    _, (x_test, _) = load_mnist(flatten=False)
    batch = tmp_path / "digits.npy"
    np.save(batch, x_test[:3, 0])
    model = load(path)
    predictions = predict_images(model, [batch], loss="cross_entropy")
    assert [p.label for p in predictions] == list(forward_in_batches(model, x_test[:3]).argmax(1))
    mlp = load_model_file(ROOT / "models" / "mnist_mlp.py").build(0)
    rows = x_test[:3].reshape(3, 784)
    assert [p.label for p in predict_images(mlp, [batch], loss="cross_entropy")] == list(
        forward_in_batches(mlp, rows).argmax(1)
    )


def test_predict_refuses_a_bad_input_shape_in_the_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "odd.npz"
    save(load_model_file(LENET).build(0), path, metadata={"input_shape": ["1", 28, 28]})
    digit = tmp_path / "zeros.npy"
    np.save(digit, np.zeros((28, 28), np.uint8))
    assert main(["predict", str(path), str(digit)]) == 2
    error = capsys.readouterr().err
    assert "odd.npz: metadata input_shape must be a list of at most 8 positive ints" in error
