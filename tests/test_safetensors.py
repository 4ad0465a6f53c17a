"""safetensors interop: files that torch.nn.Sequential loads, and back."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from tinynet import (
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from tinynet.io import ModelFormatError, load_safetensors, save_safetensors
from tinynet.state_dict import StateDictError

L = TypeVar("L", bound=Layer)

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def layer_at(model: Sequential, index: int, cls: type[L]) -> L:
    """``model[index]``, checked to be a ``cls`` (typed for the tests)."""
    layer = model[index]
    assert isinstance(layer, cls)
    return layer


def tinynet_model(seed: int = 0) -> Sequential:
    return Sequential(
        Flatten(),
        Dense(12, 8, seed=seed),
        ReLU(),
        Sequential(Dense(8, 6, seed=seed + 1, bias=False), Tanh()),
        Dropout(0.2),
        Dense(6, 5, seed=seed + 2),
        LeakyReLU(0.1),
        Dense(5, 4, seed=seed + 3),
        Sigmoid(),
        Softmax(),
    ).eval()


def torch_model() -> Any:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 8),
        nn.ReLU(),
        nn.Sequential(nn.Linear(8, 6, bias=False), nn.Tanh()),
        nn.Dropout(0.2),
        nn.Linear(6, 5),
        nn.LeakyReLU(0.1),
        nn.Linear(5, 4),
        nn.Sigmoid(),
        nn.Softmax(dim=-1),
    ).eval()


def batch(dtype: Any = np.float32) -> Any:
    return np.random.default_rng(3).standard_normal((7, 3, 4)).astype(dtype)


def same_weights(a: Sequential, b: Sequential) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return list(sa) == list(sb) and all(np.array_equal(sa[k], sb[k]) for k in sa)


def test_layout_is_pytorchs(tmp_path: Path) -> None:
    model = tinynet_model()
    save_safetensors(model, tmp_path / "m.safetensors")
    tensors = safetensors_numpy.load_file(tmp_path / "m.safetensors")
    assert sorted(tensors) == sorted(model.state_dict())
    assert tensors["1.weight"].shape == (8, 12)  # (out, in)
    np.testing.assert_array_equal(tensors["1.weight"], layer_at(model, 1, Dense).weight.data.T)
    np.testing.assert_array_equal(tensors["1.bias"], layer_at(model, 1, Dense).bias.data)  # type: ignore[union-attr]
    with safetensors_numpy.safe_open(tmp_path / "m.safetensors", framework="np") as f:
        assert f.metadata() == {"format": "pt"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_torch_sequential_loads_it_and_gives_the_same_outputs(tmp_path: Path, dtype: Any) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = tinynet_model().astype(dtype)
    save_safetensors(model, tmp_path / "m.safetensors")
    reference = torch_model().to(torch.float64 if dtype == np.float64 else torch.float32)
    result = reference.load_state_dict(safetensors_torch.load_file(tmp_path / "m.safetensors"))
    assert not result.missing_keys
    assert not result.unexpected_keys
    x = batch(dtype)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    tolerance = 1e-12 if dtype == np.float64 else 1e-6
    np.testing.assert_allclose(model(x), expected, rtol=tolerance, atol=tolerance)


def test_weights_saved_by_torch_load_into_tinynet(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    reference = torch_model()
    safetensors_torch.save_file(reference.state_dict(), tmp_path / "torch.safetensors")
    model = tinynet_model(seed=50)
    assert load_safetensors(model, tmp_path / "torch.safetensors") == ([], [])
    x = batch()
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), expected, rtol=1e-6, atol=1e-6)


def test_tinynet_round_trip_is_exact(tmp_path: Path) -> None:
    source, target = tinynet_model(0), tinynet_model(10)
    weight = layer_at(target, 1, Dense).weight
    array = weight.data
    save_safetensors(source, tmp_path / "m.safetensors")
    load_safetensors(target, tmp_path / "m.safetensors")
    assert weight.data is array  # copied in place
    assert weight.data.flags.c_contiguous
    assert same_weights(source, target)
    np.testing.assert_array_equal(source(batch()), target(batch()))


def test_float32_file_into_float64_model_but_not_the_reverse(tmp_path: Path) -> None:
    save_safetensors(tinynet_model(0), tmp_path / "f32.safetensors")
    wide = tinynet_model(1).astype(np.float64)
    load_safetensors(wide, tmp_path / "f32.safetensors")
    assert layer_at(wide, 1, Dense).weight.dtype == np.float64
    save_safetensors(wide, tmp_path / "f64.safetensors")
    narrow = tinynet_model(2)
    before = narrow.state_dict()
    with pytest.raises(StateDictError, match="casting='safe'"):
        load_safetensors(narrow, tmp_path / "f64.safetensors")
    assert all(np.array_equal(before[k], v) for k, v in narrow.state_dict().items())


def test_wrong_architecture_names_shapes_in_pytorch_layout(tmp_path: Path) -> None:
    save_safetensors(Sequential(Dense(12, 8, seed=0)), tmp_path / "m.safetensors")
    model = Sequential(Dense(12, 9, seed=1), ReLU(), Dense(9, 2, seed=2))
    before = model.state_dict()
    with pytest.raises(StateDictError) as info:
        load_safetensors(model, tmp_path / "m.safetensors")
    message = str(info.value)
    assert "missing keys: 2.weight, 2.bias" in message
    assert "0.weight: expected shape (9, 12) and dtype float32, got shape (8, 12)" in message
    assert "PyTorch's layout" in message
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_not_strict_loads_what_fits(tmp_path: Path) -> None:
    save_safetensors(Sequential(Dense(12, 8, seed=0), Dense(8, 3)), tmp_path / "m.safetensors")
    model = Sequential(Dense(12, 8, seed=1))
    result = load_safetensors(model, tmp_path / "m.safetensors", strict=False)
    assert result.missing_keys == []
    assert sorted(result.unexpected_keys) == ["1.bias", "1.weight"]
    expected = safetensors_numpy.load_file(tmp_path / "m.safetensors")["0.weight"].T
    np.testing.assert_array_equal(layer_at(model, 0, Dense).weight.data, expected)


def test_dtype_numpy_cannot_hold(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    layer = torch.nn.Linear(12, 8).to(torch.bfloat16)
    safetensors_torch.save_file(
        {f"0.{k}": v for k, v in layer.state_dict().items()}, tmp_path / "bf16.safetensors"
    )
    with pytest.raises(ModelFormatError, match=r"dtype BF16.*tensor\.float\(\)"):
        load_safetensors(Sequential(Dense(12, 8)), tmp_path / "bf16.safetensors")


@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", "truncated"])
def test_broken_files_leave_the_model_unchanged(tmp_path: Path, content: Any) -> None:
    path = tmp_path / "broken.safetensors"
    if content == "truncated":
        save_safetensors(tinynet_model(0), path)
        content = path.read_bytes()[:-40]
    path.write_bytes(content)
    model = tinynet_model(1)
    before = model.state_dict()
    with pytest.raises(ModelFormatError, match="not a valid safetensors file"):
        load_safetensors(model, path)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.safetensors"):
        load_safetensors(tinynet_model(), tmp_path / "nothing.safetensors")


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.safetensors"
    save_safetensors(tinynet_model(0), path)
    before = path.read_bytes()

    class Unwritable:  # handle.write() rejects it after the temporary file is open
        pass

    monkeypatch.setattr(safetensors_numpy, "save", lambda *a, **k: Unwritable())
    with pytest.raises(TypeError):
        save_safetensors(tinynet_model(1), path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_clear_error_without_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)
    with pytest.raises(ImportError, match="pip install safetensors"):
        save_safetensors(tinynet_model(), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_weights_are_refused_as_tinynet_load_does(
    tmp_path: Path, bad: float
) -> None:
    """r3 d19 f: they loaded silently; the model is left unchanged."""
    model = tinynet_model(0)
    path = tmp_path / "diverged.safetensors"
    save_safetensors(model, path)
    tensors = safetensors_numpy.load_file(str(path))
    tensors["5.weight"][1, 2] = bad  # Dense(6, 5): in PyTorch's layout (5, 6)
    safetensors_numpy.save_file(tensors, str(path))
    target = tinynet_model(1)
    before = target.state_dict()
    with pytest.raises(
        ModelFormatError, match=r"diverged\.safetensors: tensor '5\.weight' holds 1 NaN or inf"
    ):
        load_safetensors(target, path)
    assert all(np.array_equal(before[k], v) for k, v in target.state_dict().items())
