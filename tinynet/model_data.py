"""Training data for a model file: reading what ``--data``/``--dataset`` name
(`read_splits`), and checking that it fits the model (`check_fits`). Predicting from
files is `tinynet.prediction`.

The reshaping of samples for a model happens in one place,
`tinynet.datasets.layout.model_layout` (flat rows unless a model declares an input shape).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from tinynet.containers import first_layer, last_layer
from tinynet.datasets import DataSplits, load_data, named_splits
from tinynet.datasets.csv import is_image_csv, load_image_csv, read_csv
from tinynet.heads import Head, require_head
from tinynet.inference import probe
from tinynet.io.native import load_full
from tinynet.layers.base import Layer
from tinynet.recipe import Recipe
from tinynet.typing import FloatArray


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
    ``weights``, a table's feature columns are the ones they were trained on, by name;
    a table's target column must hold class labels (>= 0) if the recipe's loss takes them."""
    if data is not None:
        if dataset is not None:
            raise ValueError("give --data PATH or --dataset NAME, not both")
        features = None if weights is None else recorded_features(weights)
        return load_data(
            data,
            test_path=test_data,
            target=target or "label",
            features=features,
            class_labels=recipe.class_labels,
        )
    if test_data is not None and weights is not None and dataset is None:
        return read_test_split(test_data, target, weights)
    if test_data is not None or target is not None:
        raise ValueError("--test-data and --target go with --data PATH")
    return named_splits(dataset or recipe.dataset)


def read_test_split(path: str, target: str | None, weights: str) -> DataSplits:
    """A labelled test CSV alone, as ``tinynet evaluate --test-data CSV`` scores it
    without the training data: Kaggle's image layout, or a table's feature and target
    columns by the names ``weights`` recorded (``target``, if given, names the targets).
    Its samples are both splits, so the checks of training data apply to them."""
    if is_image_csv(path):
        x, y = load_image_csv(path)
        if y is None:
            raise ValueError(
                f"{path}: no 'label' column, nothing to score (tinynet predict "
                f"{weights} {path} --out predictions.csv writes its predictions)"
            )
        return DataSplits(x, y, x, y, path)
    data_info = load_full(weights).metadata.get("data")
    recorded = data_info.get("targets") if isinstance(data_info, dict) else None
    targets = target or (",".join(recorded) if recorded else "label")
    table = read_csv(path, targets, features=recorded_features(weights))
    if table.y is None:
        raise ValueError(f"{path}: name the target column (--target)")
    splits = DataSplits(table.x, table.y, table.x, table.y, path, "table")
    return replace(splits, features=table.features, targets=table.targets)


def recorded_features(weights: str) -> list[str] | None:
    """The table columns ``weights`` were trained on (metadata ``data.features``, checked
    by `load_full`), or ``None`` if it recorded none (images, or another writer)."""
    data_info = load_full(weights).metadata.get("data")
    features = data_info.get("features") if isinstance(data_info, dict) else None
    return list(features) if features else None


def expected_outputs(
    recipe: Recipe, data: DataSplits, num_classes: int | None = None
) -> tuple[int, str]:
    """How many outputs the recipe's loss needs for ``data`` (of ``num_classes``
    classes, by default the data's), and why, for messages."""
    y = data.y_train
    if recipe.class_labels:
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(
                f"{data.source}: the recipe's loss {recipe.loss!r} needs integer class labels, "
                f"got {y.dtype} targets of shape {y.shape[1:] or '(N,)'} (a regression? use "
                f"loss='mse')"
            )
        classes = num_classes or data.num_classes or 0
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


def check_test_targets(data: DataSplits, recipe: Recipe, where: str) -> None:
    """Refuse, before training, test targets the recipe's loss could not score as it
    scores the training targets: ``ValueError`` naming ``where`` (the test file, or the
    data's ``y_test``). Integer class labels for a cross-entropy, 0/1 values of the
    training targets' shape for a binary cross-entropy, the training targets' number of
    columns otherwise."""
    y, y_train = data.y_test, data.y_train
    if y is None or data.x_test is None:
        return
    if recipe.class_labels:
        if y.ndim != 1 or y.dtype.kind not in "iu":
            raise ValueError(
                f"{where}: the recipe's loss {recipe.loss!r} needs integer class labels, as "
                f"the training data has, got {y.dtype} test targets of shape "
                f"{y.shape[1:] or '(N,)'}"
            )
        return
    if y.ndim != y_train.ndim or y.shape[1:] != y_train.shape[1:] or y.dtype.kind not in "iuf":
        raise ValueError(
            f"{where}: test targets of shape {y.shape[1:] or '(N,)'} ({y.dtype}), the "
            f"training targets' are {y_train.shape[1:] or '(N,)'} ({y_train.dtype})"
        )
    if recipe.loss == "bce_with_logits" and y.size and not np.isin(y, (0, 1)).all():
        odd = np.unique(y[~np.isin(y, (0, 1))])[:5]
        raise ValueError(
            f"{where}: binary cross-entropy needs 0/1 test targets, as the training data "
            f"has, got {', '.join(map(str, odd.tolist()))}"
        )


def check_fits(
    model: Layer, x: FloatArray, data: DataSplits, recipe: Recipe, num_classes: int | None = None
) -> Head:
    """The model's `Head` for ``data`` laid out as ``x``; ``ValueError`` naming the model's
    first layer and the data's sample shape when one sample does not go through, and its
    last layer and the data's classes (``num_classes``, by default the data's) or
    targets when their counts differ."""
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
    expected, why = expected_outputs(recipe, data, num_classes)
    columns = int(outputs.shape[1])
    if expected != columns:
        raise ValueError(
            f"{data.source} has {why}, but the model's last layer {_short(last_layer(model))} "
            f"gives {columns} output{'s' if columns != 1 else ''}"
        )
    return require_head(model, recipe.loss, outputs, str(data.source))


def _short(layer: Layer) -> str:
    return repr(layer).split("\n")[0].rstrip("(")
