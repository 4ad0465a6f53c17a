"""`DataSplits` and `load_data`: a dataset from a path, whatever form it comes in.

``load_data(path)`` reads what ``tinynet train --data PATH`` accepts:

- a folder of MNIST-named IDX files (`tinynet.datasets.folder`), any image size;
- an ``.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (`tinynet.datasets.npz`);
- a CSV (`tinynet.datasets.csv`): Kaggle's digit-recognizer layout (told by its header,
  ``label,pixel0,...``) or a numeric table whose ``target`` column holds the labels or
  values; ``test_path`` names the test CSV (Kaggle's ``test.csv`` has no labels: its
  test split then has ``y = None``).

`named_splits` gives a dataset of the table (`tinynet.datasets.DATASETS`) the same way.
Samples keep their natural shape (images (N, H, W), tables (N, F));
`tinynet.datasets.layout.model_layout` lays them out for a model.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tinynet.datasets import csv
from tinynet.datasets.catalog import dataset_info
from tinynet.datasets.errors import DataFormatError
from tinynet.datasets.folder import load_idx_folder
from tinynet.datasets.npz import load_npz
from tinynet.typing import Array, FloatArray, Shape

KINDS = ("images", "table")


@dataclass(frozen=True)
class DataSplits:
    """Training and test data and what they say about themselves.

    ``x_train`` float32 (N, ...) in its natural shape, ``y_train`` labels (N,) int64 or
    targets (N,) / (N, K); ``x_test`` (``None``: no test data) and ``y_test`` (``None``:
    unlabeled, as Kaggle's ``test.csv``). ``source`` names where they came from (a path
    or a dataset name); ``kind`` is ``"images"`` or ``"table"``. ``class_names`` (if
    known), and for a table the ``features`` and ``targets`` column names.
    """

    x_train: FloatArray
    y_train: Array
    x_test: FloatArray | None
    y_test: Array | None
    source: str
    kind: str = "images"
    class_names: tuple[str, ...] | None = None
    features: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()

    @property
    def sample_shape(self) -> Shape:
        """The shape of one sample, e.g. (28, 28) or (10,)."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def labeled_test(self) -> bool:
        """Whether there is test data with labels (so test metrics can be computed)."""
        return self.x_test is not None and self.y_test is not None

    @property
    def num_classes(self) -> int | None:
        """The number of classes: of ``class_names`` if known, else the largest integer
        label of the training and test data plus one; ``None`` for non-integer targets."""
        if self.class_names is not None:
            return len(self.class_names)
        if self.y_train.dtype.kind not in "iu" or self.y_train.ndim != 1:
            return None
        largest = int(self.y_train.max())
        if self.y_test is not None and self.y_test.size and self.y_test.dtype.kind in "iu":
            largest = max(largest, int(self.y_test.max()))
        return largest + 1

    def describe(self) -> dict[str, Any]:
        """What a saved model should remember of its data (JSON): where it came from, the
        sample shape, the columns of a table, the class names."""
        return {
            "source": self.source,
            "kind": self.kind,
            "sample_shape": list(self.sample_shape),
            "features": list(self.features),
            "targets": list(self.targets),
            "class_names": None if self.class_names is None else list(self.class_names),
        }


def named_splits(name: str) -> DataSplits:
    """The dataset called ``name`` in `tinynet.datasets.DATASETS`, as images (N, H, W)."""
    info = dataset_info(name)
    (x, y), (x_test, y_test) = info.load(None, flatten=False)
    return DataSplits(x, y, x_test, y_test, name, "images", info.class_names)


def load_data(
    path: str | os.PathLike[str],
    *,
    test_path: str | os.PathLike[str] | None = None,
    target: str | None = csv.LABEL,
    features: Sequence[str] | None = None,
    class_labels: bool = False,
) -> DataSplits:
    """The dataset at ``path`` (see the module docstring), test data included.

    ``features``: for a table, the feature columns to take, by name and in that order
    (the ones saved weights were trained on); default: every column but the targets.
    ``class_labels``: a table's targets are class labels (for a classification), so a
    negative one is refused naming its line (a regression's targets may be negative).

    ``test_path`` (a CSV) is for CSV training data only: a folder or an ``.npz`` holds
    its own test split. ``target`` names a table's label or value column(s) (comma
    separated). Raises `DataFormatError` (a ``ValueError``) for what cannot be read,
    naming the file; ``FileNotFoundError`` for a missing one.
    """
    place = Path(path)
    if not place.exists():
        raise FileNotFoundError(f"no such data file or folder: {place}")
    suffix = place.suffix.lower()
    if test_path is not None and (place.is_dir() or suffix != ".csv"):
        raise DataFormatError(
            f"{place}: --test-data goes with CSV training data; a folder or an .npz holds "
            f"its own test split"
        )
    if place.is_dir():
        (x, y), (x_test, y_test) = load_idx_folder(place, flatten=False)
        return DataSplits(x, y, x_test, y_test, str(place))
    if suffix == ".npz":
        (x, y), (x_test_, y_test_) = load_npz(place)
        return DataSplits(x, y, x_test_, y_test_, str(place), "images" if x.ndim > 2 else "table")
    if suffix == ".csv":
        test = None if test_path is None else Path(test_path)
        return _load_csv(place, test, target, features, class_labels)
    raise DataFormatError(
        f"{place}: expected a folder of IDX files, an .npz (x_train, y_train, x_test, "
        f"y_test) or a .csv, got a {suffix or 'file without a suffix'}"
    )


def _load_csv(
    path: Path,
    test_path: Path | None,
    target: str | None,
    features: Sequence[str] | None,
    class_labels: bool,
) -> DataSplits:
    if csv.is_image_csv(path):
        x, y = csv.load_image_csv(path)
        if y is None:
            raise DataFormatError(f"{path}: training data needs a 'label' column")
        x_test = y_test = None
        if test_path is not None:
            if not csv.is_image_csv(test_path):
                raise DataFormatError(
                    f"{test_path}: expected the image layout of {path.name} "
                    f"(pixel0, pixel1, ...), got {csv.read_header(test_path)[:3]}..."
                )
            x_test, y_test = csv.load_image_csv(test_path)
            if x_test.shape[1:] != x.shape[1:]:
                raise DataFormatError(
                    f"{test_path}: images of shape {x_test.shape[1:]}, {path.name}'s are "
                    f"{x.shape[1:]}"
                )
        return DataSplits(x, y, x_test, y_test, str(path))
    train = csv.read_csv(path, target, features=features, class_labels=class_labels)
    if train.y is None:
        raise DataFormatError(f"{path}: name the target column (--target)")
    test_x: FloatArray | None = None
    test_y: Array | None = None
    if test_path is not None:
        columns = csv.read_header(test_path)
        labeled = all(name in columns for name in train.targets)
        test = csv.read_csv(
            test_path,
            train.targets if labeled else None,
            features=train.features,
            class_labels=class_labels,
        )
        test_x, test_y = test.x, test.y
    splits = DataSplits(train.x, train.y, test_x, test_y, str(path), "table")
    return replace(splits, features=train.features, targets=train.targets)
