"""Datasets: the IDX file format and the MNIST-style datasets stored in it."""

from tinynet.datasets.catalog import DATASETS, DatasetInfo, dataset_info, load_dataset
from tinynet.datasets.idx import IdxFormatError, read_idx, write_idx
from tinynet.datasets.mnist import (
    FASHION_MNIST_CLASSES,
    load_fashion_mnist,
    load_idx_folder,
    load_mnist,
)

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "DatasetInfo",
    "IdxFormatError",
    "dataset_info",
    "load_dataset",
    "load_fashion_mnist",
    "load_idx_folder",
    "load_mnist",
    "read_idx",
    "write_idx",
]
