"""`model_layout`: samples in their natural shape, reshaped into the layout a model takes.

The data loaders give images as (N, H, W) (or (N, C, H, W)) and tables as (N, F); a
fully connected model wants rows (N, features), a convolutional one (N, C, H, W). This
is the one place where data is reshaped for a model.
"""

from __future__ import annotations

import math

from tinynet.datasets.errors import DataFormatError
from tinynet.typing import FloatArray, Shape


def model_layout(x: FloatArray, input_shape: Shape | None = None, source: str = "x") -> FloatArray:
    """``x`` (N, ...) as (N, *input_shape), or as flat rows (N, features) for ``None``.

    A view whenever ``x`` is contiguous (no copy). ``DataFormatError`` naming ``source``
    if the samples hold another number of values than ``input_shape``, or if they are
    not flat rows and their shape, but for axes of size 1, is not ``input_shape``'s
    ((N, 14, 56) images are not (1, 28, 28) ones: reshaping would scramble them).
    """
    if x.ndim == 0:
        raise DataFormatError(f"{source}: expected a batch of shape (N, ...), got a scalar")
    if input_shape is None:
        return x.reshape(x.shape[0], -1)
    shape = tuple(int(d) for d in input_shape)
    if math.prod(shape) != math.prod(x.shape[1:]):
        raise DataFormatError(
            f"{source}: samples of shape {x.shape[1:]} ({math.prod(x.shape[1:])} values) cannot "
            f"be laid out as the model's input shape {shape} ({math.prod(shape)} values)"
        )
    sample = x.shape[1:]
    if x.ndim > 2 and len(shape) > 1 and _without_ones(sample) != _without_ones(shape):
        raise DataFormatError(
            f"{source}: samples of shape {sample} are not the model's input shape {shape}; "
            f"reshaping would scramble them (give images of that shape, or flat rows)"
        )
    return x.reshape(x.shape[0], *shape)


def _without_ones(shape: Shape) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1)
