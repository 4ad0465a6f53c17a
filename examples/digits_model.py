"""A user's model file for scikit-learn's 8x8 digits: 64-64-10, ReLU, Adam.

    python examples/digits_npz.py        # writes digits.npz, then trains this file on it
    tinynet train examples/digits_model.py --data digits.npz

A model file is plain Python: ``build(seed)`` returns the network and ``RECIPE`` says
how to train it. ``--data`` gives the data (its classes and input shape must fit the
first and last layers: 8x8 = 64 inputs, 10 classes).
"""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe


def build(seed: int) -> Sequential:
    """64 inputs (an 8x8 image as a row), 64 ReLU units, 10 logits."""
    rng = np.random.default_rng(seed)
    return Sequential(Dense(64, 64, rng=rng), ReLU(), Dense(64, 10, rng=rng))


RECIPE = Recipe(
    loss="cross_entropy",
    optimizer="adam",
    optimizer_args={"lr": 3e-3},
    schedule="cosine",
    epochs=40,
    batch_size=32,
    metrics=("accuracy", "f1"),
)
