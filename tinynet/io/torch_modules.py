"""``torch.nn`` modules for the tinynet layers that torch has no single-input module for.

`tinynet.io.to_torch` builds these, so that a converted sequence model is one
``nn.Sequential`` that calls each module with one tensor, as tinynet's ``Sequential``
does. Each subclasses the ``torch.nn`` module it wraps (same constructor arguments,
``state_dict`` names and layouts) and changes only what ``forward`` takes and returns:

- `RNN`, `LSTM`, `GRU`: ``forward(x)`` returns the output sequence alone (torch's
  first result; the final states are dropped), zero initial states.
- `SelfAttention`: an ``nn.MultiheadAttention`` with a ``causal`` flag;
  ``forward(x) = mha(x, x, x, attn_mask=triu(ones(T, T), 1) if causal,
  need_weights=False)[0]``.
- `PositionalEmbedding`: ``forward(x) = x + weight[:T]`` for x (N, T, D) (``weight``
  (max_len, D), as a GPT's ``wpe`` embedding of ``arange(T)``).
- `Residual`: ``forward(x) = x + block(x)``, tinynet's `tinynet.containers.Residual`
  (its sub-module is ``block``, so state-dict names are tinynet's: ``0.block.1.weight``).

Imports torch: `tinynet.io.torch_bridge` imports this module only when called.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class RNN(nn.RNN):
    """``nn.RNN`` whose ``forward(x)`` returns the output sequence only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        output: torch.Tensor = super().forward(x)[0]
        return output


class LSTM(nn.LSTM):
    """``nn.LSTM`` whose ``forward(x)`` returns the output sequence only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        output: torch.Tensor = super().forward(x)[0]
        return output


class GRU(nn.GRU):
    """``nn.GRU`` whose ``forward(x)`` returns the output sequence only."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        output: torch.Tensor = super().forward(x)[0]
        return output


class SelfAttention(nn.MultiheadAttention):
    """``nn.MultiheadAttention`` as self-attention on one tensor, optionally causal."""

    def __init__(self, *args: Any, causal: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        """x (N, T, E) ((T, N, E) if not ``batch_first``) -> the same shape."""
        steps = x.shape[1] if self.batch_first else x.shape[0]
        mask = None
        if self.causal:
            mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool, device=x.device), 1)
        output: torch.Tensor = super().forward(x, x, x, attn_mask=mask, need_weights=False)[0]
        return output

    def extra_repr(self) -> str:
        return "causal=True" if self.causal else ""


class PositionalEmbedding(nn.Module):
    """A learned vector per position added to x (N, T, D): ``x + weight[:T]``."""

    def __init__(
        self, max_len: int, embedding_dim: int, *, dtype: torch.dtype | None = None
    ) -> None:
        super().__init__()
        self.max_len, self.embedding_dim = max_len, embedding_dim
        self.weight = nn.Parameter(torch.empty(max_len, embedding_dim, dtype=dtype))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.weight[: x.shape[1]]

    def extra_repr(self) -> str:
        return f"{self.max_len}, {self.embedding_dim}"


class Residual(nn.Module):
    """A skip connection around ``block``: ``x + block(x)``. A block holding an in-place
    module (``ReLU(inplace=True)``) is given a copy of x, as tinynet's Residual does, so
    the skip path adds x as it came."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        writes = any(getattr(module, "inplace", False) for module in self.block.modules())
        output: torch.Tensor = x + self.block(x.clone() if writes else x)
        return output
