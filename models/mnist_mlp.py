"""The 784-128-64-10 MNIST classifier: tinynet's main job.

    tinynet train models/mnist_mlp.py --seed 0

The recipe was chosen on a validation split (the last 10,000 training images, seeds
0-5), then trained on all 60,000 images; the test set gave only the final numbers
(README). Against plain Adam at lr 1e-3 for 10 epochs (97.5-97.8% on validation), each
ingredient earned its place there: a higher peak learning rate reached through a
one-epoch warm-up and annealed by a cosine to zero, stepped every batch; label
smoothing 0.1; and random shifts of up to one pixel, which stand in for the
handwriting's small misplacements. Dropout, weight decay and 2-pixel shifts did not
help this small net. Six epochs is the fewest whose worst validation seed stayed at or
above 98.3%.
"""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe


def build(seed: int) -> Sequential:
    """784-128-64-10 with ReLU; He-initialized from ``seed``; outputs logits.

    The ReLUs overwrite the Dense outputs they follow instead of allocating (PyTorch's
    ``inplace=True``): the same numbers, less memory traffic, most of all in inference.
    """
    rng = np.random.default_rng(seed)
    return Sequential(
        Dense(784, 128, rng=rng),
        ReLU(inplace=True),
        Dense(128, 64, rng=rng),
        ReLU(inplace=True),
        Dense(64, 10, rng=rng),
    )


RECIPE = Recipe(
    dataset="mnist",
    loss="cross_entropy",
    loss_args={"label_smoothing": 0.1},
    optimizer="adam",
    optimizer_args={"lr": 8e-3},
    schedule="warmup_cosine",
    schedule_args={"warmup": 1, "start_factor": 0.01},
    schedule_per="batch",
    epochs=6,
    batch_size=128,
    max_shift=1,
)
