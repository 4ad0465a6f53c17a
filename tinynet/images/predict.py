"""`predict_images`: classify digit files with a model, for ``tinynet predict``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tinynet.containers import first_layer
from tinynet.data import as_layout
from tinynet.images.common import SIZE
from tinynet.images.load import read
from tinynet.inference import forward_in_batches, probabilities
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, Shape


class Prediction(NamedTuple):
    """One image's predicted class: ``source`` is the path (``path[i]`` for row ``i`` of
    an ``.npy`` batch), ``label`` the class index, ``probability`` its probability."""

    source: str
    label: int
    probability: float


def predict_images(
    model: Layer,
    paths: Iterable[str | os.PathLike[str]],
    *,
    invert: bool = False,
    batch_size: int = 1024,
    loss: str | None = None,
    input_shape: Shape | None = None,
) -> list[Prediction]:
    """Classify every image in ``paths`` (PGM, PNG, or ``.npy`` batches) with ``model``.

    Images are fed in the model's dtype, in inference mode (the model's modes are
    restored afterwards), as samples of ``input_shape`` (`tinynet.data.as_layout`; a
    model file's ``INPUT_SHAPE``, which ``tinynet train --save`` stores in the file's
    metadata). Without one, the model's first layer decides (`image_shape`): (C, 28, 28)
    images for a `tinynet.layers.Conv2d` of C input channels, else (784,) rows, what a
    `tinynet.layers.Dense` takes. The model's outputs (N, classes) become probabilities
    by `tinynet.inference.probabilities` (``loss``: the recipe loss that trained it, if
    known). Returns one `Prediction` per image, in order.
    """
    sources: list[str] = []
    batches: list[FloatArray] = []
    for path in paths:
        images, is_batch = read(Path(path), invert)
        sources += [f"{path}[{i}]" for i in range(len(images))] if is_batch else [str(path)]
        batches.append(images)
    if not batches:
        return []
    shape = image_shape(model) if input_shape is None else input_shape
    x = as_layout(np.concatenate(batches), shape).astype(model.dtype)
    probs = probabilities(model, forward_in_batches(model, x, batch_size), loss)
    if probs is None:
        raise ValueError(
            f"predict: the model's outputs are values (trained with loss {loss!r}), "
            f"not class scores; nothing to classify"
        )
    labels = probs.argmax(axis=1)
    return [
        Prediction(source, int(label), float(row[label]))
        for source, label, row in zip(sources, labels, probs, strict=True)
    ]


def image_shape(model: Layer) -> Shape:
    """One 28x28 image's shape as ``model`` takes it, read from its first layer:
    (in_channels, 28, 28) before a convolution, else flat rows (784,)."""
    channels = getattr(first_layer(model), "in_channels", None)
    if isinstance(channels, int):
        return (channels, SIZE, SIZE)
    return (SIZE * SIZE,)
