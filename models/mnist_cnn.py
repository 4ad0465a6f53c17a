"""mnist_cnn: the strongest CNN tinynet trains on two CPU cores in under ten minutes.

    tinynet train models/mnist_cnn.py --seed 0

Three stages of 3x3 convolution (16, 32, 64 channels, no bias), 2x2 max-pool,
BatchNorm and ReLU, on 28x28, 14x14 and 7x7 maps, then 576-128-10 with dropout: 98,554
parameters, 11.7 MFLOP per image and training step (forward, backward). Its recipe:
AdamW, a one-epoch warm-up and a cosine to zero stepped every batch, label smoothing
0.1, random shifts of up to 2 pixels, 15 epochs of batch 128.

Chosen on a validation split (the last 10,000 training images, the model trained on the
first 50,000; seed 0): this recipe 99.57%; at a rate of 2e-3 and weight decay 0.05,
99.54%; at 8e-3, 99.56%. Earlier rounds (at other rates) found label smoothing worth
about 0.06 point (99.47% -> 99.53%), BatchNorm and ReLU before the pool 0.03 point worse,
24-48-96 channels no better in the time (99.36% in 8 epochs) and a hidden layer of 256
within noise (99.60% and 99.51% on seeds 0 and 1), so the file keeps the smaller network.

Keras's ``examples/mnist_cnn.py`` reports 99.25% (docs/seeds.md; 1.2 million parameters,
Adadelta, 12 epochs). Its layers train at about 440 images a second in tinynet here (one
BLAS thread, the machine loaded): 27 minutes for its 12 epochs.
"""

import numpy as np

from tinynet import BatchNorm2d, Conv2d, Dense, Dropout, Flatten, MaxPool2d, ReLU, Sequential
from tinynet.layers.base import Layer
from tinynet.recipe import Recipe

REPORTED = "Keras mnist_cnn: 99.25%"
"""Not this network: the published figure of Keras's mnist_cnn, the usual yardstick."""

INPUT_SHAPE = (1, 28, 28)
"""Images, NCHW."""

WIDTHS = (16, 32, 64)
"""Channels of the three stages."""


def build(seed: int) -> Sequential:
    """(N, 1, 28, 28) images in [0, 1] to (N, 10) logits; He-initialized from ``seed``.

    Each stage is Conv2d(3x3, padding 1, no bias: BatchNorm's shift is the bias) -
    MaxPool2d(2) - BatchNorm2d - ReLU: 28 -> 14 -> 7 -> 3 pixels a side.
    """
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    c_in = 1
    for c_out in WIDTHS:
        layers += [
            Conv2d(c_in, c_out, 3, padding=1, bias=False, rng=rng),
            MaxPool2d(2),
            BatchNorm2d(c_out),
            ReLU(inplace=True),
        ]
        c_in = c_out
    return Sequential(
        *layers,
        Flatten(),
        Dense(c_in * 3 * 3, 128, rng=rng),
        ReLU(inplace=True),
        Dropout(0.3, rng=rng),
        Dense(128, 10, rng=rng),
    )


RECIPE = Recipe(
    dataset="mnist",
    loss="cross_entropy",
    loss_args={"label_smoothing": 0.1},
    optimizer="adamw",
    optimizer_args={"lr": 4e-3, "weight_decay": 0.01},
    schedule="warmup_cosine",
    schedule_args={"warmup": 1, "start_factor": 0.1},
    schedule_per="batch",
    epochs=15,
    batch_size=128,
    max_shift=2,
)
