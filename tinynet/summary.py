"""Looking at a model without changing it: `probing` runs forwards and then restores
every layer, `summary` tabulates each layer's output shape and parameter count, and
`default_input_shape` tells one sample's shape from the first layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from tinynet.layers.base import Layer
from tinynet.layers.embedding import takes_tokens
from tinynet.typing import Shape


@contextmanager
def probing(model: Layer) -> Iterator[None]:
    """Run forwards of ``model`` in inference mode, then restore every attribute of every
    layer (caches, modes): a summary or a shape probe between a forward and its backward
    leaves the backward as it was."""
    snapshot = [(layer, dict(vars(layer))) for layer in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for layer, attributes in snapshot:
            vars(layer).clear()
            vars(layer).update(attributes)


def default_input_shape(model: Layer, owner: str) -> Shape:
    """One sample's shape as ``model``'s first leaf layer tells it: ``(in_features,)`` or
    ``(num_features,)``. ``ValueError`` (its message headed by ``owner``) when that layer
    has neither, as an activation or `Flatten` (the sample's shape is then not known)."""
    first = next((m for m in model.modules() if next(m.named_children(), None) is None), None)
    features = getattr(first, "in_features", getattr(first, "num_features", None))
    if not isinstance(features, int):
        raise ValueError(
            f"{owner}: cannot tell the input shape from {first!r}; pass input_shape, one "
            f"sample's shape, e.g. input_shape=(784,)"
        )
    return (features,)


def summary(
    model: Layer,
    input_shape: Shape | None = None,
    *,
    print_fn: Callable[[str], object] | None = print,
) -> str:
    """A table of each of ``model``'s children, its output shape and parameter count,
    printed by ``print_fn`` (``None``: not printed) and returned, as Keras's.

    ``input_shape`` is one sample's shape, e.g. ``(784,)`` (default: `default_input_shape`);
    a model that starts with an `Embedding` is given int64 token indices (index 0),
    ``input_shape=(T,)``. The shapes come from one zero sample run through the model
    under `probing`, so custom layers need nothing extra and a summary between a forward
    and its backward leaves the backward cache (and the modes) as they were.
    """
    shape = (
        input_shape
        if input_shape is not None
        else default_input_shape(model, f"{type(model).__name__}.summary")
    )
    x = np.zeros((1, *shape), np.int64 if takes_tokens(model) else model.dtype)
    rows = [("Layer", "Output shape", "Params")]
    with probing(model):
        for name, layer in model.named_children():
            x = layer(x)
            out = "(None, " + ", ".join(map(str, x.shape[1:])) + ")"
            label = repr(layer) if "\n" not in repr(layer) else f"{type(layer).__name__}(...)"
            rows.append((f"({name}) {label}", out, f"{layer.num_parameters():,}"))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    rule = "-" * (sum(widths) + 4)
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c:>{widths[2]}}" for a, b, c in rows]
    text = "\n".join(
        [lines[0], rule, *lines[1:], rule, f"Total params: {model.num_parameters():,}"]
    )
    if print_fn is not None:
        print_fn(text)
    return text
