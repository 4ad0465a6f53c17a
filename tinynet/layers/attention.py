"""`MultiheadAttention`: scaled dot-product self-attention over (N, T, E) sequences."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from tinynet import init as initializers
from tinynet import limits, validation
from tinynet.layers.base import Layer
from tinynet.layers.dense import Dense
from tinynet.parameter import Parameter
from tinynet.typing import DTypeLike, FloatArray


class _Saved(NamedTuple):
    """What backward needs: the input rows (N*T, E), q, k, v (N, heads, T, d) and the
    attention probabilities (N, heads, T, T)."""

    rows: FloatArray
    q: FloatArray
    k: FloatArray
    v: FloatArray
    probs: FloatArray


class MultiheadAttention(Layer):
    """Multi-head self-attention: PyTorch's ``MultiheadAttention`` called as
    ``mha(x, x, x)``, returning only the output.

    Shapes: x (N, T, embed_dim) -> y (N, T, embed_dim), same dtype ((T, N, E) both with
    ``batch_first=False``). With ``d = embed_dim // num_heads``:
    ``q, k, v = split(x @ in_proj_weight.T + in_proj_bias)``, each cut into
    ``num_heads`` heads of width d; per head ``softmax(q @ k.T / sqrt(d)) @ v``; the
    heads side by side go through ``out_proj``. ``causal=True`` lets position t attend
    to positions <= t only: PyTorch's ``attn_mask=torch.triu(torch.ones(T, T,
    dtype=torch.bool), 1)``.

    Parameters, PyTorch's names: ``in_proj_weight`` (3E, E) in PyTorch's layout,
    ``in_proj_bias`` (3E,), and ``out_proj``, a `Dense` (E, E), so ``out_proj.weight``
    is stored (in, out) as every Dense weight is (the file formats and bridges
    transpose Dense weights to PyTorch's (out, in)); ``bias=False`` drops both biases.
    Initialization as in PyTorch: ``in_proj_weight`` Glorot uniform, ``out_proj.weight``
    U(-1/sqrt(E), 1/sqrt(E)), biases zero; from ``rng`` or a generator seeded with
    ``seed``. dtype: ``dtype`` (float32 by default); the input must match it. A given
    ``out_proj`` (a `Dense` (E, E), biased as ``bias`` says, of dtype ``dtype``) is
    used as it is instead of a fresh one (what loading does).

    Cost and memory: the projections are one product each over all N*T positions;
    scores and their gradient are batched products over (N, heads). Training keeps
    the probabilities, (N, heads, T, T), the memory that grows with T squared.
    """

    in_proj_weight: Parameter
    in_proj_bias: Parameter | None

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        bias: bool = True,
        batch_first: bool = True,
        causal: bool = False,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: DTypeLike = np.float32,
        out_proj: Dense | None = None,
    ) -> None:
        super().__init__()
        self.embed_dim = validation.positive_int("MultiheadAttention", "embed_dim", embed_dim)
        self.num_heads = validation.positive_int("MultiheadAttention", "num_heads", num_heads)
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                f"embed_dim={self.embed_dim} and num_heads={self.num_heads}"
            )
        self.bias, self.batch_first, self.causal = bool(bias), bool(batch_first), bool(causal)
        if out_proj is not None:
            self._check_out_proj(out_proj, np.dtype(dtype))
        generator = initializers.make_rng(rng, seed)
        e = self.embed_dim
        self.in_proj_weight = Parameter(initializers.glorot_uniform((3 * e, e), generator, dtype))
        self.in_proj_bias = Parameter(initializers.full((3 * e,), 0, dtype)) if self.bias else None
        self.out_proj = out_proj if out_proj is not None else self._fresh_out_proj(generator, dtype)
        self._saved: _Saved | None = None
        self._mask: FloatArray | None = None

    def _fresh_out_proj(self, generator: np.random.Generator, dtype: DTypeLike) -> Dense:
        """A new ``out_proj``: Dense (E, E), U(-1/sqrt(E), 1/sqrt(E)) as PyTorch draws it."""
        e, bound = self.embed_dim, 1.0 / math.sqrt(self.embed_dim)
        init = initializers.uniform(-bound, bound)
        return Dense(e, e, bias=self.bias, init=init, rng=generator, dtype=dtype)

    def _check_out_proj(self, out_proj: Dense, dtype: np.dtype[Any]) -> None:
        """A given ``out_proj`` must be the Dense (E, E) a fresh one would be."""
        e = self.embed_dim
        expected = {"in_features": e, "out_features": e, "bias": self.bias}
        if out_proj.config() != expected or out_proj.weight.dtype != dtype:
            raise ValueError(
                f"MultiheadAttention: expected out_proj Dense({e}, {e}, bias={self.bias}) of "
                f"dtype {dtype}, got {out_proj!r} of dtype {out_proj.weight.dtype}"
            )

    @property
    def head_dim(self) -> int:
        """The width of each head, ``embed_dim // num_heads``."""
        return self.embed_dim // self.num_heads

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, T, E) -> self-attention output (N, T, E), a new array of x's dtype."""
        dtype = self.in_proj_weight.dtype
        validation.float_array(self, x, ndim=3, last=self.embed_dim, dtype=dtype)
        batch = x if self.batch_first else x.transpose(1, 0, 2)
        n, steps, e = batch.shape
        what = f"projections and ({self.num_heads}, {steps}, {steps}) attention weights"
        held = 4 * steps * e + self.num_heads * steps * steps
        limits.require_sample_elements(self, what, held)
        rows = batch.reshape(n * steps, e)
        qkv = rows @ self.in_proj_weight.data.T
        if self.in_proj_bias is not None:
            qkv += self.in_proj_bias.data
        # (N*T, 3E) -> (3, N, heads, T, d): q, k and v per head
        q, k, v = qkv.reshape(n, steps, 3, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        scores = q @ k.transpose(0, 1, 3, 2)
        scores *= 1.0 / math.sqrt(self.head_dim)
        if self.causal:
            scores += self._future_mask(steps, scores.dtype)
        probs = scores
        probs -= probs.max(axis=-1, keepdims=True)
        np.exp(probs, out=probs)
        probs /= probs.sum(axis=-1, keepdims=True)
        heads = (probs @ v).transpose(0, 2, 1, 3).reshape(n * steps, e)
        self._saved = _Saved(rows, q, k, v, probs) if self.training else None
        y = self.out_proj.forward(heads).reshape(n, steps, e)
        return y if self.batch_first else y.transpose(1, 0, 2)

    def _future_mask(self, steps: int, dtype: np.dtype[Any]) -> FloatArray:
        """(T, T): -inf above the diagonal (a later position), 0 elsewhere; kept. Adding
        it is ~13x faster than assigning -inf through a boolean mask."""
        mask = self._mask
        if mask is None or mask.shape[0] != steps or mask.dtype != dtype:
            future = np.triu(np.ones((steps, steps), bool), 1)
            mask = self._mask = np.where(future, -np.inf, 0.0).astype(dtype)
        return mask

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (x's shape) -> grad_x (x's shape); accumulates every parameter's grad."""
        grad_qkv, n, steps = self._backward_to_projection(grad_y)
        grad_rows: FloatArray = grad_qkv @ self.in_proj_weight.data
        grad_x = grad_rows.reshape(n, steps, self.embed_dim)
        return grad_x if self.batch_first else grad_x.transpose(1, 0, 2)

    def backward_params(self, grad_y: FloatArray) -> None:
        """Accumulate the parameters' gradients only (no input gradient)."""
        self._backward_to_projection(grad_y)

    def _backward_to_projection(self, grad_y: FloatArray) -> tuple[FloatArray, int, int]:
        """Accumulate every gradient; return dLoss/d(qkv) (N*T, 3E), N and T."""
        saved = self.saved(self._saved)
        n, heads, steps, d = saved.q.shape
        shape = (n, steps, self.embed_dim) if self.batch_first else (steps, n, self.embed_dim)
        validation.same_shape(self, grad_y, shape, "grad_y", dtype=saved.rows.dtype)
        self._saved = None  # consumed: one backward per forward
        grad = grad_y if self.batch_first else grad_y.transpose(1, 0, 2)
        grad_heads = self.out_proj.backward(grad.reshape(n * steps, self.embed_dim))
        grad_out = grad_heads.reshape(n, steps, heads, d).transpose(0, 2, 1, 3)
        grad_qkv = np.empty((n, steps, 3, heads, d), saved.rows.dtype)
        grad_q, grad_k, grad_v = grad_qkv.transpose(2, 0, 3, 1, 4)
        np.matmul(saved.probs.transpose(0, 1, 3, 2), grad_out, out=grad_v)
        grad_scores = grad_out @ saved.v.transpose(0, 1, 3, 2)  # dLoss/dprobs for now
        # softmax backward: ds = p * (dp - sum(dp * p)); masked entries have p = 0
        grad_scores -= np.sum(grad_scores * saved.probs, axis=-1, keepdims=True)
        grad_scores *= saved.probs
        grad_scores *= 1.0 / math.sqrt(d)
        np.matmul(grad_scores, saved.k, out=grad_q)
        np.matmul(grad_scores.transpose(0, 1, 3, 2), saved.q, out=grad_k)
        flat = grad_qkv.reshape(n * steps, 3 * self.embed_dim)
        self.in_proj_weight.grad += flat.T @ saved.rows
        if self.in_proj_bias is not None:
            self.in_proj_bias.grad += flat.sum(axis=0)
        return flat, n, steps

    @classmethod
    def from_config(cls, config: dict[str, Any], children: list[Layer]) -> MultiheadAttention:
        """``cls(**config)``, with the rebuilt ``out_proj`` as its ``out_proj`` if given
        (so no fresh one is drawn: a loader's memory budget counts it once, as the
        sub-layer it is)."""
        if not children:
            return cls(**config)
        (out_proj,) = children
        if not isinstance(out_proj, Dense):
            raise ValueError(
                f"MultiheadAttention: expected out_proj to be a Dense, got {out_proj!r}"
            )
        return cls(**config, out_proj=out_proj, dtype=out_proj.weight.dtype)

    def extra_repr(self) -> str:
        parts = [f"{self.embed_dim}, num_heads={self.num_heads}"]
        if not self.bias:
            parts.append("bias=False")
        if not self.batch_first:
            parts.append("batch_first=False")
        if self.causal:
            parts.append("causal=True")
        return ", ".join(parts)

    def config(self) -> dict[str, Any]:
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "causal": self.causal,
        }
