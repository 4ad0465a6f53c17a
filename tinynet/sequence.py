"""Building blocks for sequence models: `TimeDistributed` and `gpt_block`.

`gpt_block` is GPT-2's pre-norm transformer block made of tinynet's layers and
containers::

    Sequential(
        Residual(Sequential(LayerNorm(E), MultiheadAttention(E, heads, causal=True))),
        Residual(Sequential(LayerNorm(E), TimeDistributed(Sequential(
            Dense(E, 4E), GELU(), Dense(4E, E))))),
    )

that is ``x = x + attn(ln1(x))`` then ``x = x + mlp(ln2(x))``, on (N, T, E).
"""

from __future__ import annotations

import numpy as np

from tinynet import init as initializers
from tinynet import validation
from tinynet.containers import Residual, Sequential, may_alias_input, writes_input
from tinynet.layers.activations import GELU
from tinynet.layers.attention import MultiheadAttention
from tinynet.layers.base import Layer
from tinynet.layers.dense import Dense
from tinynet.layers.layernorm import LayerNorm
from tinynet.typing import DTypeLike, FloatArray, Shape

GPT_INIT = initializers.normal(0.02)
"""N(0, 0.02**2): GPT-2's initialization of its linear layers."""


class TimeDistributed(Layer):
    """Apply ``layer`` to every position of a sequence: Keras's ``TimeDistributed``.

    x (N, T, ...) is seen by ``layer`` as N*T rows (N*T, ...), and its output
    (N*T, ...) is handed on as (N, T, ...). This is how a `Dense` (which takes (N, in))
    maps each position of (N, T, in). Parameters are ``layer.<its names>``.
    """

    def __init__(self, layer: Layer) -> None:
        super().__init__()
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed: expected a Layer, got {type(layer).__name__}")
        self.layer = layer
        self.inplace = writes_input(layer)
        self.aliases_input = may_alias_input(layer)
        self.saves_output = any(module.saves_output for module in layer.modules())
        self._shape: Shape | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, T, ...) -> layer(x as (N*T, ...)) as (N, T, ...)."""
        validation.float_array(self, x)
        if x.ndim < 3:
            raise ValueError(f"{self!r}: expected input of shape (N, T, ...), got {x.shape}")
        n, steps = x.shape[:2]
        y = self.layer.forward(x.reshape(n * steps, *x.shape[2:]))
        self._shape = x.shape if self.training else None
        return y.reshape(n, steps, *y.shape[1:])

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, T, ...) -> grad_x (N, T, ...), through ``layer``'s backward."""
        shape = self.saved(self._shape)
        self._shape = None  # consumed: one backward per forward
        grad = self.layer.backward(self._rows(grad_y, shape))
        return grad.reshape(shape)

    def backward_params(self, grad_y: FloatArray) -> None:
        """``layer``'s parameter gradients only."""
        shape = self.saved(self._shape)
        self._shape = None
        self.layer.backward_params(self._rows(grad_y, shape))

    def _rows(self, grad_y: FloatArray, shape: Shape) -> FloatArray:
        validation.float_array(self, grad_y, name="grad_y")
        if grad_y.shape[:2] != shape[:2]:
            raise ValueError(
                f"{self!r}: expected grad_y of shape ({shape[0]}, {shape[1]}, ...), "
                f"got shape {grad_y.shape}"
            )
        return grad_y.reshape(shape[0] * shape[1], *grad_y.shape[2:])

    def __repr__(self) -> str:
        return "TimeDistributed(\n  (layer): " + repr(self.layer).replace("\n", "\n  ") + "\n)"


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
    mlp = Sequential(
        Dense(e, hidden, bias=bias, init=GPT_INIT, rng=generator, dtype=dtype),
        GELU(),
        Dense(hidden, e, bias=bias, init=GPT_INIT, rng=generator, dtype=dtype),
    )
    return Sequential(
        Residual(Sequential(LayerNorm(e, eps, dtype=dtype), attention)),
        Residual(Sequential(LayerNorm(e, eps, dtype=dtype), TimeDistributed(mlp))),
    )
