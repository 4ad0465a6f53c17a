"""The main job, for real: models/mnist_mlp.py trained on all of MNIST by the CLI.

Marked slow (about 10-20 s on two cores); CI runs it too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tinynet.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_mnist_mlp_recipe_reaches_98_percent(tmp_path: Path) -> None:
    metrics_path = tmp_path / "metrics.json"
    status = main(
        [
            "train",
            str(ROOT / "models" / "mnist_mlp.py"),
            "--seed",
            "0",
            "--verbose",
            "0",
            "--metrics-json",
            str(metrics_path),
        ]
    )
    assert status == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["epochs"] == 6
    assert metrics["test_accuracy"] >= 0.98  # measured 98.63% for seed 0 (README)
    history = metrics["history"]
    assert history["loss"] == sorted(history["loss"], reverse=True)  # it learned steadily


@pytest.mark.slow
def test_a_small_cnn_learns_real_digits() -> None:
    """LeNet-like layers on the first 6,000 training images, 2 epochs (190 steps), batch-
    last through every layer: at least 90% on the first 2,000 test images (10 s; torch
    trains the same network to the same losses, within 1e-13 in float64). Measured 91.9%
    to 94.0% on one machine: one or two BLAS threads, Haswell or SkylakeX kernels round
    float32 sums differently, and 190 steps do not wash that out; the floor says it
    learns, the slow CNN trainings of the model files say how well."""
    import numpy as np

    import tinynet as tn
    from tinynet.datasets import load_mnist
    from tinynet.optim import Adam
    from tinynet.train import evaluate, fit

    (x, y), (x_test, y_test) = load_mnist(flatten=False)
    assert x.shape[1:] == (1, 28, 28)
    rng = np.random.default_rng(0)
    model = tn.Sequential(
        tn.Conv2d(1, 8, 5, padding=2, rng=rng),
        tn.BatchNorm2d(8),
        tn.ReLU(inplace=True),
        tn.MaxPool2d(2),
        tn.Conv2d(8, 16, 5, rng=rng),
        tn.ReLU(inplace=True),
        tn.MaxPool2d(2),
        tn.Flatten(),
        tn.Dense(400, 64, rng=rng),
        tn.ReLU(),
        tn.Dense(64, 10, rng=rng),
    )
    fit(
        model,
        x[:6000],
        y[:6000],
        loss=tn.CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=2e-3),
        epochs=2,
        batch_size=64,
        verbose=0,
    )
    metrics = evaluate(model, x_test[:2000], y_test[:2000])
    assert metrics["accuracy"] >= 0.90
