"""Memory and time bombs: small hostile files are refused in under a second with less
than 100 MB of memory growth, measured in a subprocess under an address-space cap.

The architecture bombs are model files of a few hundred bytes naming layers of GBs
(`tinynet.io.architecture.Budget` refuses them before construction); the gzip bombs
are IDX files whose stream inflates far beyond their header (`read_idx` stops one byte
after the declared payload) or whose header declares more than the file can hold.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import Dense, ReLU, Sequential
from tinynet.datasets import write_idx
from tinynet.io.npz import write_npz

SECONDS = 1.0
GROWTH_MB = 100
CAP = 2 * 2**30
"""The probe's address space: a regression fails here, it does not exhaust the machine."""

PROBE = """
import json, resource, sys, time
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import tinynet
from tinynet.datasets import load_idx_folder, read_idx
from tinynet.images import load_images
read = {"load": tinynet.load, "read_idx": read_idx, "load_idx_folder": load_idx_folder,
        "load_images": load_images}[sys.argv[2]]

def rss_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

try:  # reset the high-water mark, so that the imports' own peak hides nothing
    open("/proc/self/clear_refs", "w").write("5")
    before, peak = rss_kb("VmRSS"), lambda: rss_kb("VmHWM")
except OSError:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read(sys.argv[3])
    outcome = "loaded"
except Exception as error:
    outcome = f"{type(error).__name__}: {error}"
seconds = time.perf_counter() - start
print(json.dumps({"outcome": outcome, "seconds": seconds, "growth_mb": (peak() - before) / 1024}))
"""


def probe(reader: str, path: Path | str, cap: int = CAP) -> dict[str, Any]:
    """Run ``reader(path)`` in a fresh interpreter capped at ``cap`` bytes; its report."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(cap), reader, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def assert_refused(report: dict[str, Any], error: str, message: str) -> None:
    outcome = report["outcome"]
    print(f"{report['seconds']:.3f} s, +{report['growth_mb']:.1f} MB: {outcome[:150]}")
    assert outcome.startswith(f"{error}: "), outcome
    assert message in outcome, outcome
    assert report["seconds"] < SECONDS, report
    assert report["growth_mb"] < GROWTH_MB, report


# --- architecture bombs --------------------------------------------------------------------


def header_only(path: Path, model_node: dict[str, Any], tmp: Path) -> Path:
    """A real model file's header with ``model_node`` as its architecture, and no weights."""
    tinynet.save(Sequential(Dense(4, 3), ReLU()), tmp / "real.npz")
    with zipfile.ZipFile(tmp / "real.npz") as real:
        header = json.loads(np.load(real.open("__tinynet__.npy")).tobytes())
    header["model"] = model_node
    with path.open("wb") as handle:
        write_npz(handle, {"__tinynet__": np.frombuffer(json.dumps(header).encode(), np.uint8)})
    return path


def dense(n: int, m: int, name: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "Dense", "config": {"in_features": n, "out_features": m}}
    return node if name is None else {"name": name, **node}


ARCHITECTURES: dict[str, dict[str, Any]] = {
    "Dense(16384, 16384)": dense(16384, 16384),
    "40 x Dense(8192, 8192)": {
        "type": "Sequential",
        "children": [dense(8192, 8192, str(i)) for i in range(40)],
    },
    "BatchNorm1d(10**9)": {"type": "BatchNorm1d", "config": {"num_features": 10**9}},
    "Embedding(10**9, 1000)": {
        "type": "Embedding",
        "config": {"num_embeddings": 10**9, "embedding_dim": 1000},
    },
    "PositionalEmbedding(10**9, 1000)": {
        "type": "PositionalEmbedding",
        "config": {"max_len": 10**9, "embedding_dim": 1000},
    },
    "LayerNorm(10**10)": {"type": "LayerNorm", "config": {"normalized_shape": [10**10]}},
    "RNN(10**5, 10**5)": {"type": "RNN", "config": {"input_size": 10**5, "hidden_size": 10**5}},
    "LSTM(8, 8) stacked 10**9 deep": {
        "type": "LSTM",
        "config": {"input_size": 8, "hidden_size": 8, "num_layers": 10**9},
    },
    "GRU(10**9, 1000)": {"type": "GRU", "config": {"input_size": 10**9, "hidden_size": 1000}},
    "Conv1d(10**5, 10**5, 10**3)": {
        "type": "Conv1d",
        "config": {"in_channels": 10**5, "out_channels": 10**5, "kernel_size": 1000},
    },
    "Conv2d(10**6, 10**6, 3, groups=2)": {
        "type": "Conv2d",
        "config": {"in_channels": 10**6, "out_channels": 10**6, "kernel_size": 3, "groups": 2},
    },
    "MultiheadAttention(10**5) without its out_proj": {
        "type": "MultiheadAttention",
        "config": {"embed_dim": 10**5, "num_heads": 1},
    },
    "20000 layers": {
        "type": "Sequential",
        "children": [{"name": str(i), "type": "ReLU"} for i in range(20000)],
    },
}


@pytest.mark.parametrize("label", sorted(ARCHITECTURES))
def test_architecture_bomb(label: str, tmp_path: Path) -> None:
    path = header_only(tmp_path / "bomb.npz", ARCHITECTURES[label], tmp_path)
    assert path.stat().st_size < 2**20
    message = "more than 10000 layers" if "layers" in label else "more than the 0 the file's"
    assert_refused(probe("load", path), "ModelFormatError", message)


def test_array_header_declaring_data_the_file_lacks(tmp_path: Path) -> None:
    """A weight member whose .npy header declares 1 GiB, with the architecture to match."""
    path = header_only(tmp_path / "bomb.npz", dense(16384, 16384), tmp_path)
    with zipfile.ZipFile(path, "a") as archive, archive.open("weight.npy", "w") as member:
        header = {"descr": "<f4", "fortran_order": False, "shape": (16384, 16384)}
        np.lib.format.write_array_header_1_0(member, header)
    assert_refused(probe("load", path), "ModelFormatError", "the archive member holds 0")


def test_overlapping_zip_members(tmp_path: Path) -> None:
    """2000 directory entries naming the same 1 MB member: 2 GB declared by a 1 MB file."""
    model = Sequential(Dense(512, 512))
    tinynet.save(model, tmp_path / "real.npz")
    data = (tmp_path / "real.npz").read_bytes()
    end = data.rfind(b"PK\x05\x06")
    directory_at = struct.unpack("<I", data[end + 16 : end + 20])[0]
    entries = data[directory_at:end]
    weight = entries.index(b"PK\x01\x02", entries.index(b"0.weight.npy") - 46)
    record = entries[weight : entries.index(b"PK\x01\x02", weight + 4)]
    copies = [record.replace(b"0.weight.npy", f"{i:08d}.npy".encode()) for i in range(2000)]
    directory = entries + b"".join(copies)
    count = entries.count(b"PK\x01\x02") + len(copies)
    eocd = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), 0, 0)
    eocd = eocd[:16] + struct.pack("<I", directory_at) + eocd[20:]
    path = tmp_path / "overlap.npz"
    path.write_bytes(data[:directory_at] + directory + eocd)
    assert_refused(probe("load", path), "ModelFormatError", "overlaps the one before it")


# --- gzip bombs ----------------------------------------------------------------------------


def gzip_idx(path: Path, dims: tuple[int, ...], zeros: int) -> Path:
    """A gzipped IDX file: a uint8 header declaring ``dims``, then ``zeros`` zero bytes."""
    stream = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [stream.compress(bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims))]
    block = bytes(2**24)
    while zeros:
        parts.append(stream.compress(block[: min(zeros, len(block))]))
        zeros -= min(zeros, len(block))
    path.write_bytes(b"".join(parts) + stream.flush())
    return path


@pytest.fixture(scope="module")
def gigabyte_of_zeros(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``name -> path``: a 1 MB .gz inflating to 1 GiB, whose header declares 10 images."""
    folder = tmp_path_factory.mktemp("bombs")
    source = gzip_idx(folder / "source.gz", (10, 28, 28), 2**30)

    def copy(name: str) -> Path:
        (folder / name).write_bytes(source.read_bytes())
        return folder / name

    return copy


def test_gzip_inflating_past_its_header(gigabyte_of_zeros: Callable[[str], Path]) -> None:
    path = gigabyte_of_zeros("bomb.gz")
    assert path.stat().st_size < 2 * 2**20
    assert_refused(probe("read_idx", path), "IdxFormatError", "(trailing bytes)")


def test_gzip_bomb_in_a_dataset_folder(
    gigabyte_of_zeros: Callable[[str], Path], tmp_path: Path
) -> None:
    """``tinynet train --data DIR`` with the bomb as its training images."""
    gigabyte_of_zeros("bomb.gz").replace(tmp_path / "train-images-idx3-ubyte.gz")
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(10, np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    assert_refused(probe("load_idx_folder", tmp_path), "IdxFormatError", "trailing bytes")


def test_gzip_header_declaring_more_than_deflate_can_hold(tmp_path: Path) -> None:
    path = gzip_idx(tmp_path / "liar.gz", (2**32 - 1, 28, 28), 0)
    assert_refused(probe("read_idx", path), "IdxFormatError", "more than a gzip file of")


def test_images_file_with_more_images_than_labels(tmp_path: Path) -> None:
    """A dataset's images header must match its labels before the images are read."""
    gzip_idx(tmp_path / "train-images-idx3-ubyte.gz", (1369568, 28, 28), 0)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(64, np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    assert_refused(
        probe("load_idx_folder", tmp_path), "IdxFormatError", "expected uint8 data of shape (64,"
    )


def test_a_declared_gigabyte_under_a_smaller_cap(tmp_path: Path) -> None:
    """A file declaring 1 GiB where memory is capped at 512 MiB: a clear refusal. (Its
    stream is cut short, but padded to 1 MiB: a gzip file that could hold 1 GiB.)"""
    path = gzip_idx(tmp_path / "big.gz", (1369568, 28, 28), 0)
    path.write_bytes(path.read_bytes()[:-8] + bytes(2**20))
    report = probe("read_idx", path, cap=2**29)
    assert_refused(report, "IdxFormatError", "which NumPy cannot hold here: MemoryError")


def test_dev_zero() -> None:
    device = "is not a file (it is a device, FIFO or socket)"
    assert_refused(probe("read_idx", "/dev/zero"), "IdxFormatError", device)
    assert_refused(probe("load", "/dev/zero"), "ModelFormatError", device)
    assert_refused(probe("load_images", "/dev/zero"), "ImageFormatError", device)


def test_npy_image_declaring_784_tebibytes(tmp_path: Path) -> None:
    path = tmp_path / "images.npy"
    with path.open("wb") as handle:
        header = {"descr": "|u1", "fortran_order": False, "shape": (2**40, 784)}
        np.lib.format.write_array_header_1_0(handle, header)
    assert_refused(probe("load_images", path), "ImageFormatError", "the file holds 0 (truncated)")
