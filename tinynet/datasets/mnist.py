"""MNIST and Fashion-MNIST: found on disk or downloaded once into a cache, always verified.

Each dataset is four IDX files under canonical names, gzip-compressed or not
(``train-images-idx3-ubyte.gz`` or ``train-images-idx3-ubyte``, ...). They are looked
for, as a set of four, in this order:

1. ``root``, if given, and nowhere else (a missing file is an error, nothing is
   downloaded);
2. ``$TINYNET_DATA/<name>``;
3. ``data/<name>/`` of the repository, when tinynet runs from a checkout (MNIST
   ships there);
4. ``~/.cache/tinynet/<name>``;
5. else the missing files are downloaded from public mirrors into that cache, each
   verified before it is written (atomically).

``<name>`` is ``mnist`` or ``fashion-mnist``. Every file is verified on every load, so
a corrupt cache is reported, not trained on.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.datasets import idx
from tinynet.datasets.idx import IdxFormatError
from tinynet.files import open_regular
from tinynet.typing import Array, DTypeLike, FloatArray, IntArray, Shape

Split: TypeAlias = tuple[FloatArray, IntArray]
"""``(images, labels)``: float images in [0, 1] and int64 labels of shape (N,)."""

TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"
FILES = (TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS)
"""The canonical file names, without the optional ``.gz``."""

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
TRAIN_SIZE, TEST_SIZE = 60_000, 10_000
TIMEOUT = 30.0
"""Seconds to wait for a mirror before trying the next one."""

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Fashion-MNIST's label names, by label (Zalando's README)."""

REPOSITORY_DATA = Path(__file__).resolve().parents[2] / "data"
"""``data/`` of the checkout this module runs from (it may not exist: an installed copy)."""


@dataclass(frozen=True)
class Checksum:
    """A file's digest: ``algorithm`` (a hashlib name) of its decompressed bytes, which
    any gzip of it (mirrors and packagers compress differently) or the uncompressed file
    must match; ``gzip_md5``, if published, the MD5 of the .gz as served, accepted too."""

    algorithm: str
    hexdigest: str
    gzip_md5: str | None = None


@dataclass(frozen=True)
class DatasetFiles:
    """Where a dataset's four files live online and how to recognise them."""

    name: str
    mirrors: tuple[str, ...]
    checksums: Mapping[str, Checksum]

    @property
    def loader(self) -> str:
        """The loading function's name, for error messages: ``load_fashion_mnist``."""
        return "load_" + self.name.replace("-", "_")


MNIST = DatasetFiles(
    name="mnist",
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    # SHA-256 of the decompressed files (data/mnist/SHA256SUMS.decompressed): mirrors
    # gzip differently, so only the content can be pinned.
    checksums={
        TRAIN_IMAGES: Checksum(
            "sha256", "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        TRAIN_LABELS: Checksum(
            "sha256", "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        TEST_IMAGES: Checksum(
            "sha256", "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        TEST_LABELS: Checksum(
            "sha256", "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    },
)

FASHION_MNIST = DatasetFiles(
    name="fashion-mnist",
    mirrors=(
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    # SHA-256 of the decompressed files. The label files' equal those of Zalando's own
    # (github.com/zalandoresearch/fashion-mnist, data/fashion/ at 55506a9, whose .gz
    # match the MD5s its README publishes); all four were taken from Debian's
    # dataset-fashion-mnist 0.0~git20200523.55506a9-1, built from that commit and
    # re-gzipped. The published .gz MD5s are accepted as well.
    checksums={
        TRAIN_IMAGES: Checksum(
            "sha256",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            gzip_md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        ),
        TRAIN_LABELS: Checksum(
            "sha256",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            gzip_md5="25c81989df183df01b3e8a0aad5dffbe",
        ),
        TEST_IMAGES: Checksum(
            "sha256",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            gzip_md5="bef4ecab320f06d8554ea6380940ec79",
        ),
        TEST_LABELS: Checksum(
            "sha256",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            gzip_md5="bb300cfdad3c16e7a12a480ee83cd310",
        ),
    },
)


def load_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    dtype: DTypeLike = np.float32,
) -> tuple[Split, Split]:
    """MNIST handwritten digits: ``(x_train, y_train), (x_test, y_test)``.

    Images are scaled to [0, 1] (``pixel / 255``) in the float ``dtype``, of shape
    (60000, 784) and (10000, 784), or with ``flatten=False`` (N, 1, 28, 28), NCHW with
    one channel, as `tinynet.Conv2d` (and PyTorch) take images. Labels are
    int64 digits 0..9 of shape (N,). Files are found as the module docstring says and
    verified against the SHA-256 of their decompressed bytes; a mismatch raises
    `IdxFormatError` (a ``ValueError``) naming the file and both digests, as does a
    malformed file. A failed download raises ``OSError``.
    """
    return load(MNIST, root, flatten=flatten, dtype=dtype)


def load_fashion_mnist(
    root: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    dtype: DTypeLike = np.float32,
) -> tuple[Split, Split]:
    """Fashion-MNIST (Zalando's article images): ``(x_train, y_train), (x_test, y_test)``.

    Shapes, dtypes and search order as `load_mnist`; labels 0..9 name the classes in
    `FASHION_MNIST_CLASSES`. Files are verified as MNIST's, by the SHA-256 of their
    decompressed bytes, so a copy gzipped by someone else (a Linux distribution's) or
    uncompressed loads; a .gz matching the MD5 Zalando publishes is accepted as it is.
    """
    return load(FASHION_MNIST, root, flatten=flatten, dtype=dtype)


def load(
    files: DatasetFiles,
    root: str | os.PathLike[str] | None = None,
    *,
    flatten: bool = True,
    dtype: DTypeLike = np.float32,
) -> tuple[Split, Split]:
    """Load any dataset laid out like MNIST (see `load_mnist` for the result)."""
    float_dtype = np.dtype(dtype)
    if not np.issubdtype(float_dtype, np.floating):
        raise TypeError(f"{files.loader}: expected a float dtype, got {float_dtype}")
    folder = locate(files, root)
    train = _split(files, folder, TRAIN_IMAGES, TRAIN_LABELS, TRAIN_SIZE, flatten, float_dtype)
    test = _split(files, folder, TEST_IMAGES, TEST_LABELS, TEST_SIZE, flatten, float_dtype)
    return train, test


def locate(files: DatasetFiles, root: str | os.PathLike[str] | None = None) -> Path:
    """The first folder in the search order that holds all four files.

    With ``root``, only ``root`` is searched (``FileNotFoundError`` if a file is
    missing). Otherwise, if no folder has them all, the missing ones are downloaded
    into the cache, which is returned.
    """
    if root is not None:
        folder = Path(root).expanduser()
        missing = [name for name in FILES if find_file(folder, name) is None]
        if missing:
            raise FileNotFoundError(
                f"{files.loader}: expected {', '.join(FILES)} (each optionally .gz) "
                f"in {folder}; missing {', '.join(missing)}"
            )
        return folder
    for folder in search_path(files.name):
        if all(find_file(folder, name) is not None for name in FILES):
            return folder
    cache = cache_folder(files.name)
    for name in FILES:
        if find_file(cache, name) is None:
            download(files, name, cache)
    return cache


def search_path(name: str) -> list[Path]:
    """The folders searched for dataset ``name`` when no ``root`` is given, in order."""
    folders = []
    env = os.environ.get("TINYNET_DATA")
    if env:
        folders.append(Path(env).expanduser() / name)
    folders.append(REPOSITORY_DATA / name)
    folders.append(cache_folder(name))
    return folders


def cache_folder(name: str) -> Path:
    """``~/.cache/tinynet/<name>``: where downloads go."""
    return Path.home() / ".cache" / "tinynet" / name


def find_file(folder: Path, name: str) -> Path | None:
    """``folder/name.gz`` or else ``folder/name``, whichever is a file; else whichever
    is there (a FIFO, a device: its reader says it is not a file); else ``None``."""
    candidates = (folder / f"{name}.gz", folder / name)
    for there in (Path.is_file, Path.exists):
        for candidate in candidates:
            if there(candidate):
                return candidate
    return None


def fetch(url: str, timeout: float) -> bytes:
    """The body of ``url`` (the only function here that touches the network)."""
    import urllib.request  # here, not at the top: it costs ~50 ms and is rarely needed

    request = urllib.request.Request(url, headers={"User-Agent": "tinynet"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body: bytes = response.read()
    return body


def download(files: DatasetFiles, name: str, folder: Path) -> Path:
    """Download ``name.gz`` into ``folder``, trying each mirror in turn; return its path.

    The bytes are verified before anything is written, then written atomically, so the
    cache never holds a partial or unverified file. Raises ``OSError`` listing every
    mirror's failure (network error or checksum mismatch) if none succeeds.
    """
    target = folder / f"{name}.gz"
    failures = []
    for mirror in files.mirrors:
        url = mirror + target.name
        print(f"tinynet: downloading {url}", file=sys.stderr)
        try:
            body = fetch(url, TIMEOUT)
            if not idx.is_gzip(body):  # the mirrors serve .gz files; anything else is wrong
                raise ValueError(f"expected a gzip file, got bytes {body[:4].hex(' ')}...")
            verify(url, body, files.checksums[name])
        except (OSError, ValueError) as error:
            failures.append(f"{url}: {error}")
            continue
        with atomic_write(target) as handle:
            handle.write(body)
        return target
    raise OSError(
        f"{files.loader}: could not download {target.name} into {folder}; " + "; ".join(failures)
    )


def verify(source: object, content: bytes, checksum: Checksum, shape: Shape | None = None) -> bytes:
    """Check a file's ``content`` (as stored) against ``checksum``; return it decompressed.

    A .gz whose MD5 is the published ``gzip_md5`` is the file as served and passes;
    otherwise the decompressed content (`idx.decompress`, which stops at what the IDX
    header declares: ``shape``, if given, must be it) must have ``checksum``'s digest.
    Raises `IdxFormatError` naming ``source``, both digests and what to do.
    """
    compressed = idx.is_gzip(content)
    served = compressed and checksum.gzip_md5 is not None
    if served and hashlib.md5(content, usedforsecurity=False).hexdigest() == checksum.gzip_md5:
        return idx.decompress(content, source=source, shape=shape)
    data = idx.decompress(content, source=source, shape=shape) if compressed else content
    digest = hashlib.new(checksum.algorithm, data, usedforsecurity=False).hexdigest()
    if digest != checksum.hexdigest:
        raise IdxFormatError(
            f"{source}: {checksum.algorithm} of the decompressed content should be "
            f"{checksum.hexdigest}, got {digest}: the file is corrupt or not the published "
            f"one; delete it (tinynet then downloads it again) or put the published file "
            f"there, gzipped or not"
        )
    return data


def _read(
    files: DatasetFiles | None, folder: Path, name: str, shape: Shape | None
) -> tuple[Path, Array]:
    """Read and decode one file of uint8 data, verifying its checksum if ``files``
    publishes one; ``shape`` (if known) is checked from the header before the data."""
    path = find_file(folder, name)
    if path is None:
        raise FileNotFoundError(f"{folder / name}(.gz) disappeared")
    if files is None:
        return path, idx.read_idx(path, shape=shape, dtype=np.uint8)
    with open_regular(path, idx.KIND, IdxFormatError) as handle:  # never a FIFO's read
        data = verify(path, handle.read(), files.checksums[name], shape)
    return path, idx.decode_idx(data, source=path, shape=shape, dtype=np.uint8)


def _split(
    files: DatasetFiles | None,
    folder: Path,
    images_name: str,
    labels_name: str,
    count: int | None,
    flatten: bool,
    dtype: np.dtype[Any],
) -> Split:
    """Read, check and convert one split: uint8 images -> [0, 1] floats, labels -> int64.

    Images are (count, 784) if ``flatten``, else (count, 1, 28, 28). ``count`` is the
    number of samples required (``None``: as many as there are labels, at least one).
    The labels are read first, so the images' header is checked against their number
    before the images are read.
    """
    labels_path, labels = _read(files, folder, labels_name, None if count is None else (count,))
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise IdxFormatError(
            f"{labels_path}: expected 1-D labels, at least one, found shape {labels.shape}"
        )
    count = labels.shape[0]
    _, images = _read(files, folder, images_name, (count, *IMAGE_SHAPE))
    if labels.max() >= NUM_CLASSES:
        raise IdxFormatError(
            f"{labels_path}: expected labels 0..{NUM_CLASSES - 1}, found {int(labels.max())}"
        )
    x = np.empty(images.shape, dtype)
    np.divide(images, dtype.type(255), out=x, dtype=dtype)
    images_out = x.reshape(count, -1) if flatten else x.reshape(count, 1, *IMAGE_SHAPE)
    return images_out, labels.astype(np.int64)
