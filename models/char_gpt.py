"""A character-level GPT on tiny-shakespeare: nanoGPT's CPU configuration.

    tinynet train models/char_gpt.py --seed 0 --save char_gpt.npz

4 pre-norm transformer blocks (`tinynet.gpt_block`), 4 heads, 128 wide, a context of
64 characters, batches of 12 windows, 2,000 iterations, no dropout, AdamW at 1e-3: the
settings of nanoGPT's README ("I only have a macbook"), with the rest of its
``shakespeare_char`` configuration (betas (0.9, 0.99), weight decay 0.1, 100
warm-up iterations, cosine decay to 1e-4, gradients clipped to norm 1). Differences
from nanoGPT: the output layer is not tied to the token embedding, the layers have
biases, and weight decay applies to every parameter (nanoGPT spares biases and
LayerNorm gains).

Runs (this 2-core machine, one BLAS thread, ``OPENBLAS_NUM_THREADS=1``), in ``RUNS``:
the held-out loss is over every character of the last 10%, the "estimate" nanoGPT's
(20 random batches). Wall time was measured with the machine shared by four other
jobs (load average 7-11): the process got about a fifth of a core. CPU time is the
fairer figure: a step took 145 ms alone on a core (about 5 minutes for 2,000).
Where a step's time goes (``scripts/profile_text_step.py models/char_gpt.py``, and
the benchmark suite's ``sequence`` section, `benchmarks/results/sequence_1thread.md`):
the Dense layers 43%, attention 32%, the exact GELU's forward 15% (its backward reuses
the forward's Phi and phi), LayerNorm 7%, AdamW 2%; 67 ms a step at one thread with
the CPU's own BLAS kernels.
"""

import numpy as np

from tinynet import Dense, Embedding, LayerNorm, PositionalEmbedding, Sequential, gpt_block
from tinynet.lm import TextRecipe
from tinynet.sequence import GPT_INIT

VOCAB_SIZE = 65
"""tiny-shakespeare's distinct characters (its vocabulary)."""
CONTEXT = 64
WIDTH = 128
LAYERS = 4
HEADS = 4


def build(seed: int, vocab_size: int = VOCAB_SIZE) -> Sequential:
    """int64 tokens (N, T <= 64) -> logits (N, T, vocab_size), float32, from ``seed``.

    Token and position embeddings N(0, 0.02**2) as GPT-2's, 4 `gpt_block`s, a final
    LayerNorm and a bias-free Dense to the vocabulary.
    """
    rng = np.random.default_rng(seed)
    return Sequential(
        Embedding(vocab_size, WIDTH, init=GPT_INIT, rng=rng),
        PositionalEmbedding(CONTEXT, WIDTH, rng=rng),
        *(gpt_block(WIDTH, HEADS, rng=rng) for _ in range(LAYERS)),
        LayerNorm(WIDTH),
        Dense(WIDTH, vocab_size, bias=False, init=GPT_INIT, rng=rng),
    )


TEXT_RECIPE = TextRecipe(
    context=CONTEXT,
    batch_size=12,
    iterations=2000,
    optimizer="adamw",
    optimizer_args={"lr": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.1},
    warmup=100,
    min_lr=1e-4,
    clip_grad_norm=1.0,
    eval_interval=250,
    eval_iters=20,
)
"""nanoGPT's CPU run, what ``tinynet train models/char_gpt.py`` runs."""

RUNS: dict[str, str] = {
    "seed 0": "held-out loss 1.866 after 2,000 iterations; training 237 s (260 s wall in all)",
    "seed 1": "held-out loss 1.862; training 207 s (229 s wall in all)",
    "seed 2": "held-out loss 1.871; training 219 s (239 s wall in all)",
}
"""Measured runs, ``tinynet train models/char_gpt.py --seed S --metrics-json F`` (its
``test_loss`` and ``train_seconds``) on this 2-core machine, default threads, load 0.5-3,
on 2026-12-07; earlier runs on a machine loaded 7-11 gave the same losses."""
