"""A dataset of your own as IDX files in a folder, MNIST's four names, any image size.

``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
``t10k-labels-idx1-ubyte``, each optionally ``.gz``: uint8 images (N, H, W) of any size
and integer labels (N,). This is what ``tinynet train --data DIR`` reads from a folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from tinynet.datasets import idx
from tinynet.datasets.mnist import (
    FILES,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    Split,
    find_file,
)
from tinynet.typing import DTypeLike


def load_idx_folder(
    folder: str | os.PathLike[str], *, flatten: bool = True, dtype: DTypeLike = np.float32
) -> tuple[Split, Split]:
    """``(x_train, y_train), (x_test, y_test)`` from the four IDX files in ``folder``.

    Images of any size, as long as train and test agree: uint8 pixels scaled to [0, 1]
    in the float ``dtype``, (N, features) or, with ``flatten=False``, their stored shape
    (N, H, W); labels int64 (N,), any non-negative integers (the number of classes is
    the largest plus one). Files are validated as IDX (magic, dimensions, length) but,
    having no published digests, not checksummed; use `load_mnist` for MNIST itself.
    """
    place = Path(folder)
    if not place.is_dir():
        raise FileNotFoundError(f"load_idx_folder: no such folder: {place}")
    missing = [name for name in FILES if find_file(place, name) is None]
    if missing:
        raise FileNotFoundError(f"load_idx_folder: {place} has no {', '.join(missing)} (.gz)")
    float_dtype = np.dtype(dtype)
    if float_dtype.kind != "f":
        raise TypeError(f"load_idx_folder: expected a float dtype, got {float_dtype}")
    (x, y) = _split(place, TRAIN_IMAGES, TRAIN_LABELS, float_dtype)
    (x_test, y_test) = _split(place, TEST_IMAGES, TEST_LABELS, float_dtype)
    if x.shape[1:] != x_test.shape[1:]:
        raise idx.IdxFormatError(
            f"{place}: training images have shape {x.shape[1:]}, test images "
            f"{x_test.shape[1:]}; they must agree"
        )
    if flatten:
        x, x_test = x.reshape(x.shape[0], -1), x_test.reshape(x_test.shape[0], -1)
    return (x, y), (x_test, y_test)


def _split(folder: Path, images_name: str, labels_name: str, dtype: np.dtype[Any]) -> Split:
    """One split: the labels first, so the images' header is checked against their
    number (and uint8) before any image is read; then uint8 / 255 in ``dtype``."""
    images_path, labels_path = find_file(folder, images_name), find_file(folder, labels_name)
    assert images_path is not None
    assert labels_path is not None
    labels = idx.read_idx(labels_path)
    if labels.ndim != 1 or labels.shape[0] == 0 or labels.dtype.kind not in "iu":
        raise idx.IdxFormatError(
            f"{labels_path}: expected 1-D labels, at least one, of integers; found "
            f"{labels.dtype} data of shape {labels.shape}"
        )
    if int(labels.min()) < 0:
        raise idx.IdxFormatError(f"{labels_path}: expected labels >= 0, found {int(labels.min())}")
    images = idx.read_idx(images_path, shape=(labels.shape[0], None, None), dtype=np.uint8)
    x = np.empty(images.shape, dtype)
    np.divide(images, dtype.type(255), out=x, dtype=dtype)
    return x, labels.astype(np.int64)
