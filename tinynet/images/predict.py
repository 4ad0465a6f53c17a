"""`predict_images`: classify digit files with a model (``tinynet predict`` in Python).

It is the one predicting pipeline of `tinynet.prediction` (files into inputs, outputs
into answers), keeping one class and its probability per image.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import NamedTuple

import tinynet.prediction as pipeline  # a module import: prediction reads images too
from tinynet.layers.base import Layer
from tinynet.typing import Shape


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
    """Classify every image in ``paths`` (PGM, PNG, ``.npy`` batches, or image CSVs) with
    ``model``.

    Images are read by `tinynet.prediction.read_inputs` and fed in the model's dtype, in
    inference mode (the model's modes are restored afterwards), as samples of
    ``input_shape`` (`tinynet.datasets.model_layout`; a model file's ``INPUT_SHAPE``,
    which ``tinynet train --save`` stores in the file's metadata). Without one, the
    model's first layer decides (`tinynet.prediction.image_shape`): (C, H, W) images for
    a `tinynet.layers.Conv2d` of C input channels, else flat rows, what a
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
    files = list(paths)
    if not files:
        return []
    inputs = pipeline.read_inputs(files, invert)
    found = pipeline.predict_inputs(
        model, inputs, loss=loss, input_shape=input_shape, batch_size=batch_size
    )
    head, labels, probs = found.head, found.predictions, found.probabilities
    if probs is None or head.task not in ("multiclass", "binary"):
        raise ValueError(
            f"predict: the model's outputs are {head.describe()} (trained with loss "
            f"{loss!r}), not one class per image; nothing to classify"
        )
    confidence = head.confidence(probs, labels)
    return [
        Prediction(source, int(label), float(p))
        for source, label, p in zip(inputs.sources, labels, confidence, strict=True)
    ]
