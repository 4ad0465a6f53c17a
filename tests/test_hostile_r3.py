"""Hostile input, round 3 (issue 23): absurd layer geometry refused when the layer is
built (so at load, naming the node), and forward-time memory bombs refused from the
input's shape before anything is allocated (`tinynet.limits`)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import AvgPool2d, Conv1d, Conv2d, Dense, Flatten, MaxPool2d, Sequential, limits
from tinynet.containers import Parallel
from tinynet.io.errors import ModelFormatError
from tinynet.io.npz import write_npz
from tinynet.layers.adaptive import AdaptiveAvgPool2d
from tinynet.layers.reshape import Unflatten

# --- d11: geometry out of any sane range, refused at construction and at load -----------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Conv2d(1, 3, 5, stride=10**18), "Conv2d: stride must be"),
        (lambda: Conv2d(1, 3, 3, padding="same", dilation=10**18), "Conv2d: dilation must be"),
        (lambda: Conv2d(1, 3, 5, padding=10**6 + 2**20), "Conv2d: padding must be"),
        (lambda: Conv2d(1, 3, (1, 2**21)), "Conv2d: kernel_size must be"),
        (lambda: Conv1d(1, 3, 5, stride=10**18), "Conv1d: stride must be"),
        (
            lambda: Conv1d(1, 3, 5, dilation=2**400),
            "Conv1d: dilation must be .* an int of 401 bits",
        ),
        (lambda: MaxPool2d(2, stride=10**18), "MaxPool2d: stride must be"),
        (lambda: AvgPool2d(3, padding=(1, 10**18)), "AvgPool2d: padding must be"),
        (lambda: MaxPool2d(1000, padding=500), "MaxPool2d: kernel_size .* 1,000,000 cells"),
    ],
)
def test_absurd_geometry_is_refused_when_built(build: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        build()
    assert "1,048,576" in str(caught.value) or "65,536" in str(caught.value)


def test_the_largest_geometry_is_accepted() -> None:
    conv = Conv1d(1, 1, 1, stride=limits.MAX_GEOMETRY, dilation=limits.MAX_GEOMETRY)
    assert conv.stride == conv.dilation == (2**20,)
    assert Conv2d(1, 1, 1, stride=2**20).stride == (2**20, 2**20)
    assert MaxPool2d((256, 256)).kernel_size == (256, 256)


def with_config(tmp: Path, layer_index: int, **changes: Any) -> Path:
    """A saved conv model whose layer ``layer_index`` has ``changes`` in its config."""
    model = Sequential(Conv2d(1, 3, 5), AdaptiveAvgPool2d(1), Flatten(), Dense(3, 10))
    tinynet.save(model, tmp / "real.npz")
    with zipfile.ZipFile(tmp / "real.npz") as real:
        header = json.loads(np.load(real.open("__tinynet__.npy")).tobytes())
        arrays = {
            name[: -len(".npy")]: np.load(real.open(name))
            for name in real.namelist()
            if name != "__tinynet__.npy"
        }
    header["model"]["children"][layer_index]["config"].update(changes)
    arrays["__tinynet__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    path = tmp / "edited.npz"
    with path.open("wb") as handle:
        write_npz(handle, arrays)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"stride": [10**18, 1]}, "stride"), ({"dilation": [1, 10**18]}, "dilation")],
)
def test_a_file_with_absurd_geometry_is_refused_at_load(
    changes: dict[str, Any], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ModelFormatError, match=rf"model\.0: .*Conv2d: {message} must be"):
        tinynet.load(with_config(tmp_path, 0, **changes))


# --- d02, d03: forward-time memory bombs --------------------------------------------------


def test_the_bound_is_arithmetic_on_the_shape() -> None:
    """A layer one number over the bound is refused; one at it runs."""
    side = 2048  # Conv2d(1, 1, 1): columns + output = 2 * side^2 numbers, no padding copy
    assert 2 * side * side == limits.MAX_SAMPLE_ELEMENTS
    conv = Conv2d(1, 1, 1).eval()
    assert conv(np.zeros((1, 1, side, side), np.float32)).shape == (1, 1, side, side)
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(1, 1, kernel_size=\(1, 1\)\): its padded .* "
        r"8,392,704 numbers per sample, more than tinynet.limits",
    ):
        conv(np.zeros((1, 1, side, side + 1), np.float32))


def test_the_bound_can_be_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    layer = AdaptiveAvgPool2d(3000).eval()
    x = np.zeros((1, 1, 2, 2), np.float32)
    with pytest.raises(ValueError, match="AdaptiveAvgPool2d"):
        layer(x)
    monkeypatch.setattr(limits, "MAX_SAMPLE_ELEMENTS", 2**24)
    assert layer(x).shape == (1, 1, 3000, 3000)


def parallel_doubling(k: int) -> Sequential:
    layers = [Flatten(), *(Parallel(Flatten(), Flatten()) for _ in range(k))]
    return Sequential(
        *layers, Unflatten(1, (1, 1, -1)), AdaptiveAvgPool2d(1), Flatten(), Dense(1, 10)
    )


BOMBS = {
    "Conv2d(1,1,1,padding=8000)": lambda: Sequential(
        Conv2d(1, 1, 1, padding=8000), AdaptiveAvgPool2d(1), Flatten(), Dense(1, 10)
    ),
    "Conv2d(1,1,1,padding=2**20)": lambda: Sequential(
        Conv2d(1, 1, 1, padding=2**20), AdaptiveAvgPool2d(1), Flatten(), Dense(1, 10)
    ),
    "Conv1d(1,1,1,padding=2**20)": lambda: Sequential(
        Flatten(), Unflatten(1, (1, -1)), Conv1d(1, 64, 3, padding=2**20), Flatten(), Dense(1, 10)
    ),
    "MaxPool2d(256, padding=128)": lambda: Sequential(
        Conv2d(1, 64, 1), MaxPool2d(256, stride=1, padding=128), Flatten(), Dense(1, 10)
    ),
    "AvgPool2d((1, 2**16), padding=(0, 2**15))": lambda: Sequential(
        Conv2d(1, 16, 1),
        AvgPool2d((1, 2**16), stride=1, padding=(0, 2**15)),
        Flatten(),
        Dense(1, 10),
    ),
    "AdaptiveAvgPool2d(20000)": lambda: Sequential(
        Conv2d(1, 1, 1), AdaptiveAvgPool2d(20000), AdaptiveAvgPool2d(1), Flatten(), Dense(1, 10)
    ),
    "Parallel(Flatten(), Flatten()) x 18": lambda: parallel_doubling(18),
}

PROBE = """
import json, resource, sys, time
cap = 2 * 2**30
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import numpy as np
import tinynet
from tinynet.inference import predict
model = tinynet.load(sys.argv[1])
x = np.zeros((1, 1, 28, 28), np.float32)
rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before, start = rss(), time.perf_counter()
try:
    predict(model, x)
    outcome = "ran"
except Exception as error:
    outcome = f"{type(error).__name__}: {error}"
print(json.dumps({"outcome": outcome, "seconds": time.perf_counter() - start,
                  "growth_mb": (rss() - before) / 1024}))
"""


@pytest.mark.parametrize("label", BOMBS)
def test_a_small_file_cannot_make_a_forward_allocate_much(label: str, tmp_path: Path) -> None:
    """The file (a few KB) loads; predict on ONE 28x28 image is refused in under a second
    with under 100 MB of growth, naming the layer, in a child capped at 2 GiB."""
    path = tmp_path / "bomb.npz"
    model = BOMBS[label]()
    tinynet.save(model, path, metadata={"recipe": {"loss": "cross_entropy"}})
    assert path.stat().st_size < 20_000
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    kind = label.split("(")[0]
    assert report["outcome"].startswith(f"ValueError: {kind}"), report
    assert "tinynet.limits.MAX_SAMPLE_" in report["outcome"], report
    assert report["seconds"] < 1.0, report
    assert report["growth_mb"] < 100, report


def test_parallel_checks_each_branch_before_the_next_runs() -> None:
    ran: list[int] = []

    class Spy(Flatten):
        def forward(self, x: Any) -> Any:
            ran.append(1)
            return super().forward(x)

    wide = limits.MAX_SAMPLE_ELEMENTS // 2 + 1
    model = Parallel(Flatten(), Spy(), Spy()).eval()
    with pytest.raises(ValueError, match=r"Parallel: its branch outputs \(the first 2 of 3\)"):
        model(np.zeros((1, wide), np.float32))
    assert ran == [1]


# --- the CLI: outputs, resume, class weights, test labels, disk space ---------------------

MODEL = """\
from tinynet import Dense, {act}, Sequential
from tinynet.recipe import Recipe

def build(seed):
    return Sequential(Dense({inp}, 8, seed=seed), {act}(), Dense(8, {out}, seed=seed))

RECIPE = Recipe(epochs=2, batch_size=16{extra})
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training and 8 test images (IDX, in ``data/``) and small model files."""
    from tinynet.datasets.idx import write_idx

    root = tmp_path_factory.mktemp("r3_cli")
    rng = np.random.default_rng(0)
    data = root / "data"
    data.mkdir()
    write_idx(data / "train-images-idx3-ubyte", rng.integers(0, 256, (64, 28, 28), np.uint8))
    write_idx(data / "train-labels-idx1-ubyte", rng.integers(0, 10, 64).astype(np.uint8))
    write_idx(data / "t10k-images-idx3-ubyte", rng.integers(0, 256, (8, 28, 28), np.uint8))
    write_idx(data / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 8).astype(np.uint8))
    for name, act in (("m.py", "ReLU"), ("tanh.py", "Tanh")):
        (root / name).write_text(MODEL.format(act=act, inp=784, out=10, extra=""))
    binary = MODEL.format(act="ReLU", inp=2, out=1, extra=", loss='bce_with_logits'")
    (root / "bin.py").write_text(binary)
    (root / "m2.py").write_text(MODEL.format(act="ReLU", inp=2, out=2, extra=""))
    return root


def cli(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``tinynet ARGS`` in ``folder``, in this process: (status, stderr)."""
    import os

    from tinynet.cli import main

    before = Path.cwd()
    os.chdir(folder)
    try:
        status = main(list(args))
    finally:
        os.chdir(before)
    return status, capsys.readouterr().err


def train(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    return cli(folder, capsys, "train", "--data", "data", "--verbose", "0", *args)


def is_checkpoint(path: Path) -> bool:
    from tinynet.checkpoint import KEY

    return KEY in tinynet.io.load_full(path).metadata


def one_line(status: int, err: str, *needles: str) -> None:
    assert status == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize(
    ("first", "second", "other"),
    [("--checkpoint", "--save", "ck.npz"), ("--checkpoint", "--metrics-json", "./ck.npz")],
)
def test_two_outputs_naming_one_file_are_refused_before_training(
    first: str, second: str, other: str, folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d21: the later write would have destroyed the checkpoint."""
    status, err = train(folder, capsys, "m.py", first, "ck.npz", second, other)
    one_line(status, err, "--save" if second == "--save" else "--metrics-json", "--checkpoint")
    assert "destroy" in err
    assert not (folder / "ck.npz").exists()


def test_save_onto_the_resumed_checkpoint_is_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(folder, capsys, "m.py", "--checkpoint", "ck2.npz")[0] == 0
    before = (folder / "ck2.npz").read_bytes()
    status, err = train(folder, capsys, "m.py", "--resume", "ck2.npz", "--epochs", "4", "--save",
                        "ck2.npz")  # fmt: skip
    one_line(status, err, "--save and --resume both name ck2.npz")
    assert (folder / "ck2.npz").read_bytes() == before
    assert is_checkpoint(folder / "ck2.npz")


def test_resume_writes_checkpoints_to_the_checkpoint_option_too(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d16: --checkpoint is honoured with --resume (it was dropped without a word)."""
    assert train(folder, capsys, "m.py", "--checkpoint", "ck16.npz")[0] == 0
    status, err = train(folder, capsys, "m.py", "--resume", "ck16.npz", "--epochs", "4",
                        "--checkpoint", "r16-{epoch}.npz")  # fmt: skip
    assert status == 0, err
    assert sorted(p.name for p in folder.glob("r16-*.npz")) == ["r16-3.npz", "r16-4.npz"]
    assert is_checkpoint(folder / "r16-4.npz")
    saved = tinynet.io.load_full(folder / "r16-4.npz").model.state_dict()
    kept = tinynet.io.load_full(folder / "ck16.npz").model.state_dict()  # resumed file too
    assert all(np.array_equal(saved[k], kept[k]) for k in saved)


def test_resume_of_another_architecture_is_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d09: a Tanh model may not continue a ReLU model's checkpoint of the same shapes."""
    assert train(folder, capsys, "m.py", "--checkpoint", "ck9.npz")[0] == 0
    before = (folder / "ck9.npz").read_bytes()
    status, err = train(folder, capsys, "tanh.py", "--resume", "ck9.npz", "--epochs", "4")
    one_line(status, err, "ck9.npz", "model.1", "Tanh()", "ReLU()")
    assert (folder / "ck9.npz").read_bytes() == before


def test_resume_of_a_plain_model_file_says_it_is_not_a_checkpoint(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d19 g: it said "written by a different run: dataset: null there ...", as if the
    settings differed; the file has none because it is no checkpoint."""
    assert train(folder, capsys, "m.py", "--save", "plain19.npz")[0] == 0
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    status, err = train(folder, capsys, "m.py", "--resume", "plain19.npz", "--epochs", "4")
    one_line(
        status, err, "plain19.npz is a model file, not a checkpoint (write one with --checkpoint)"
    )
    assert "different run" not in err
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_a_class_weight_key_outside_the_labels_is_refused_without_a_table() -> None:
    """d13: the lookup table was sized by the largest key (2.3 GB for 300000000=1)."""
    import time
    import tracemalloc

    from tinynet.data import class_sample_weights

    y = np.array([0, 1, 2, 1])
    assert class_sample_weights({1: 3.0}, y).tolist() == [1.0, 3.0, 1.0, 3.0]
    tracemalloc.start()
    start = time.perf_counter()
    for key in (300_000_000, 10**11, -1, 3):
        with pytest.raises(ValueError, match=rf"class {key} is not a class of the data .*0\.\.2"):
            class_sample_weights({key: 1.0}, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - start < 0.5
    assert peak < 1_000_000


def test_test_labels_of_another_kind_are_refused_before_training(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d06: a float or (N, K) y_test failed after every epoch, the model unsaved."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (64, 28, 28), np.uint8), rng.integers(0, 10, 64)
    for y_test in (np.array([0.0, 1.0, 2.0, 3.5], np.float32), np.zeros((4, 3), np.int64)):
        np.savez(folder / "d6.npz", x_train=x, y_train=y, x_test=x[:4], y_test=y_test)
        status, err = cli(folder, capsys, "train", "m.py", "--data", "d6.npz", "--save",
                          "d6-out.npz")  # fmt: skip
        one_line(status, err, "d6.npz (y_test)", "integer class labels", str(y_test.dtype))
        assert "epoch" not in err
        assert not (folder / "d6-out.npz").exists()


def test_binary_test_labels_other_than_0_and_1_are_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """d06: test labels 2 and 7 were scored as class 1 by a binary head."""
    rng = np.random.default_rng(0)
    rows = "".join(f"{rng.random():.3f},{rng.random():.3f},{i % 2}\n" for i in range(64))
    (folder / "btr.csv").write_text("f0,f1,y\n" + rows)
    labels = [0, 1, 2, 7]
    test = "".join(f"0.5,0.5,{labels[i % 4]}\n" for i in range(16))
    (folder / "bte.csv").write_text("f0,f1,y\n" + test)
    status, err = cli(folder, capsys, "train", "bin.py", "--data", "btr.csv", "--test-data",
                      "bte.csv", "--target", "y", "--metrics-json", "bm.json")  # fmt: skip
    one_line(status, err, "bte.csv", "0/1 test targets", "got 2, 7")
    assert not (folder / "bm.json").exists()
    (folder / "bte.csv").write_text("f0,f1,y\n0.1,0.2,1\n0.3,0.4,2.5\n")
    status, err = cli(folder, capsys, "train", "m2.py", "--data", "btr.csv", "--test-data",
                      "bte.csv", "--target", "y")  # fmt: skip
    one_line(status, err, "bte.csv", "integer class labels")


def test_free_space_is_checked_for_the_optimizer_state_too(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """d14: an Adam checkpoint holds three times the weights; only the weights were asked."""
    import shutil

    from tinynet.experiment import optimizer_state_bytes
    from tinynet.recipe import Recipe

    model = Sequential(Dense(784, 8), Dense(8, 10))
    weights = sum(a.nbytes for a in model.state_dict(copy=False).values())
    assert optimizer_state_bytes(model, Recipe()) == 2 * weights  # Adam: two moments
    sgd = Recipe(optimizer="sgd", optimizer_args={"lr": 0.1})
    assert optimizer_state_bytes(model, sgd) == 0

    def disk_usage(path: Any) -> Any:
        return shutil._ntuple_diskusage(10**9, 10**9, 2 * weights)  # type: ignore[attr-defined]

    monkeypatch.setattr("tinynet.atomic.shutil.disk_usage", disk_usage)
    status, err = train(folder, capsys, "m.py", "--checkpoint", "ck14.npz")
    one_line(status, err, "--checkpoint", "No space left", f"{3 * weights:,} bytes")
    assert train(folder, capsys, "m.py", "--save", "s14.npz")[0] == 0


def test_a_file_size_limit_is_checked_before_training(folder: Path) -> None:
    """d14: under ``ulimit -f`` --save failed after training and the test report."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))  # weights: 25 KB

    command = [sys.executable, "-m", "tinynet", "train", "m.py", "--data", "data", "--save",
               "big.npz", "--verbose", "1"]  # fmt: skip
    result = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, preexec_fn=limit, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "--save: [Errno 27] File too large" in result.stderr
    assert "ulimit -f" in result.stderr
    assert "epoch" not in result.stderr
    assert not (folder / "big.npz").exists()


@pytest.mark.parametrize(
    ("layer", "x", "name"),
    [
        (Dense(1, 2**14), np.zeros((1, 784, 1), np.float32), "Dense(1, 16384)"),
        ("embedding", np.zeros((1, 784), np.int64), "Embedding(2, 16384)"),
        ("attention", np.zeros((1, 2048, 8), np.float32), "MultiheadAttention"),
        ("lstm", np.zeros((1, 784, 1), np.float32), "LSTM"),
    ],
)
def test_sequence_layers_bound_their_outputs(layer: Any, x: Any, name: str) -> None:
    """A small weight times many positions: refused from the shape, not allocated."""
    from tinynet.layers.attention import MultiheadAttention
    from tinynet.layers.embedding import Embedding
    from tinynet.layers.recurrent import LSTM

    made = {
        "embedding": lambda: Embedding(2, 2**14),
        "attention": lambda: MultiheadAttention(8, 8),
        "lstm": lambda: LSTM(1, 2048),
    }
    model = (made[layer]() if isinstance(layer, str) else layer).eval()
    with pytest.raises(ValueError, match=rf"{re.escape(name)}.*more than tinynet\.limits"):
        model(x)
    assert model(x[:, :8]).shape[:2] == (1, 8)
