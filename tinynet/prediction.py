"""Predicting from files, one pipeline: files into inputs, inputs through the model,
outputs into answers.

- `read_inputs`: image files (PNG, PGM, ``.npy``) and CSV files into `Inputs`, samples in
  their natural shape with a name each;
- `predict_inputs`: the samples laid out as the model takes them
  (`tinynet.datasets.model_layout`), run in batches (`tinynet.inference`), and what the
  outputs say, `answers`: the head, the predictions and the probabilities
  (`tinynet.heads`);
- `predict_saved`: the same for a model file written by ``tinynet train --save``, reading
  its recorded loss, data and input shape: what ``tinynet predict`` prints
  (`prediction_lines`) or writes (`write_prediction_file`).

`tinynet.images.predict_images` is this pipeline, keeping the classes alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from tinynet.containers import first_layer
from tinynet.datasets import model_layout
from tinynet.datasets.csv import is_image_csv, load_image_csv, read_csv, write_predictions
from tinynet.heads import Head, require_head
from tinynet.images.common import SIZE
from tinynet.images.load import read as read_image_file
from tinynet.inference import forward_in_batches
from tinynet.io import load_full
from tinynet.io.native import recorded_input_shape
from tinynet.layers.base import Layer
from tinynet.typing import Array, FloatArray, Shape


@dataclass(frozen=True)
class Inputs:
    """Samples to predict for: ``x`` (N, ...) in their natural shape ((N, H, W) images,
    (N, F) table rows), a name for each (``path``, or ``path[i]`` for row ``i`` of a
    batch file) and whether they are images."""

    x: FloatArray
    sources: list[str]
    images: bool


class Answers(NamedTuple):
    """What a model's outputs say: their `Head`, the predictions (labels (N,), 0/1 (N, C)
    for multi-label, values (N,) or (N, K)) and the probabilities (N, C) (``None`` for
    a regression)."""

    head: Head
    predictions: Array
    probabilities: FloatArray | None


def read_inputs(
    paths: Sequence[str | os.PathLike[str]],
    invert: bool = False,
    data_info: dict[str, Any] | None = None,
) -> Inputs:
    """Read image files (PNG, PGM, ``.npy``; ``invert`` for dark digits on white) and CSV
    files (Kaggle's image layout, or a table with the feature columns the model was
    trained on, ``data_info["features"]``) in order. ``ValueError`` for images and tables
    in one call, or samples of different shapes."""
    parts: list[FloatArray] = []
    sources: list[str] = []
    kinds = set()
    for path in paths:
        name = os.fspath(path)
        if Path(name).suffix.lower() == ".csv":
            x, images = _read_csv_input(Path(name), data_info or {})
            batch = True
        else:
            x, batch = read_image_file(Path(name), invert)
            images = True
        kinds.add(images)
        sources += [f"{name}[{i}]" for i in range(len(x))] if batch else [name]
        parts.append(x)
    if len(kinds) > 1:
        raise ValueError("predict: give images or tables, not both in one call")
    shapes = {part.shape[1:] for part in parts}
    if len(shapes) > 1:
        raise ValueError(f"predict: the inputs have different sample shapes {sorted(shapes)}")
    return Inputs(np.concatenate(parts), sources, kinds == {True})


def _read_csv_input(path: Path, data_info: dict[str, Any]) -> tuple[FloatArray, bool]:
    if is_image_csv(path):
        x, _ = load_image_csv(path)  # a label column, if any, is ignored
        return x, True
    features = data_info.get("features") or None
    table = read_csv(path, target=None, features=features)
    return table.x, False


def image_shape(model: Layer, image: Shape = (SIZE, SIZE)) -> Shape:
    """One image's shape, (H, W) or (C, H, W), as ``model`` takes it, read from its first
    layer: (in_channels, H, W) before a convolution, else flat rows (H * W * ...,)."""
    channels = getattr(first_layer(model), "in_channels", None)
    if isinstance(channels, int):
        return (channels, *image[-2:])
    return (math.prod(image),)


def answers(
    model: Layer, outputs: FloatArray, loss: str | None, source: str = "predict"
) -> Answers:
    """What ``outputs`` (N, C) of ``model`` say by its head (`tinynet.heads`:
    ``model.head``, or ``loss``, a recipe loss name, if given); ``ValueError`` naming
    ``source`` for outputs that are not (N, C) or whose meaning nothing tells."""
    if outputs.ndim != 2:
        raise ValueError(
            f"{source}: the model's outputs have shape {outputs.shape[1:]} per sample; "
            f"predict reads (N, C) outputs only"
        )
    head = require_head(model, loss, outputs, source)
    return Answers(head, head.predict(outputs), head.probabilities(outputs))


def predict_inputs(
    model: Layer,
    inputs: Inputs,
    *,
    loss: str | None = None,
    input_shape: Shape | None = None,
    trained_shape: Sequence[int] | None = None,
    source: str = "predict",
    batch_size: int = 1024,
) -> Answers:
    """The `answers` of ``model`` for ``inputs``, fed in the model's dtype as samples of
    ``input_shape`` (a model file's ``INPUT_SHAPE``; without one, images go in as the
    first layer takes them, `image_shape`, and tables as rows), ``batch_size`` at a time
    in inference mode. ``ValueError`` naming ``source`` and both shapes if the model was
    trained on samples of another size (``trained_shape``)."""
    if trained_shape is not None and math.prod(trained_shape) != math.prod(inputs.x.shape[1:]):
        raise ValueError(
            f"{source} was trained on samples of shape {tuple(trained_shape)}; the inputs are "
            f"of shape {inputs.x.shape[1:]}"
        )
    if input_shape is None and inputs.images:
        input_shape = image_shape(model, inputs.x.shape[1:])
    x = model_layout(inputs.x, input_shape, "predict").astype(model.dtype, copy=False)
    return answers(model, forward_in_batches(model, x, batch_size), loss, source)


@dataclass(frozen=True)
class SavedPredictions:
    """`predict_saved`'s result: the inputs read, the answers, and the model file's
    recorded data description (``data_info``: class names, targets...; ``{}`` if none)."""

    inputs: Inputs
    answers: Answers
    data_info: dict[str, Any]


def predict_saved(
    weights: str, paths: Sequence[str | os.PathLike[str]], invert: bool = False
) -> SavedPredictions:
    """Predict with the model saved at ``weights`` for the files ``paths`` (`read_inputs`),
    as ``tinynet predict`` does: the loss, data and ``input_shape`` ``tinynet train
    --save`` recorded in its metadata say how to feed it and read its outputs.
    ``ValueError`` naming the file for a malformed ``input_shape``, inputs of another
    size than it was trained on, or one linear output and no recorded loss (a binary
    logit and a regression value look alike)."""
    loaded = load_full(weights)
    recipe = loaded.metadata.get("recipe")
    loss = recipe.get("loss") if isinstance(recipe, dict) else None
    data_info = loaded.metadata.get("data")
    info = data_info if isinstance(data_info, dict) else {}
    inputs = read_inputs(paths, invert, info)
    trained = info.get("sample_shape")
    found = predict_inputs(
        loaded.model,
        inputs,
        loss=loss if isinstance(loss, str) else None,
        input_shape=recorded_input_shape(loaded.metadata, weights),
        trained_shape=trained if isinstance(trained, list) else None,
        source=weights,
    )
    return SavedPredictions(inputs, found, info)


def prediction_lines(found: SavedPredictions) -> list[str]:
    """One line per sample: ``source: label (p%)``, ``source: value`` or the 0/1 labels
    (class names from the recorded data, if any)."""
    head, predictions, probs = found.answers
    names = found.data_info.get("class_names")
    labels = list(names) if isinstance(names, list) else None
    single = head.task in ("multiclass", "binary")
    confidence = head.confidence(probs, predictions) if single and probs is not None else None
    lines = []
    for i, source in enumerate(found.inputs.sources):
        if confidence is not None:
            label = int(predictions[i])
            shown = labels[label] if labels and label < len(labels) else str(label)
            lines.append(f"{source}: {shown} ({100 * confidence[i]:.1f}%)")
        elif head.task == "multilabel":
            on = [str(j) for j in np.flatnonzero(predictions[i])]
            lines.append(f"{source}: labels {', '.join(on) or 'none'}")
        else:
            values = np.atleast_1d(predictions[i])
            lines.append(f"{source}: " + ", ".join(f"{v:.6g}" for v in values))
    return lines


def write_prediction_file(path: str, found: SavedPredictions) -> None:
    """``ImageId,Label`` (Kaggle's submission layout) for images, ``Id,...`` for tables;
    one value column per target or label where there are several."""
    head = found.answers.head
    targets = list(found.data_info.get("targets") or [])
    columns: list[str]
    if head.task in ("multiclass", "binary"):
        columns = ["Label"]
    elif head.task == "multilabel":
        columns = [f"label{j}" for j in range(head.columns)]
    else:
        columns = (
            targets if len(targets) == head.columns else [f"value{j}" for j in range(head.columns)]
        )
        if head.columns == 1 and len(targets) != 1:
            columns = ["Value"]
    id_name = "ImageId" if found.inputs.images else "Id"
    write_predictions(path, found.answers.predictions, id_name=id_name, columns=columns)
