"""Hostile input, round 3 (issue 23): absurd layer geometry refused when the layer is
built (so at load, naming the node), and forward-time memory bombs refused from the
input's shape before anything is allocated (`tinynet.limits`)."""

from __future__ import annotations

import json
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
