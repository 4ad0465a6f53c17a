"""The 784-128-64-10 MNIST classifier: tinynet's main job.

tinynet train models/mnist_mlp.py --seed 0
"""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe


def build(seed: int) -> Sequential:
    """784-128-64-10 with ReLU; He-initialized from ``seed``; outputs logits."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Dense(784, 128, rng=rng),
        ReLU(),
        Dense(128, 64, rng=rng),
        ReLU(),
        Dense(64, 10, rng=rng),
    )


RECIPE = Recipe(
    dataset="mnist",
    loss="cross_entropy",
    optimizer="adam",
    optimizer_args={"lr": 1e-3},
    epochs=10,
    batch_size=128,
)
