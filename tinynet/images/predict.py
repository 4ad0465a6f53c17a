"""`predict_images`: classify digit files with a model (``tinynet predict`` in Python)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tinynet.containers import first_layer
from tinynet.datasets.layout import model_layout
from tinynet.heads import require_head
from tinynet.images.common import SIZE
from tinynet.images.load import read
from tinynet.inference import forward_in_batches
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
    restored afterwards), as samples of ``input_shape`` (`tinynet.datasets.model_layout`; a
    model file's ``INPUT_SHAPE``, which ``tinynet train --save`` stores in the file's
    metadata). Without one, the model's first layer decides (`image_shape`): (C, 28, 28)
    images for a `tinynet.layers.Conv2d` of C input channels, else (784,) rows, what a
    `tinynet.layers.Dense` takes. The model's outputs (N, classes) are read by
    `tinynet.heads` (``loss``: the recipe loss that trained it, if known): the label and
    its probability (a one-logit binary model: ``logit > 0`` and its sigmoid). Returns
    one `Prediction` per image, in order.
    """
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise TypeError(
            f"predict_images: expected a list of image paths, got one path {str(paths)!r}; "
            f"pass [path]"
        )
    sources: list[str] = []
    batches: list[FloatArray] = []
    for path in paths:
        images, is_batch = read(Path(path), invert)
        sources += [f"{path}[{i}]" for i in range(len(images))] if is_batch else [str(path)]
        batches.append(images)
    if not batches:
        return []
    shape = image_shape(model) if input_shape is None else input_shape
    x = model_layout(np.concatenate(batches), shape, "predict").astype(model.dtype)
    outputs = forward_in_batches(model, x, batch_size)
    head = require_head(model, loss, outputs, "predict")
    probs = head.probabilities(outputs)
    if probs is None or head.task not in ("multiclass", "binary"):
        raise ValueError(
            f"predict: the model's outputs are {head.describe()} (trained with loss "
            f"{loss!r}), not one class per image; nothing to classify"
        )
    labels = head.predict(outputs)
    confidence = head.confidence(probs, labels)
    return [
        Prediction(source, int(label), float(p))
        for source, label, p in zip(sources, labels, confidence, strict=True)
    ]


def image_shape(model: Layer, image: Shape = (SIZE, SIZE)) -> Shape:
    """One image's shape, (H, W) or (C, H, W), as ``model`` takes it, read from its first
    layer: (in_channels, H, W) before a convolution, else flat rows (H * W * ...,)."""
    channels = getattr(first_layer(model), "in_channels", None)
    if isinstance(channels, int):
        return (channels, *image[-2:])
    return (math.prod(image),)
