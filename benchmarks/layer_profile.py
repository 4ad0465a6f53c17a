"""Where a text model's training step spends its time, layer class by layer class.

`profile_steps` wraps the ``forward``, ``backward`` and ``backward_params`` of every
leaf layer (and of each `MultiheadAttention`, whose ``out_proj`` is also counted under
Dense) with a timer, runs warm-up steps and then timed ones, and returns milliseconds
per step by part of the step (forward, loss, backward, optimizer) and by layer class
and method. A layer's ``backward`` may call its ``backward_params``: that time is in
both rows. The timers cost a few microseconds a call: the parts add up to a little
more than an unwrapped step.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from tinynet import CrossEntropyLoss, MultiheadAttention
from tinynet.layers.base import Layer
from tinynet.lm import forward_tokens
from tinynet.optim import Optimizer
from tinynet.typing import IntArray

METHODS = ("forward", "backward", "backward_params")


def wrap(layer: Layer, method: str, totals: dict[tuple[str, str], float]) -> None:
    """Replace ``layer.method`` by a wrapper adding its seconds to ``totals[(class, method)]``."""
    original: Callable[..., Any] = getattr(layer, method)
    key = (type(layer).__name__, method)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(layer, method, wrapper)


def profile_steps(
    model: Layer,
    optimizer: Optimizer,
    batches: list[tuple[IntArray, IntArray]],
    steps: int,
    warmup: int = 3,
) -> dict[str, Any]:
    """Train ``model`` (int64 (N, T) -> logits (N, T, vocab)) for ``warmup`` then ``steps``
    steps on ``batches`` (cycled); ms per timed step: ``{"step_ms", "parts": {part: ms},
    "layers": [{"layer", "method", "ms"}, ...]}``, the layers slowest first. The
    model's methods stay wrapped: profile a copy."""
    layers: dict[tuple[str, str], float] = defaultdict(float)
    parts: dict[str, float] = defaultdict(float)
    for layer in model.modules():
        if not list(layer.named_children()) or isinstance(layer, MultiheadAttention):
            for method in METHODS:
                wrap(layer, method, layers)
    loss = CrossEntropyLoss()
    model.train()
    for step in range(warmup + steps):
        if step == warmup:
            layers.clear()
            parts.clear()
        x, y = batches[step % len(batches)]
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
    ms = 1000 / steps
    rows = sorted(layers.items(), key=lambda kv: -kv[1])
    return {
        "steps": steps,
        "step_ms": sum(parts.values()) * ms,
        "parts": {name: seconds * ms for name, seconds in parts.items()},
        "layers": [{"layer": c, "method": m, "ms": seconds * ms} for (c, m), seconds in rows],
    }
