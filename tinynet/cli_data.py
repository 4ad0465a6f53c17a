"""Data in and out of the ``tinynet`` command: reading ``--data``, checking that it fits the
model, reading what ``tinynet predict`` is given, and printing or writing predictions.

The reshaping of samples for a model happens in one place,
`tinynet.datasets.layout.model_layout` (flat rows unless a model declares an input shape).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinynet.containers import first_layer, last_layer
from tinynet.datasets import DataSplits, load_data, model_layout, named_splits
from tinynet.datasets.csv import is_image_csv, load_image_csv, read_csv, write_predictions
from tinynet.heads import Head, head_for
from tinynet.images.load import read as read_image_file
from tinynet.images.predict import image_shape
from tinynet.inference import forward_in_batches, probe
from tinynet.io.native import load_full
from tinynet.layers.base import Layer
from tinynet.recipe import Recipe
from tinynet.typing import Array, FloatArray, Shape


def read_splits(
    dataset: str | None,
    data: str | None,
    test_data: str | None,
    target: str | None,
    recipe: Recipe,
    weights: str | None = None,
) -> DataSplits:
    """What ``--dataset``/``--data``/``--test-data``/``--target`` name: a file or folder
    (``--data`` overrides the recipe's dataset), else the named dataset. With saved
    ``weights``, a table's feature columns are the ones they were trained on, by name."""
    if data is not None:
        if dataset is not None:
            raise ValueError("give --data PATH or --dataset NAME, not both")
        features = None if weights is None else recorded_features(weights)
        return load_data(data, test_path=test_data, target=target or "label", features=features)
    if test_data is not None or target is not None:
        raise ValueError("--test-data and --target go with --data PATH")
    return named_splits(dataset or recipe.dataset)


def recorded_features(weights: str) -> list[str] | None:
    """The table columns ``weights`` were trained on (metadata ``data.features``, checked
    by `load_full`), or ``None`` if it recorded none (images, or another writer)."""
    data_info = load_full(weights).metadata.get("data")
    features = data_info.get("features") if isinstance(data_info, dict) else None
    return list(features) if features else None


def expected_outputs(recipe: Recipe, data: DataSplits) -> tuple[int, str]:
    """How many outputs the recipe's loss needs for ``data``, and why, for messages."""
    y = data.y_train
    if recipe.loss == "cross_entropy" or recipe.targets == "one_hot":
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(
                f"{data.source}: the recipe's loss {recipe.loss!r} needs integer class labels, "
                f"got {y.dtype} targets of shape {y.shape[1:] or '(N,)'} (a regression? use "
                f"loss='mse')"
            )
        classes = data.num_classes or 0
        return classes, f"{classes} classes (labels 0..{classes - 1})"
    if recipe.loss == "bce_with_logits":
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"{data.source}: binary cross-entropy needs 0/1 targets, got values from "
                f"{y.min()} to {y.max()}"
            )
        if y.ndim == 1:
            return 1, "binary labels (0/1): one output unit"
        return y.shape[1], f"{y.shape[1]} labels per sample (multi-label)"
    count = 1 if y.ndim == 1 else y.shape[1]
    return count, f"{count} target value{'s' if count != 1 else ''} per sample"


def check_fits(model: Layer, x: FloatArray, data: DataSplits, recipe: Recipe) -> Head:
    """The model's `Head` for ``data`` laid out as ``x``; ``ValueError`` naming the model's
    first layer and the data's sample shape when one sample does not go through, and its
    last layer and the data's classes or targets when their counts differ."""
    shape = data.sample_shape
    try:
        outputs = probe(model, x[:1].astype(model.dtype, copy=False))
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{data.source}: its samples, of shape {shape} ({math.prod(shape)} values), do not "
            f"fit the model's first layer {_short(first_layer(model))}: {error}"
        ) from None
    if outputs.ndim != 2:
        raise ValueError(
            f"the model's outputs have shape {outputs.shape[1:]} per sample; tinynet train "
            f"needs (N, C) outputs, one column per class or target"
        )
    expected, why = expected_outputs(recipe, data)
    columns = int(outputs.shape[1])
    if expected != columns:
        raise ValueError(
            f"{data.source} has {why}, but the model's last layer {_short(last_layer(model))} "
            f"gives {columns} output{'s' if columns != 1 else ''}"
        )
    return head_for(model, recipe.loss, columns)


def _short(layer: Layer) -> str:
    return repr(layer).split("\n")[0].rstrip("(")


# --- tinynet predict ------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """What ``tinynet predict`` classifies: samples (N, ...) in their natural shape, a
    name for each (``path`` or ``path[i]``), and whether they are images."""

    x: FloatArray
    sources: list[str]
    images: bool


def read_inputs(paths: Sequence[str], invert: bool, data_info: dict[str, Any]) -> Inputs:
    """Read image files (PNG, PGM, ``.npy``) and CSV files (Kaggle's image layout, or a
    table with the feature columns the model was trained on, ``data_info["features"]``)."""
    parts: list[FloatArray] = []
    sources: list[str] = []
    kinds = set()
    for name in paths:
        path = Path(name)
        if path.suffix.lower() == ".csv":
            x, images = _read_csv_input(path, data_info)
            batch = True
        else:
            x, batch = read_image_file(path, invert)
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


def output_head(model: Layer, outputs: FloatArray, loss: str | None, weights: str) -> Head:
    """The head of ``outputs``; ``ValueError`` for outputs ``tinynet predict`` cannot
    interpret: not (N, C), or one linear output with no recorded loss (a binary logit
    and a regression value look alike)."""
    if outputs.ndim != 2:
        raise ValueError(
            f"{weights}: the model's outputs have shape {outputs.shape[1:]} per sample; "
            f"predict reads (N, C) outputs only"
        )
    head = head_for(model, loss, int(outputs.shape[1]))
    if head.guessed and head.columns == 1:
        raise ValueError(
            f"{weights}: one output unit and no recorded loss: it could be a binary logit or "
            f"a regression value; save the model with tinynet train (which records its "
            f"recipe), or tinynet.save(model, path, metadata={{'recipe': {{'loss': "
            f"'bce_with_logits'}}}})"
        )
    return head


def predict_inputs(
    model: Layer,
    inputs: Inputs,
    loss: str | None,
    weights: str,
    data_info: dict[str, Any],
    input_shape: Shape | None = None,
) -> tuple[Head, Array, FloatArray | None]:
    """``(head, predictions, probabilities or None)`` of ``model`` for ``inputs``, fed as
    samples of ``input_shape`` (a model file's ``INPUT_SHAPE``, recorded by ``tinynet
    train --save``; without one, images go in as the first layer takes them,
    `tinynet.images.predict.image_shape`, and tables as rows); ``ValueError`` naming both
    shapes if the model was trained on samples of another shape
    (``data_info["sample_shape"]``)."""
    trained = data_info.get("sample_shape")
    if isinstance(trained, list) and math.prod(trained) != math.prod(inputs.x.shape[1:]):
        raise ValueError(
            f"{weights} was trained on samples of shape {tuple(trained)}; the inputs are of "
            f"shape {inputs.x.shape[1:]}"
        )
    if input_shape is None and inputs.images:
        input_shape = image_shape(model, inputs.x.shape[1:])
    x = model_layout(inputs.x, input_shape, "predict").astype(model.dtype, copy=False)
    outputs = forward_in_batches(model, x)
    head = output_head(model, outputs, loss, weights)
    return head, head.predict(outputs), head.probabilities(outputs)


def prediction_lines(
    head: Head, inputs: Inputs, predictions: Array, probs: FloatArray | None, names: Any
) -> list[str]:
    """One line per sample: ``source: label (p%)``, ``source: value`` or the 0/1 labels."""
    labels = list(names) if isinstance(names, list) else None
    single = head.task in ("multiclass", "binary")
    confidence = head.confidence(probs, predictions) if single and probs is not None else None
    lines = []
    for i, source in enumerate(inputs.sources):
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


def write_prediction_file(
    path: str, head: Head, inputs: Inputs, predictions: Array, data_info: dict[str, Any]
) -> None:
    """``ImageId,Label`` (Kaggle's submission layout) for images, ``Id,...`` for tables;
    one value column per target or label where there are several."""
    targets = list(data_info.get("targets") or [])
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
    write_predictions(
        path, predictions, id_name="ImageId" if inputs.images else "Id", columns=columns
    )
