"""kdexd/digit-classifier: 784-30-10, ReLU hidden, softmax output, cross-entropy, SGD.

A reworking of Nielsen's ``network.py`` with a scikit-learn-like ``fit``/``predict``
(``main.py`` and ``network.py`` at commit 03ba47f): weights N(0, 1)/sqrt(fan_in), biases
N(0, 1); the output error a - y of a softmax under cross-entropy; per-image gradients
summed over a mini-batch of 16, then w -= (0.01 / 16) * sum, i.e. SGD at lr 0.01 on the
batch mean; 100 epochs. No figure published for the test set; run unchanged on MNIST,
trained on all 60,000 images, it measured 96.63% (docs/seeds.md).

RECIPES["original"] is that recipe, RECIPES["tuned"] the same network trained with
tinynet's tools, its settings chosen on a validation split (the last 10,000 training
images), never on the test set.

tinynet train models/kdexd_30.py --recipe original --seed 0
tinynet train models/kdexd_30.py --recipe tuned --seed 0

Its cost and step, in tinynet's terms
-------------------------------------
The network outputs logits: ``CrossEntropyLoss`` applies the softmax, fused with the
log (log-sum-exp), the same function as its separate softmax and cross-entropy. Its
gradient with respect to the logits is (softmax - onehot) / m over a batch of m: the
original's output error a - y, summed over the batch and divided by m = 16 in its update.
So SGD at lr 0.01 takes exactly its step (60,000 = 3,750 * 16: no short last batch).

Why its seeds differ
--------------------
Its biases N(0, 1) are large beside the weights' part of a hidden unit's input, whose
standard deviation over MNIST images is about 0.3: a unit whose bias is drawn below
about -1 is often never above zero on any training image, so it gets no gradient and
stays dead. Seeds 0-9 leave 1 to 6 of the 30 dead (kdexd's own seed 42 leaves 3); the
original recipe scores about 0.1 point less per dead unit (96.03 to 96.72% on the test
set over those seeds, mean 96.42%).

What differs from its run
-------------------------
- It trained on the first 50,000 training images (Nielsen's ``mnist.pkl.gz`` keeps the
  last 10,000 as validation data); like every row of the classic table, these recipes
  train on all 60,000 (as did the 96.63% run). ``--validation-split
  0.16666666666666666`` trains on exactly its 50,000 (and reports the other 10,000 per
  epoch, as its ``fit`` did).
- Its random numbers: ``np.random.seed(42)`` (the legacy Mersenne Twister) drew every
  weight matrix first, then every bias, in its (out, in) layout; ``build(seed)`` draws
  layer by layer, weight then bias, in tinynet's (in, out) layout from a PCG64
  generator. The distributions are the same, the numbers are not. Its batch order came
  from Python's ``random.shuffle``, which that seed does not seed.
- Its softmax is ``exp(z) / sum(exp(z))`` without subtracting the maximum, so it can
  overflow on large logits; tinynet's fused loss cannot.
- float32 instead of float64, and a batch at a time instead of one image at a time (the
  same sum, in a different order of additions).
"""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.init import normal
from tinynet.recipe import Recipe

REPORTED = "96.63% (measured; none published)"
"""None published for the test set; 96.63% when the seed itself was trained on all 60,000."""


def build(seed: int) -> Sequential:
    """784-30-10 with ReLU; weights N(0, 1/fan_in) (LeCun normal), biases N(0, 1).

    Input (N, 784) float32 in [0, 1]; output (N, 10) logits.
    """
    rng = np.random.default_rng(seed)
    standard_normal = normal(1.0)
    return Sequential(
        Dense(784, 30, init="lecun_normal", bias_init=standard_normal, rng=rng),
        ReLU(),
        Dense(30, 10, init="lecun_normal", bias_init=standard_normal, rng=rng),
    )


RECIPES = {
    "original": Recipe(
        dataset="mnist",
        loss="cross_entropy",
        optimizer="sgd",
        optimizer_args={"lr": 0.01},
        epochs=100,
        batch_size=16,
    ),
    # Chosen on the validation split (mean of seeds 0 and 1; the cheaper when within 0.1
    # point): AdamW lr 3e-3, decoupled weight decay 0.05, batch 64, cosine, random shifts
    # of 1 pixel, 60 epochs 97.32%; 100 epochs 97.31%, 30 epochs 97.10%; Adam without
    # decay 97.23% (with batch 32, 97.31% in 1.5 times the time). Worse: no shifts (Adam,
    # 30 epochs: 96.62% against 97.07%), 2-pixel shifts 96.13%, decay 0.2 96.91%, lr 1e-2
    # 96.84%, Adam with batch 128 96.48%, label smoothing 0.1 96.75%. The original recipe
    # scores 96.49% there.
    "tuned": Recipe(
        dataset="mnist",
        loss="cross_entropy",
        optimizer="adamw",
        optimizer_args={"lr": 3e-3, "weight_decay": 0.05},
        schedule="cosine",
        epochs=60,
        batch_size=64,
        max_shift=1,
    ),
}
RECIPE = RECIPES["original"]
