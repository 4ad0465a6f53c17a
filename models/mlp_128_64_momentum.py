"""VarnitOS/MNIST: 784-128-64-10, ReLU, softmax, full-batch descent with EMA momentum.

Weights N(0, 1) * sqrt(1/fan_in) (LeCun normal), zero biases; cross-entropy of the
softmax; gradient descent on the whole training set with momentum in its exponential
moving average form, v = 0.9 v + 0.1 g from v = 0, w -= 0.05 v, for 2,000 iterations.
Reported 95.24% (on a 41,000/1,000 Kaggle split); 94.99% measured on the MNIST test set
after all 2,000 iterations (docs/seeds.md).

RECIPES["original"] is that recipe (one tinynet epoch of full-batch descent is one of
its iterations), RECIPES["tuned"] the same network trained with tinynet's tools, its
settings chosen on a validation split (the last 10,000 training images), never on the
test set.

tinynet train models/mlp_128_64_momentum.py --recipe original --seed 0
tinynet train models/mlp_128_64_momentum.py --recipe tuned --seed 0

Its momentum in tinynet's terms
-------------------------------
tinynet's ``SGD`` is PyTorch's: v = mu v + (1 - dampening) g, so ``momentum=0.9,
dampening=0.9`` is v = 0.9 v + 0.1 g. PyTorch starts the buffer at v = g, not at
0.1 g: its first step would be 10 times the original's, and its buffer larger by
0.9**t * g_1 at step t. ``initial_buffer="zeros"`` starts v at 0, which makes the rule
the original's exactly. The network outputs logits: ``CrossEntropyLoss`` applies the
softmax, fused with the log. float32 instead of float64.
"""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe

REPORTED = "95.24% (Kaggle split); 94.99% measured"


def build(seed: int) -> Sequential:
    """784-128-64-10 with ReLU; LeCun-normal weights from ``seed``, zero biases.

    Input (N, 784) float32 in [0, 1]; output (N, 10) logits.
    """
    rng = np.random.default_rng(seed)
    return Sequential(
        Dense(784, 128, init="lecun_normal", rng=rng),
        ReLU(),
        Dense(128, 64, init="lecun_normal", rng=rng),
        ReLU(),
        Dense(64, 10, init="lecun_normal", rng=rng),
    )


RECIPES = {
    "original": Recipe(
        dataset="mnist",
        loss="cross_entropy",
        optimizer="sgd",
        optimizer_args={
            "lr": 0.05,
            "momentum": 0.9,
            "dampening": 0.9,  # v = 0.9 v + (1 - 0.9) g
            "initial_buffer": "zeros",  # from v = 0, not PyTorch's v = g
        },
        epochs=2000,
        batch_size=None,  # full batch: an epoch is one iteration
    ),
    # Chosen on the validation split (mean of seeds 0 and 1; the cheaper when within 0.1
    # point): Adam 3e-3, batch 128, cosine, random shifts of 1 pixel, 30 epochs 98.65%,
    # 20 epochs 98.62% (chosen: within 0.1 and a third cheaper); lr 1e-3 for 30 epochs
    # 98.51%; 2-pixel shifts or none did worse for seed 0 (98.41%, 98.09% at 20 epochs).
    # (The 2,000-iteration original was not run on the split: it takes 20 minutes.)
    "tuned": Recipe(
        dataset="mnist",
        loss="cross_entropy",
        optimizer="adam",
        optimizer_args={"lr": 3e-3},
        schedule="cosine",
        epochs=20,
        batch_size=128,
        max_shift=1,
    ),
}
RECIPE = RECIPES["original"]
