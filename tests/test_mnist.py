"""MNIST and Fashion-MNIST: the shipped data, the search order, downloads (faked), checks.

No test touches the network: every test that could reach a download replaces
`tinynet.datasets.mnist.fetch`, and the `isolated` fixture points HOME and
TINYNET_DATA at empty temporary folders.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os
import shutil
import urllib.error
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet.datasets import IdxFormatError, idx, load_fashion_mnist, load_mnist, mnist

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "mnist"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Empty HOME, repository data folder and no TINYNET_DATA; any fetch fails the test."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TINYNET_DATA", raising=False)
    monkeypatch.setattr(mnist, "REPOSITORY_DATA", tmp_path / "repo" / "data")

    def no_network(url: str, timeout: float) -> bytes:
        raise AssertionError(f"a test tried to download {url}")

    monkeypatch.setattr(mnist, "fetch", no_network)
    return tmp_path


def fill(folder: Path, *, gz: bool = True, skip: str | None = None) -> Path:
    """Empty files under the four canonical names: enough for `locate`, which only looks."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in mnist.FILES:
        if name != skip:
            (folder / (f"{name}.gz" if gz else name)).write_bytes(b"")
    return folder


def serve(files: dict[str, bytes], log: list[str]) -> Callable[[str, float], bytes]:
    """A fake `fetch` serving ``files`` by URL basename and logging each URL."""

    def fetch(url: str, timeout: float) -> bytes:
        log.append(url)
        assert timeout > 0
        name = url.rsplit("/", 1)[1]
        if name not in files:
            raise urllib.error.URLError(f"404 {name}")
        return files[name]

    return fetch


def shipped_files() -> dict[str, bytes]:
    return {f"{name}.gz": (SHIPPED / f"{name}.gz").read_bytes() for name in mnist.FILES}


# --- the real data shipped in data/mnist --------------------------------------------------


@pytest.fixture(scope="module")
def real_mnist(tmp_path_factory: pytest.TempPathFactory) -> tuple[mnist.Split, mnist.Split]:
    """`load_mnist()` as a fresh checkout runs it: no cache, no TINYNET_DATA, no network."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        patch.delenv("TINYNET_DATA", raising=False)
        patch.setattr(mnist, "fetch", None)
        data = load_mnist()
    assert not (home / ".cache").exists()
    return data


def test_repository_mnist_shapes_dtypes_range(real_mnist: tuple[mnist.Split, mnist.Split]) -> None:
    (x_train, y_train), (x_test, y_test) = real_mnist
    assert x_train.shape == (60000, 784)
    assert x_test.shape == (10000, 784)
    assert y_train.shape == (60000,)
    assert y_test.shape == (10000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0
        assert x.max() == 1.0
    np.testing.assert_array_equal(np.round(x_test * 255) / np.float32(255), x_test)  # k / 255


def test_repository_mnist_label_counts(real_mnist: tuple[mnist.Split, mnist.Split]) -> None:
    (_, y_train), (_, y_test) = real_mnist
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_COUNTS
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def test_flatten_false_and_float64_on_real_mnist(
    real_mnist: tuple[mnist.Split, mnist.Split],
) -> None:
    _, (x_test, y_test) = load_mnist(SHIPPED, flatten=False, dtype=np.float64)
    assert x_test.shape == (10000, 1, 28, 28)  # NCHW, as Conv2d takes images
    assert x_test.dtype == np.float64
    _, (x_ref, y_ref) = real_mnist
    np.testing.assert_array_equal(x_test.reshape(10000, 784).astype(np.float32), x_ref)
    np.testing.assert_array_equal(y_test, y_ref)


def test_repository_folder_is_the_checkouts_data_folder() -> None:
    checkout = Path(tinynet.__file__).resolve().parents[1]
    assert checkout / "data" == mnist.REPOSITORY_DATA
    assert mnist.find_file(mnist.REPOSITORY_DATA / "mnist", mnist.TRAIN_IMAGES) is not None


def test_float_dtype_required(isolated: Path) -> None:
    with pytest.raises(TypeError, match=r"^load_mnist: expected a float dtype, got int32"):
        load_mnist(SHIPPED, dtype=np.int32)
    with pytest.raises(TypeError, match=r"^load_fashion_mnist: expected a float dtype, got uint8"):
        load_fashion_mnist(SHIPPED, dtype=np.uint8)


# --- the search order -------------------------------------------------------------------


def test_root_is_the_only_place_searched(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = fill(isolated / "env" / "mnist")
    monkeypatch.setenv("TINYNET_DATA", str(env.parent))
    root = fill(isolated / "mine")
    assert mnist.locate(mnist.MNIST, root) == root
    (root / f"{mnist.TEST_LABELS}.gz").unlink()
    with pytest.raises(FileNotFoundError, match=f"in {root}; missing {mnist.TEST_LABELS}$"):
        mnist.locate(mnist.MNIST, root)


def test_search_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = isolated / "env"
    monkeypatch.setenv("TINYNET_DATA", str(env))
    repo = mnist.REPOSITORY_DATA / "mnist"
    cache = isolated / "home" / ".cache" / "tinynet" / "mnist"
    assert mnist.search_path("mnist") == [env / "mnist", repo, cache]
    fill(cache)
    assert mnist.locate(mnist.MNIST) == cache
    fill(repo)
    assert mnist.locate(mnist.MNIST) == repo
    fill(env / "mnist")
    assert mnist.locate(mnist.MNIST) == env / "mnist"


def test_a_folder_missing_a_file_is_skipped(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINYNET_DATA", str(isolated / "env"))
    fill(isolated / "env" / "mnist", skip=mnist.TRAIN_LABELS)
    repo = fill(mnist.REPOSITORY_DATA / "mnist")
    assert mnist.locate(mnist.MNIST) == repo


def test_uncompressed_names_are_accepted(isolated: Path) -> None:
    root = fill(isolated / "raw", gz=False)
    assert mnist.locate(mnist.MNIST, root) == root
    assert mnist.find_file(root, mnist.TRAIN_IMAGES) == root / mnist.TRAIN_IMAGES


def test_each_dataset_has_its_own_folder(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINYNET_DATA", str(isolated / "env"))
    fill(isolated / "env" / "fashion-mnist")
    repo = fill(mnist.REPOSITORY_DATA / "mnist")
    assert mnist.locate(mnist.FASHION_MNIST) == isolated / "env" / "fashion-mnist"
    assert mnist.locate(mnist.MNIST) == repo


# --- downloads (faked) ------------------------------------------------------------------


def test_fetch_reads_a_url(tmp_path: Path) -> None:
    # A file:// URL runs the real fetch (request, timeout, read) without any network.
    (tmp_path / "body.bin").write_bytes(b"\x1f\x8bpayload")
    assert mnist.fetch((tmp_path / "body.bin").as_uri(), 5.0) == b"\x1f\x8bpayload"
    with pytest.raises(OSError, match="No such file"):
        mnist.fetch((tmp_path / "missing.bin").as_uri(), 5.0)


def test_download_into_the_cache_then_reuse_it(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log: list[str] = []
    files = shipped_files()
    del files[f"{mnist.TRAIN_IMAGES}.gz"]  # the first mirror lacks one file
    first = serve(files, log)
    second = serve(shipped_files(), log)
    monkeypatch.setattr(
        mnist,
        "fetch",
        lambda url, timeout: (first if url.startswith(mnist.MNIST.mirrors[0]) else second)(
            url, timeout
        ),
    )
    cache = isolated / "home" / ".cache" / "tinynet" / "mnist"
    assert mnist.locate(mnist.MNIST) == cache
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in mnist.FILES)
    for name in mnist.FILES:
        assert (cache / f"{name}.gz").read_bytes() == (SHIPPED / f"{name}.gz").read_bytes()
    assert log == [
        mnist.MNIST.mirrors[0] + f"{mnist.TRAIN_IMAGES}.gz",
        mnist.MNIST.mirrors[1] + f"{mnist.TRAIN_IMAGES}.gz",
        *(mnist.MNIST.mirrors[0] + f"{name}.gz" for name in mnist.FILES[1:]),
    ]
    log.clear()
    assert mnist.locate(mnist.MNIST) == cache
    assert log == []


def test_only_missing_files_are_downloaded(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = isolated / "home" / ".cache" / "tinynet" / "mnist"
    cache.mkdir(parents=True)
    for name in mnist.FILES[:3]:
        (cache / f"{name}.gz").write_bytes((SHIPPED / f"{name}.gz").read_bytes())
    log: list[str] = []
    monkeypatch.setattr(mnist, "fetch", serve(shipped_files(), log))
    assert mnist.locate(mnist.MNIST) == cache
    assert log == [mnist.MNIST.mirrors[0] + f"{mnist.TEST_LABELS}.gz"]


def test_a_corrupt_download_is_never_kept(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = mnist.TEST_LABELS
    good = gzip.decompress((SHIPPED / f"{name}.gz").read_bytes())
    bad = good[:-1] + bytes([good[-1] ^ 1])  # one label changed: still a valid IDX file
    log: list[str] = []
    monkeypatch.setattr(mnist, "fetch", serve({f"{name}.gz": gzip.compress(bad)}, log))
    cache = isolated / "home" / ".cache" / "tinynet" / "mnist"
    with pytest.raises(OSError, match=f"could not download {name}.gz") as error:
        mnist.download(mnist.MNIST, name, cache)
    message = str(error.value)
    assert mnist.MNIST.checksums[name].hexdigest in message
    assert hashlib.sha256(bad).hexdigest() in message
    assert len(log) == len(mnist.MNIST.mirrors)
    assert not cache.exists() or list(cache.iterdir()) == []


def test_a_download_that_is_not_gzip_is_refused(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = mnist.TEST_LABELS
    raw = gzip.decompress((SHIPPED / f"{name}.gz").read_bytes())
    monkeypatch.setattr(mnist, "fetch", serve({f"{name}.gz": raw}, []))
    with pytest.raises(OSError, match="expected a gzip file"):
        mnist.download(mnist.FASHION_MNIST, name, isolated / "cache")


def test_fashion_download_checks_the_decompressed_content(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = mnist.TRAIN_LABELS
    content = idx.encode_idx(np.zeros(60000, np.uint8))
    body = gzip.compress(content, mtime=0)
    monkeypatch.setattr(mnist, "fetch", serve({f"{name}.gz": body}, []))
    with pytest.raises(OSError, match="sha256 of the decompressed content should be") as error:
        mnist.download(mnist.FASHION_MNIST, name, isolated / "cache")
    assert mnist.FASHION_MNIST.checksums[name].hexdigest in str(error.value)
    assert hashlib.sha256(content).hexdigest() in str(error.value)


def test_any_gzip_of_the_content_passes_and_the_published_gz_as_served() -> None:
    """Issue 23: genuine Fashion-MNIST files re-gzipped (Debian's) were refused, their
    .gz bytes not the published ones'. The content decides; the published .gz MD5
    still passes as it is."""
    content = idx.encode_idx(np.arange(20, dtype=np.uint8))
    checksum = mnist.Checksum("sha256", hashlib.sha256(content).hexdigest(), "0" * 32)
    for body in (gzip.compress(content, 9, mtime=0), gzip.compress(content, 1, mtime=5), content):
        assert mnist.verify("f", body, checksum) == content
    served = gzip.compress(content, mtime=0)
    as_served = mnist.Checksum("sha256", "0" * 64, hashlib.md5(served).hexdigest())
    assert mnist.verify("f", served, as_served) == content
    with pytest.raises(IdxFormatError, match="f: sha256 of the decompressed content"):
        mnist.verify("f", gzip.compress(content, mtime=1), as_served)


# --- checks on load -----------------------------------------------------------------------


def test_checksum_mismatch_names_file_and_digests(isolated: Path) -> None:
    root = isolated / "fake"
    root.mkdir()
    for name in mnist.FILES:  # valid IDX files of MNIST's shapes, just not MNIST's
        count = mnist.TRAIN_SIZE if name.startswith("train") else mnist.TEST_SIZE
        shape = (count, 28, 28) if "images" in name else (count,)
        idx.write_idx(root / f"{name}.gz", np.zeros(shape, np.uint8))
    path = root / f"{mnist.TRAIN_LABELS}.gz"  # the labels are read first
    actual = hashlib.sha256(idx.read_bytes(path)).hexdigest()
    with pytest.raises(IdxFormatError, match="sha256 of the decompressed content") as error:
        load_mnist(root)
    message = str(error.value)
    assert str(path) in message
    assert mnist.MNIST.checksums[mnist.TRAIN_LABELS].hexdigest in message
    assert actual in message


@pytest.fixture(scope="module")
def fashion_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Valid uncompressed Fashion-MNIST-shaped files (all-black images, labels 0..9
    repeating), written once: uncompressed, so no .gz MD5 applies to them."""
    folder = tmp_path_factory.mktemp("fashion-template")
    arrays = {
        mnist.TRAIN_IMAGES: np.zeros((60000, 28, 28), np.uint8),
        mnist.TRAIN_LABELS: np.arange(60000, dtype=np.uint8) % 10,
        mnist.TEST_IMAGES: np.zeros((10000, 28, 28), np.uint8),
        mnist.TEST_LABELS: np.arange(10000, dtype=np.uint8) % 10,
    }
    for name, array in arrays.items():
        (folder / name).write_bytes(idx.encode_idx(array))
    return folder


class CurrentFiles(Mapping[str, mnist.Checksum]):
    """Checksums of whatever the files in ``folder`` now hold: the fake Fashion-MNIST
    files pass verification, so the shape, count and range checks behind it are seen."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __getitem__(self, name: str) -> mnist.Checksum:
        path = mnist.find_file(self.folder, name)
        assert path is not None
        return mnist.Checksum("sha256", hashlib.sha256(idx.read_bytes(path)).hexdigest())

    def __iter__(self) -> Iterator[str]:
        return iter(mnist.FILES)

    def __len__(self) -> int:
        return len(mnist.FILES)


REAL_FASHION_MNIST = mnist.FASHION_MNIST


@pytest.fixture
def fashion(isolated: Path, fashion_template: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder of hard links to the template: tests replace (never modify) its files;
    `load_fashion_mnist` trusts what they hold (`CurrentFiles`)."""
    root = isolated / "fashion"
    shutil.copytree(fashion_template, root, copy_function=os.link)
    trusting = dataclasses.replace(REAL_FASHION_MNIST, checksums=CurrentFiles(root))
    monkeypatch.setattr(mnist, "FASHION_MNIST", trusting)
    return root


def replace(path: Path, array: np.ndarray, *, compress: bool = False) -> None:
    path.unlink(missing_ok=True)
    data = idx.encode_idx(array)
    path.write_bytes(gzip.compress(data) if compress else data)


def test_uncompressed_fashion_files_load_and_scale(fashion: Path) -> None:
    images = np.zeros((10000, 28, 28), np.uint8)
    images[1, 2, 3:6] = [255, 51, 1]
    replace(fashion / mnist.TEST_IMAGES, images)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(fashion, flatten=False)
    assert x_train.shape == (60000, 1, 28, 28)
    assert x_test.shape == (10000, 1, 28, 28)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == np.int64
    assert y_test[:12].tolist() == [*range(10), 0, 1]
    assert x_test[1, 0, 2, 3:6].tolist() == [1.0, np.float32(51 / 255), np.float32(1 / 255)]
    assert np.count_nonzero(x_test) == 3
    (x_flat, _), _ = load_fashion_mnist(fashion, dtype=np.float64)
    assert x_flat.shape == (60000, 784)
    assert x_flat.dtype == np.float64


def test_wrong_count_is_reported(fashion: Path) -> None:
    replace(fashion / mnist.TEST_LABELS, np.zeros(9999, np.uint8))
    with pytest.raises(ValueError, match=r"shape \(10000,\), found uint8 data of shape \(9999,\)"):
        load_fashion_mnist(fashion)


def test_wrong_image_shape_is_reported(fashion: Path) -> None:
    replace(fashion / mnist.TRAIN_IMAGES, np.zeros((60000, 784), np.uint8))
    with pytest.raises(ValueError, match=r"expected uint8 data of shape \(60000, 28, 28\)") as e:
        load_fashion_mnist(fashion)
    assert str(fashion / mnist.TRAIN_IMAGES) in str(e.value)


def test_wrong_dtype_is_reported(fashion: Path) -> None:
    replace(fashion / mnist.TRAIN_LABELS, np.zeros(60000, np.int32))
    with pytest.raises(ValueError, match=r"found int32 data of shape \(60000,\)"):
        load_fashion_mnist(fashion)


def test_label_out_of_range_is_reported(fashion: Path) -> None:
    labels = np.zeros(10000, np.uint8)
    labels[7] = 10
    replace(fashion / mnist.TEST_LABELS, labels)
    with pytest.raises(ValueError, match=r"expected labels 0..9, found 10") as e:
        load_fashion_mnist(fashion)
    assert str(fashion / mnist.TEST_LABELS) in str(e.value)


def test_fashion_file_of_other_content_is_refused_saying_what_to_do(
    fashion: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "FASHION_MNIST", REAL_FASHION_MNIST)
    path = fashion / f"{mnist.TRAIN_LABELS}.gz"  # read first; preferred to the uncompressed
    replace(path, np.arange(60000, dtype=np.uint8) % 10, compress=True)
    expected = "sha256 of the decompressed content should be bad3541b"
    with pytest.raises(ValueError, match=expected) as e:
        load_fashion_mnist(fashion)
    assert str(path) in str(e.value)
    assert hashlib.sha256(idx.read_bytes(path)).hexdigest() in str(e.value)
    assert "delete it (tinynet then downloads it again) or put the published file" in str(e.value)
