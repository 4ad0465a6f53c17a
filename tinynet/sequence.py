"""Building blocks for sequence models: `gpt_block`.

`gpt_block` is GPT-2's pre-norm transformer block made of tinynet's layers and
containers::

    Sequential(
        Residual(Sequential(LayerNorm(E), MultiheadAttention(E, heads, causal=True))),
        Residual(Sequential(LayerNorm(E), Dense(E, 4E), GELU(), Dense(4E, E))),
    )

that is ``x = x + attn(ln1(x))`` then ``x = x + mlp(ln2(x))``, on (N, T, E).
"""

from __future__ import annotations

import numpy as np

from tinynet import init as initializers
from tinynet import validation
from tinynet.containers import Residual, Sequential
from tinynet.layers.activations import GELU
from tinynet.layers.attention import MultiheadAttention
from tinynet.layers.dense import Dense
from tinynet.layers.layernorm import LayerNorm
from tinynet.typing import DTypeLike

GPT_INIT = initializers.normal(0.02)
"""N(0, 0.02**2): GPT-2's initialization of its linear layers."""


def gpt_block(
    embed_dim: int,
    num_heads: int,
    *,
    mlp_ratio: int = 4,
    bias: bool = True,
    eps: float = 1e-5,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
    dtype: DTypeLike = np.float32,
) -> Sequential:
    """GPT-2's pre-norm block on (N, T, embed_dim): causal self-attention and a GELU MLP
    of width ``mlp_ratio * embed_dim``, each behind a `LayerNorm` and inside a
    `Residual` (see the module docstring for the layers and their names).

    Shapes: x (N, T, E) -> (N, T, E), dtype ``dtype``. The attention is initialized
    as PyTorch's, the MLP's Dense weights N(0, 0.02**2) as GPT-2's (biases zero);
    weights are drawn from ``rng`` or a generator seeded with ``seed``.
    """
    generator = initializers.make_rng(rng, seed)
    e = validation.positive_int("gpt_block", "embed_dim", embed_dim)
    hidden = validation.positive_int("gpt_block", "mlp_ratio", mlp_ratio) * e
    attention = MultiheadAttention(e, num_heads, bias=bias, causal=True, rng=generator, dtype=dtype)
    mlp = (
        Dense(e, hidden, bias=bias, init=GPT_INIT, rng=generator, dtype=dtype),
        GELU(),
        Dense(hidden, e, bias=bias, init=GPT_INIT, rng=generator, dtype=dtype),
    )
    return Sequential(
        Residual(Sequential(LayerNorm(e, eps, dtype=dtype), attention)),
        Residual(Sequential(LayerNorm(e, eps, dtype=dtype), *mlp)),
    )
