"""PyTorch CPU: the same text model, weights, batches and AdamW as tinynet's.

The model is `tinynet.io.to_torch` of tinynet's (the same layers, weights copied before
tinynet trains them), so the two are one network: on the same batch they compute the
same loss. Training is the loop PyTorch users write: ``model(x)``,
``F.cross_entropy`` over the (N * T, vocab) logits, ``zero_grad``, ``backward``,
``torch.optim.AdamW`` with the recipe's arguments (its default, for-loop, update on
CPU). Tokens are ``torch.from_numpy`` views of the same int64 arrays: no copy is timed.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.timing import BatchCursor, timed
from tinynet.io import to_torch
from tinynet.layers.base import Layer
from tinynet.lm import TextRecipe
from tinynet.typing import IntArray


class TorchTextSteps:
    """``to_torch(model)`` trained with ``torch.optim.AdamW(**recipe.optimizer_args)``."""

    def __init__(
        self, model: Layer, recipe: TextRecipe, x: IntArray, y: IntArray, batch: int
    ) -> None:
        if recipe.optimizer != "adamw":
            raise ValueError(
                f"benchmarks: the torch text peer runs AdamW recipes, got {recipe.optimizer!r}"
            )
        self.model = to_torch(model).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), **recipe.optimizer_args)
        self.loss = nn.CrossEntropyLoss()
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.cursor = BatchCursor(len(x), batch)

    def step(self, start: int) -> float:
        """One step on the batch of rows from ``start``; its loss."""
        b = self.cursor.batch
        logits = self.model(self.x[start : start + b])
        loss = self.loss(logits.flatten(0, 1), self.y[start : start + b].flatten())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.item())

    def steps(self, n: int) -> float:
        """Run ``n`` steps; return their seconds."""
        starts = self.cursor.take(n)
        return timed(lambda: [self.step(i) for i in starts])
