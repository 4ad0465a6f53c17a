"""Datasets: MNIST-style datasets by name, and your own data from IDX folders, ``.npz`` and CSV.

`load_mnist` and `load_fashion_mnist` find and verify their files; `DATASETS` is the
table of named datasets; `load_text` reads a text file into character tokens
(`tinynet.datasets.text`). `load_data` reads a path in any of the forms people have
their data in (`load_idx_folder`, `load_npz`, `load_csv`, `load_image_csv`) into
`DataSplits`; `model_layout` reshapes samples for a model.
"""

from tinynet.datasets.catalog import DATASETS, DatasetInfo, dataset_info, load_dataset
from tinynet.datasets.csv import load_csv, load_image_csv, write_predictions
from tinynet.datasets.errors import DataFormatError
from tinynet.datasets.folder import load_idx_folder
from tinynet.datasets.idx import IdxFormatError, read_idx, write_idx
from tinynet.datasets.layout import model_layout
from tinynet.datasets.mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist
from tinynet.datasets.npz import load_npz
from tinynet.datasets.splits import DataSplits, load_data, named_splits
from tinynet.datasets.text import TextSplits, TextWindows, Vocabulary, load_text

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "DataFormatError",
    "DataSplits",
    "DatasetInfo",
    "IdxFormatError",
    "TextSplits",
    "TextWindows",
    "Vocabulary",
    "dataset_info",
    "load_csv",
    "load_data",
    "load_dataset",
    "load_fashion_mnist",
    "load_idx_folder",
    "load_image_csv",
    "load_mnist",
    "load_npz",
    "load_text",
    "model_layout",
    "named_splits",
    "read_idx",
    "write_idx",
    "write_predictions",
]
