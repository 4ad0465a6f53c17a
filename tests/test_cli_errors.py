"""Every error of the ``tinynet`` command is one line on stderr naming the file or
option and the problem, exit status 2, never a traceback (issue 12; ``shared/repro``
05, 07b, 12, 13, 23, 24); output paths and the checkpoint template are checked before
training. ``--debug`` / ``TINYNET_DEBUG=1`` show the traceback instead."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import Dense, ReLU, Sequential
from tinynet.cli import main
from tinynet.datasets.idx import write_idx

MODEL = """\
from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe

def build(seed):
    return Sequential(Dense(784, 8, seed=seed), ReLU(), Dense(8, 10, seed=seed))

RECIPE = Recipe(epochs=2, batch_size=16{extra})
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 training and 8 test images (IDX, in ``data/``) and a small model file."""
    root = tmp_path_factory.mktemp("cli_errors")
    rng = np.random.default_rng(0)
    data = root / "data"
    data.mkdir()
    write_idx(data / "train-images-idx3-ubyte", rng.integers(0, 256, (64, 28, 28), np.uint8))
    write_idx(data / "train-labels-idx1-ubyte", rng.integers(0, 10, 64).astype(np.uint8))
    write_idx(data / "t10k-images-idx3-ubyte", rng.integers(0, 256, (8, 28, 28), np.uint8))
    write_idx(data / "t10k-labels-idx1-ubyte", rng.integers(0, 10, 8).astype(np.uint8))
    (root / "m.py").write_text(MODEL.format(extra=""))
    (root / "digit.pgm").write_bytes(b"P5\n28 28\n255\n" + bytes(784))
    (root / "a_dir").mkdir()
    return root


Result = namedtuple("Result", "status out err")


def run(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """``tinynet ARGS`` in ``folder``, in this process."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        status = main(list(args))
    finally:
        os.chdir(before)
    out, err = capsys.readouterr()
    return Result(status, out, err)


def assert_one_line_error(result: Result, *needles: str) -> str:
    """Exit status 2, exactly one line on stderr, no traceback, naming each needle."""
    assert result.status == 2, result
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert "Traceback" not in result.err
    assert lines[0].startswith("tinynet "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def train(*extra: str) -> tuple[str, ...]:
    return ("train", "m.py", "--data", "data", "--verbose", "0", *extra)


# --- 12, 24: output paths and the checkpoint template, before training ---------------


@pytest.mark.parametrize(
    ("options", "needles"),
    [
        (("--checkpoint", "ck-{val_accuracy:.3f}.npz"), ("--checkpoint", "{val_accuracy}")),
        (("--checkpoint", "ck-{0}.npz"), ("--checkpoint", "has the field {0}")),
        (("--checkpoint", "ck-{.npz"), ("--checkpoint", "expected '}' before end of string")),
        (("--checkpoint", "ck-{loss:d}.npz"), ("--checkpoint", "Unknown format code 'd'")),
        (("--checkpoint", "m.py/ck-{epoch}.npz"), ("--checkpoint", "Not a directory", "m.py")),
        (("--save", "a_dir"), ("--save", "Is a directory", "a_dir")),
        (("--save", "m.py/model.npz"), ("--save", "Not a directory", "'m.py'")),
        (("--metrics-json", "a_dir"), ("--metrics-json", "Is a directory")),
        (("--save", "/dev/null"), ("--save", "not a regular file", "/dev/null")),
    ],
)
def test_a_bad_output_path_is_refused_before_training(
    folder: Path, capsys: pytest.CaptureFixture[str], options: tuple[str, ...], needles: Any
) -> None:
    """repro 12: these failed after the first epoch (a KeyError traceback) or after
    training, its result lost."""
    result = run(folder, capsys, *train(*options))
    assert_one_line_error(result, *needles)
    assert result.out == ""  # refused before the 'training ...' line: nothing ran
    assert not list(folder.glob("ck-*"))


def test_a_checkpoint_template_may_use_what_the_run_logs(
    folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    template = str(tmp_path / "ck-{epoch:02d}-{val_accuracy:.2f}-{lr:g}.npz")
    result = run(folder, capsys, *train("--validation-split", "0.25", "--checkpoint", template))
    assert result.status == 0, result.err
    assert len(list(tmp_path.glob("ck-*.npz"))) == 2


def test_a_disk_too_full_for_the_model_is_refused_before_training(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """repro 24: the ENOSPC came after training (naming the file since phase 1)."""
    usage = shutil.disk_usage(folder)
    monkeypatch.setattr(
        "tinynet.atomic.shutil.disk_usage", lambda _: usage._replace(free=16 * 1024)
    )
    result = run(folder, capsys, *train("--save", "out.npz"))
    assert_one_line_error(
        result, "--save", "No space left on device", "25,480 bytes to write, 16,384 free"
    )
    assert result.out == ""


# --- 05: divergence, NaN weights ------------------------------------------------------


def test_divergence_and_nan_weights_are_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "m.py").write_text(
        MODEL.format(extra=", optimizer='sgd', optimizer_args={'lr': 1e30}")
    )
    shutil.copytree(folder / "data", tmp_path / "data")
    assert_one_line_error(
        run(tmp_path, capsys, *train()), "tinynet train: error: fit: the loss became nan"
    )
    model = Sequential(Dense(784, 8), ReLU(), Dense(8, 10))
    model.parameters()[-1].data[:] = np.nan
    tinynet.save(model, tmp_path / "nan.npz")
    for args in (
        ("predict", "nan.npz", str(folder / "digit.pgm")),
        ("evaluate", "m.py", "--weights", "nan.npz", "--data", "data"),
    ):
        assert_one_line_error(run(tmp_path, capsys, *args), "nan.npz", "NaN or infinite")


# --- 13: the model file's own errors ---------------------------------------------------


@pytest.mark.parametrize(
    ("source", "needles"),
    [
        ("raise RuntimeError('no GPU here')\n", ("bad.py:1: RuntimeError: no GPU here",)),
        ("CONFIG = {}\ndef build(seed):\n    return CONFIG['width']\n", ("bad.py:3: KeyError",)),
        ("def build(seed):\n    raise ValueError('bad width')\n", ("bad.py:2: ValueError: bad",)),
        ("def build(seed)\n    return 1\n", ("bad.py:1: SyntaxError",)),
        ("import no_such_module_here\n", ("bad.py:1: ModuleNotFoundError",)),
        (
            "from tinynet import Dense\ndef build(seed):\n    return Dense(0, 3)\n",
            ("bad.py:3: ValueError: Dense: in_features must be a positive integer",),
        ),
        (
            MODEL.format(extra=", schedule='warmup_cosine'"),
            ("bad.py:7: ValueError: Recipe: schedule_args of schedule 'warmup_cosine'", "warmup"),
        ),
        (
            MODEL.format(extra=", optimizer_args={'learning_rate': 0.1}"),
            ("bad.py:7", "optimizer_args of optimizer 'adam': unknown ['learning_rate']"),
        ),
        ("class Oops(Exception):\n    pass\nraise Oops()\n", ("bad.py:3: Oops: (no message)",)),
        ("def build(seed):\n    return 3\n", ("build(seed) must return a tinynet Layer",)),
    ],
)
@pytest.mark.parametrize("command", ["summary", "train"])
def test_an_error_in_the_model_file_names_the_file_and_line(
    folder: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    source: str,
    needles: tuple[str, ...],
    command: str,
) -> None:
    """repro 13: KeyError 'warmup', RuntimeError and KeyError from the file were
    tracebacks; a ValueError lost the file and line."""
    (tmp_path / "bad.py").write_text(source)
    shutil.copytree(folder / "data", tmp_path / "data", dirs_exist_ok=True)
    args = ["bad.py"] if command == "summary" else ["bad.py", "--data", "data", "--verbose", "0"]
    assert_one_line_error(run(tmp_path, capsys, command, *args), *needles)


def test_an_error_in_a_custom_layer_during_training_names_its_line(
    folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "custom.py").write_text(
        "import numpy as np\n"
        "from tinynet import Dense, Layer, Sequential, register_layer\n"
        "@register_layer  # an unregistered layer is refused before training\n"
        "class Odd(Layer):\n"
        "    def forward(self, x):\n"
        "        return {}['missing']\n"
        "    def backward(self, grad_y):\n"
        "        return grad_y\n"
        "def build(seed):\n"
        "    return Sequential(Dense(784, 10, seed=seed), Odd())\n"
    )
    shutil.copytree(folder / "data", tmp_path / "data", dirs_exist_ok=True)
    result = run(tmp_path, capsys, "train", "custom.py", "--data", "data", "--verbose", "0")
    assert_one_line_error(result, "custom.py:6: KeyError: 'missing'")


# --- 07b: a corrupt checkpoint to resume ---------------------------------------------


def edited(path: Path, edit: Any, target: Path) -> Path:
    with zipfile.ZipFile(path) as archive:
        items = {info.filename: archive.read(info) for info in archive.infolist()}
    header = json.loads(np.load(io.BytesIO(items["__tinynet__.npy"])).tobytes())
    edit(header)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(json.dumps(header).encode(), np.uint8))
    items["__tinynet__.npy"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)
    return target


@pytest.mark.parametrize(
    ("edit", "needles"),
    [
        (
            lambda h: h["metadata"]["tinynet_checkpoint"].pop("callbacks"),
            ("bad.npz: training state: missing 'callbacks'",),
        ),
        (
            lambda h: h["metadata"]["tinynet_checkpoint"].__setitem__("history_epochs", [0, 1, 2]),
            ("bad.npz: training state: 'history_epochs'",),
        ),
        (
            lambda h: h["metadata"]["tinynet_checkpoint"].__setitem__("epochs_done", -5),
            ("bad.npz: training state: 'epochs_done' must be",),
        ),
        (
            lambda h: [
                e.__setitem__("step", float("inf")) for e in h["optimizer"]["state"].values()
            ],
            ("bad.npz: optimizer:", "needs 'step', an integer"),
        ),
        (
            lambda h: h["optimizer"]["param_groups"][0].__setitem__("lr", "0.001"),
            ("bad.npz: optimizer:", "lr must be a finite number >= 0, got '0.001'"),
        ),
    ],
)
def test_resuming_a_corrupt_checkpoint_is_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, edit: Any, needles: Any
) -> None:
    """repro 07b: KeyError and IndexError tracebacks."""
    for name in ("m.py", "data"):
        (tmp_path / name).symlink_to(folder / name)
    assert run(tmp_path, capsys, *train("--checkpoint", "ck.npz")).status == 0
    edited(tmp_path / "ck.npz", edit, tmp_path / "bad.npz")
    assert_one_line_error(run(tmp_path, capsys, *train("--resume", "bad.npz")), *needles)


# --- the rest: usage errors, multi-line messages, interrupts, --debug ------------------


def test_usage_errors_are_one_line_too(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args, needle in [
        (("train",), "the following arguments are required: model_file"),
        (("train", "m.py", "--epochs", "x"), "argument --epochs: invalid int value: 'x'"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ]:
        with pytest.raises(SystemExit) as stop:
            run(folder, capsys, *args)
        assert stop.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert needle in err
        assert "--help" in err


def test_a_multi_line_message_is_printed_on_one_line(
    folder: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tinynet.save(Sequential(Dense(784, 10, seed=0)), tmp_path / "m.npz")

    def wider(header: dict[str, Any]) -> None:
        header["model"]["children"][0]["config"]["out_features"] = 12

    edited(tmp_path / "m.npz", wider, tmp_path / "bad.npz")
    line = assert_one_line_error(
        run(tmp_path, capsys, "predict", "bad.npz", str(folder / "digit.pgm")),
        "bad.npz: the weights do not fit the architecture",
    )
    assert "; " in line


def test_other_errors_show_their_type_and_an_interrupt_is_130(
    folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def raising(error: BaseException) -> Any:
        def command(_: Any) -> Any:
            raise error

        return command

    monkeypatch.setattr("tinynet.cli.command_summary", raising(KeyError("k")))
    monkeypatch.setattr("tinynet.cli.command_export", raising(KeyboardInterrupt()))
    assert_one_line_error(run(folder, capsys, "summary", "m.py"), "error: KeyError: 'k'")
    result = run(folder, capsys, "export", "w.npz", "o.onnx")
    assert (result.status, result.err) == (130, "tinynet export: interrupted\n")


def test_debug_shows_the_traceback(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("def build(seed):\n    return {}['width']\n")
    command = [sys.executable, "-m", "tinynet", "summary", "bad.py"]
    plain = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert (plain.returncode, plain.stderr) == (
        2,
        "tinynet summary: error: bad.py:2: KeyError: 'width'\n",
    )
    for extra, env in (["--debug"], {}), ([], {"TINYNET_DEBUG": "1"}):
        debug = subprocess.run(
            command + extra,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env},
        )
        assert debug.returncode == 1
        assert "Traceback" in debug.stderr
        assert 'bad.py", line 2, in build' in debug.stderr
