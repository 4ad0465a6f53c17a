"""Lookup tables for sequences: `Embedding` (token indices -> vectors) and
`PositionalEmbedding` (a learned vector added at each position)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinynet import init as initializers
from tinynet import limits, validation
from tinynet.layers.base import Layer
from tinynet.parameter import Parameter
from tinynet.typing import Array, DTypeLike, FloatArray, IntArray

STANDARD_NORMAL = initializers.normal(1.0)
"""N(0, 1): PyTorch's ``Embedding`` initialization."""

GPT_NORMAL = initializers.normal(0.02)
"""N(0, 0.02**2): GPT-2's initialization of its embeddings."""


def takes_tokens(model: Layer) -> bool:
    """Whether ``model`` reads integer token indices: its first leaf layer (the first
    layer without sub-layers, in ``modules()`` order) is an `Embedding`. Inputs are
    then (N, T) integers (int64 as PyTorch's), not floats."""
    first = next((m for m in model.modules() if next(m.named_children(), None) is None), None)
    return isinstance(first, Embedding)


class Embedding(Layer):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by index
    (PyTorch's ``Embedding``).

    Shapes: indices (N, T) of an integer dtype (int64 as PyTorch's; any integer dtype
    is read), each in ``[0, num_embeddings)``, -> y (N, T, embedding_dim) with
    ``y[n, t] = weight[indices[n, t]]``. Any number of index axes works alike: (N,)
    gives (N, D). ``weight`` is (num_embeddings, embedding_dim), PyTorch's layout and
    name. dtype: ``dtype`` (float32 by default) for the weight and the output.

    ``init`` draws the weight, N(0, 1) by default as PyTorch does (any key of
    `tinynet.init.INITIALIZERS` or an initializer function), from ``rng`` or a
    generator seeded with ``seed``.

    Backward: ``weight.grad[i] += `` the sum of ``grad_y`` over the positions holding
    index ``i``. Indices have no gradient, so ``backward`` returns ``None``. An
    `Embedding` is meant to be the first layer of a model: ``Sequential.backward``
    then returns that ``None`` (nothing upstream needs a gradient), and
    ``Sequential.backward_params`` (what ``fit`` calls) skips the input gradient of its
    first layer anyway. Any layer placed before an Embedding would receive ``None``
    as its output gradient and refuse it.
    """

    weight: Parameter

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        init: str | initializers.Initializer = STANDARD_NORMAL,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.num_embeddings = validation.positive_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = validation.positive_int("Embedding", "embedding_dim", embedding_dim)
        shape = (self.num_embeddings, self.embedding_dim)
        generator = initializers.make_rng(rng, seed)
        self.weight = Parameter(initializers.get(init)(shape, generator, dtype))
        self._indices: IntArray | None = None

    def forward(self, x: Array) -> FloatArray:
        """indices (N, T) integers -> weight rows (N, T, embedding_dim), weight's dtype."""
        indices = self._check_indices(x)
        y: FloatArray = self.weight.data[indices]
        self._indices = indices if self.training else None
        return y

    def _check_indices(self, x: object) -> IntArray:
        if not isinstance(x, np.ndarray):
            raise TypeError(
                f"{self!r}: expected indices as an integer numpy array, "
                f"got {validation.describe(x)}"
            )
        if x.dtype.kind not in "iu":
            raise TypeError(
                f"{self!r}: expected integer indices (int64), got dtype {x.dtype}; "
                f"convert with x.astype(np.int64)"
            )
        if x.ndim == 0:
            raise ValueError(f"{self!r}: expected indices of shape (N, T), got a scalar")
        rows = limits.product(x.shape[1:]) * self.embedding_dim
        limits.require_sample_elements(self, f"output (..., {self.embedding_dim})", rows)
        if x.size and (int(x.min()) < 0 or int(x.max()) >= self.num_embeddings):
            where = np.argwhere((x < 0) | (x >= self.num_embeddings))
            first = tuple(int(i) for i in where[0])
            raise ValueError(
                f"{self!r}: indices must lie in [0, {self.num_embeddings}), got {int(x[first])} "
                f"at position {first} ({len(where)} of {x.size} out of range)"
            )
        return x

    def backward(self, grad_y: FloatArray) -> None:  # type: ignore[override]
        """grad_y (N, T, embedding_dim) -> ``None`` (indices have no gradient);
        accumulates ``weight.grad``."""
        self.backward_params(grad_y)

    def backward_params(self, grad_y: FloatArray) -> None:
        """Add each position's ``grad_y`` row into the weight row it was read from."""
        indices = self.saved(self._indices)
        shape = (*indices.shape, self.embedding_dim)
        validation.same_shape(self, grad_y, shape, "grad_y", dtype=self.weight.dtype)
        self._indices = None  # consumed: one backward per forward
        np.add.at(self.weight.grad, indices.reshape(-1), grad_y.reshape(-1, self.embedding_dim))

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"

    def config(self) -> dict[str, Any]:
        return {"num_embeddings": self.num_embeddings, "embedding_dim": self.embedding_dim}


class PositionalEmbedding(Layer):
    """A learned vector per position, added to a sequence: GPT's position embedding.

    ``y[n, t] = x[n, t] + weight[t]``. Shapes: x (N, T, embedding_dim) with
    ``T <= max_len`` -> y of x's shape and dtype; ``weight`` is (max_len, embedding_dim).
    It equals PyTorch's ``x + wpe(torch.arange(T))`` with ``wpe = nn.Embedding(max_len,
    embedding_dim)`` (state-dict name ``weight``, the same layout). ``init`` draws the
    weight, N(0, 0.02**2) by default as GPT-2 does, from ``rng`` or ``seed``.

    Backward: ``weight.grad[:T] += grad_y.sum(axis=0)``; ``grad_x = grad_y``.
    """

    weight: Parameter

    def __init__(
        self,
        max_len: int,
        embedding_dim: int,
        *,
        init: str | initializers.Initializer = GPT_NORMAL,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self.max_len = validation.positive_int("PositionalEmbedding", "max_len", max_len)
        self.embedding_dim = validation.positive_int(
            "PositionalEmbedding", "embedding_dim", embedding_dim
        )
        shape = (self.max_len, self.embedding_dim)
        generator = initializers.make_rng(rng, seed)
        self.weight = Parameter(initializers.get(init)(shape, generator, dtype))
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, T, embedding_dim) -> x + weight[:T], a new array of x's shape and dtype."""
        validation.float_array(self, x, ndim=3, last=self.embedding_dim, dtype=self.weight.dtype)
        if x.shape[1] > self.max_len:
            raise ValueError(
                f"{self!r}: expected at most max_len={self.max_len} positions, "
                f"got input of shape {x.shape}"
            )
        self._shape = x.shape if self.training else None
        y: FloatArray = x + self.weight.data[: x.shape[1]]
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, T, embedding_dim) -> grad_x = grad_y (the same array);
        accumulates ``weight.grad[:T]``."""
        self.backward_params(grad_y)
        return grad_y

    def backward_params(self, grad_y: FloatArray) -> None:
        """``weight.grad[:T] += grad_y.sum(axis=0)``."""
        shape = self.saved(self._shape)
        validation.same_shape(self, grad_y, shape, "grad_y", dtype=self.weight.dtype)
        self._shape = None  # consumed: one backward per forward
        self.weight.grad[: shape[1]] += grad_y.sum(axis=0)

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.embedding_dim}"

    def config(self) -> dict[str, Any]:
        return {"max_len": self.max_len, "embedding_dim": self.embedding_dim}
