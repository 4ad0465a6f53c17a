"""PyTorch pickles (.pt) are recognized and refused, unread, wherever a model file arrives."""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import Dense, Sequential
from tinynet.cli import main
from tinynet.io import ModelFormatError, load, load_full, load_safetensors
from tinynet.io.pickled import pickle_kind

REFUSAL = "this is a PyTorch pickle: tinynet never unpickles; save it with safetensors"


class Trap:
    """Unpickling this creates the file ``path``: the proof a loader unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return (Path.touch, (self.path,))


def trapped_pickle(tmp_path: Path, protocol: int = 2) -> tuple[Path, Path]:
    """A bare pickle (as torch.save wrote before 1.6) that springs ``trap`` if loaded."""
    trap = tmp_path / "sprung"
    path = tmp_path / "legacy.pt"
    path.write_bytes(pickle.dumps({"0.weight": Trap(trap)}, protocol=protocol))
    return path, trap


def trapped_zip(tmp_path: Path) -> tuple[Path, Path]:
    """The layout torch.save writes since 1.6: ``<name>/data.pkl`` and its tensors."""
    trap = tmp_path / "sprung"
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", pickle.dumps(Trap(trap), protocol=2))
        archive.writestr("model/version", "3\n")
        archive.writestr("model/data/0", b"\0" * 16)
    return path, trap


LOADERS: dict[str, Callable[[Path], object]] = {
    "load": load,
    "load_full": load_full,
    "tinynet.load": tinynet.load,
    "load_safetensors": lambda path: load_safetensors(Sequential(Dense(2, 2)), path),
}


@pytest.mark.parametrize("make", [trapped_zip, trapped_pickle], ids=["zip", "legacy"])
@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_every_loader_refuses_a_torch_pickle_unread(
    tmp_path: Path, make: Callable[[Path], tuple[Path, Path]], loader: str
) -> None:
    path, trap = make(tmp_path)
    with pytest.raises(ModelFormatError, match=REFUSAL):
        LOADERS[loader](path)
    assert not trap.exists()


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_with_a_header_is_recognized(tmp_path: Path, protocol: int) -> None:
    path, _ = trapped_pickle(tmp_path, protocol)
    assert pickle_kind(path) == "pickle"


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_real_torch_save_files_are_recognized(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    module = torch.nn.Sequential(torch.nn.Linear(3, 2))
    torch.save(module.state_dict(), tmp_path / "new.pt")
    torch.save(module.state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(module), tmp_path / "scripted.pt")
    assert pickle_kind(tmp_path / "new.pt") == "zip"
    assert pickle_kind(tmp_path / "old.pt") == "pickle"
    assert pickle_kind(tmp_path / "scripted.pt") == "zip"
    for name in ("new.pt", "old.pt", "scripted.pt"):
        with pytest.raises(ModelFormatError, match=REFUSAL):
            load(tmp_path / name)


def test_tinynet_files_are_not_taken_for_pickles(tmp_path: Path) -> None:
    model = Sequential(Dense(3, 2, seed=0))
    tinynet.save(model, tmp_path / "m.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    assert pickle_kind(tmp_path / "m.npz") is None
    assert pickle_kind(tmp_path / "plain.npz") is None
    (tmp_path / "short").write_bytes(b"\x80")
    assert pickle_kind(tmp_path / "short") is None
    assert load(tmp_path / "m.npz").state_dict().keys() == model.state_dict().keys()


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate", "models/mnist_mlp.py", "--weights", "{path}"],
        ["predict", "{path}", "digit.png"],
        ["export", "{path}", "out.onnx"],
    ],
)
def test_cli_refuses_a_torch_pickle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    path, trap = trapped_zip(tmp_path)
    assert main([part.format(path=path) for part in command]) == 2
    assert REFUSAL in capsys.readouterr().err
    assert not trap.exists()
