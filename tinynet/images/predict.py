"""`predict_images`: classify digit files with a model, for ``tinynet predict``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from tinynet.images.common import SIZE
from tinynet.images.load import read
from tinynet.layers.activations import Softmax
from tinynet.layers.base import Layer
from tinynet.train import model_dtype, predict_proba
from tinynet.typing import FloatArray


class Prediction(NamedTuple):
    """One image's predicted class: ``source`` is the path (``path[i]`` for row ``i`` of
    an ``.npy`` batch), ``label`` the class index, ``probability`` its softmax score."""

    source: str
    label: int
    probability: float


def predict_images(
    model: Layer,
    paths: Iterable[str | os.PathLike[str]],
    *,
    invert: bool = False,
    batch_size: int = 1024,
) -> list[Prediction]:
    """Classify every image in ``paths`` (PGM, PNG, or ``.npy`` batches) with ``model``.

    Images are fed as float (N, 784) rows in the model's dtype, in inference mode
    (the model's modes are restored afterwards). The model's output (N, classes) is
    taken as logits and turned into probabilities with a softmax, unless its last
    layer is a `Softmax`. Returns one `Prediction` per image, in order.
    """
    sources: list[str] = []
    batches: list[FloatArray] = []
    for path in paths:
        images, is_batch = read(Path(path), invert)
        sources += [f"{path}[{i}]" for i in range(len(images))] if is_batch else [str(path)]
        batches.append(images)
    if not batches:
        return []
    x = np.concatenate(batches).reshape(len(sources), SIZE * SIZE).astype(model_dtype(model))
    from_logits = not isinstance(_last_layer(model), Softmax)
    probabilities = predict_proba(model, x, batch_size, from_logits=from_logits)
    labels = probabilities.argmax(axis=1)
    return [
        Prediction(source, int(label), float(row[label]))
        for source, label, row in zip(sources, labels, probabilities, strict=True)
    ]


def _last_layer(model: Layer) -> Layer:
    """The layer applied last: the deepest last child."""
    children = [child for _, child in model.named_children()]
    return _last_layer(children[-1]) if children else model
