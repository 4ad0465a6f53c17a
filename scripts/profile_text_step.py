"""Where a text model's training step spends its time, layer by layer.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python scripts/profile_text_step.py models/char_gpt.py

Wraps the ``forward``, ``backward`` and ``backward_params`` of every leaf layer (and of
each `MultiheadAttention`, whose ``out_proj`` is also counted under Dense) with a
timer, runs a few warm-up steps and then ``--steps`` timed ones on one random batch
of the recipe's shape, and prints milliseconds per step by part and by layer class.
A layer's ``backward`` may call its ``backward_params``: that time is in both rows.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

from tinynet import CrossEntropyLoss, MultiheadAttention
from tinynet.layers.base import Layer
from tinynet.lm import forward_tokens
from tinynet.modelfile import import_path

METHODS = ("forward", "backward", "backward_params")


def timed(layer: Layer, method: str, totals: dict[tuple[str, str], float]) -> None:
    """Replace ``layer.method`` by a wrapper adding its time to ``totals``."""
    original: Callable[..., Any] = getattr(layer, method)
    key = (type(layer).__name__, method)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(layer, method, wrapper)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_file")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    module = import_path(args.model_file)
    model, recipe = module.build(0), module.TEXT_RECIPE
    optimizer, loss = recipe.make_optimizer(model), CrossEntropyLoss()
    layers: dict[tuple[str, str], float] = defaultdict(float)
    parts: dict[str, float] = defaultdict(float)
    for layer in model.modules():
        if not list(layer.named_children()) or isinstance(layer, MultiheadAttention):
            for method in METHODS:
                timed(layer, method, layers)
    rng = np.random.default_rng(0)
    x, y = (rng.integers(0, 65, (recipe.batch_size, recipe.context)) for _ in range(2))
    for step in range(args.steps + 3):
        if step == 3:
            layers.clear()
            parts.clear()
        start = time.perf_counter()
        logits = forward_tokens(model, x)
        parts["forward"] += (now := time.perf_counter()) - start
        loss.forward(logits, y)
        grad = loss.backward()
        parts["loss"] += (start := time.perf_counter()) - now
        model.backward_params(grad)
        parts["backward"] += (now := time.perf_counter()) - start
        optimizer.step()
        optimizer.zero_grad()
        parts["optimizer"] += time.perf_counter() - now
    print(f"step {sum(parts.values()) / args.steps * 1000:.1f} ms")
    for name, seconds in parts.items():
        print(f"  {name:10s} {seconds / args.steps * 1000:8.2f} ms")
    for (cls, method), seconds in sorted(layers.items(), key=lambda kv: -kv[1]):
        print(f"  {cls:20s} {method:16s} {seconds / args.steps * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
