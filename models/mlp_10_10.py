"""The "just NumPy" network: 784-10-10, ReLU, softmax, full-batch gradient descent.

Samson Zhang's video and Kaggle notebook (and its many copies): weights and biases
drawn from U(-0.5, 0.5), cross-entropy of the softmax, gradient descent on the whole
training set with lr 0.1 for 500 iterations; "~85%" on its 1,000-image dev set, 84.98%
measured on the MNIST test set (docs/seeds.md).

RECIPES["original"] is that recipe (one tinynet epoch of full-batch descent is one of
its iterations), RECIPES["tuned"] the same network trained with tinynet's tools, its
settings chosen on a validation split (the last 10,000 training images), never on the
test set.

tinynet train models/mlp_10_10.py --recipe original --seed 0
tinynet train models/mlp_10_10.py --recipe tuned --seed 0

The network outputs logits: ``CrossEntropyLoss`` applies the softmax, fused with the
log. What differs from the notebook: its bias gradients are ``np.sum(dZ) / m`` over
*every* entry, a scalar added to all biases of the layer (for the output layer that
sum is 0, so those biases never move); tinynet computes the true gradient, one value
per bias. It trained on 41,000 Kaggle images; these recipes on MNIST's 60,000.
float32 instead of float64.
"""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.init import uniform
from tinynet.recipe import Recipe

REPORTED = "~85% (dev set); 84.98% measured"


def build(seed: int) -> Sequential:
    """784-10-10 with ReLU; weights and biases U(-0.5, 0.5) from ``seed``.

    Input (N, 784) float32 in [0, 1]; output (N, 10) logits.
    """
    rng = np.random.default_rng(seed)
    u = uniform(-0.5, 0.5)
    return Sequential(
        Dense(784, 10, init=u, bias_init=u, rng=rng),
        ReLU(),
        Dense(10, 10, init=u, bias_init=u, rng=rng),
    )


RECIPES = {
    "original": Recipe(
        dataset="mnist",
        loss="cross_entropy",
        optimizer="sgd",
        optimizer_args={"lr": 0.1},
        epochs=500,
        batch_size=None,  # full batch: an epoch is one iteration
    ),
    # Chosen on the validation split (mean of seeds 0 and 1; the cheaper when within 0.1
    # point): Adam 3e-3, batch 32, cosine, 20 epochs 94.80%; 10 epochs 94.62%; lr 1e-2,
    # batch 128, 10 epochs 94.57%; with 1-pixel shifts 94.28% (this net is too small to
    # gain from them). The original recipe scores 84.18% there.
    "tuned": Recipe(
        dataset="mnist",
        loss="cross_entropy",
        optimizer="adam",
        optimizer_args={"lr": 3e-3},
        schedule="cosine",
        epochs=20,
        batch_size=32,
    ),
}
RECIPE = RECIPES["original"]
