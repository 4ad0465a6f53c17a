"""Layer.state_dict / load_state_dict: PyTorch's names, in-place copies, all-or-nothing."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import numpy as np
import pytest

from tinynet import Dense, Dropout, Flatten, Layer, ReLU, Sequential, Tanh
from tinynet.optim import SGD, Adam
from tinynet.state_dict import IncompatibleKeys, StateDictError
from tinynet.typing import FloatArray

L = TypeVar("L", bound=Layer)


class Shift(Layer):
    """y = x - mean: one buffer (``mean``), no parameters; a stand-in for BatchNorm."""

    buffer_names: ClassVar[tuple[str, ...]] = ("mean",)

    def __init__(self, features: int) -> None:
        super().__init__()
        self.mean = np.zeros(features, np.float32)

    def forward(self, x: FloatArray) -> FloatArray:
        return x - self.mean

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y

    def config(self) -> dict[str, Any]:
        return {"features": self.mean.shape[0]}


def make_model(seed: int = 0) -> Sequential:
    return Sequential(
        Flatten(),
        Dense(6, 5, seed=seed),
        Shift(5),
        ReLU(),
        Sequential(Dense(5, 4, seed=seed + 1, bias=False), Tanh()),
        Dropout(0.5, seed=seed),
        Dense(4, 3, seed=seed + 2),
    )


def layer_at(model: Sequential, index: int, cls: type[L]) -> L:
    """``model[index]``, checked to be a ``cls`` (typed for the tests)."""
    layer = model[index]
    assert isinstance(layer, cls)
    return layer


def test_names_follow_pytorch() -> None:
    assert list(make_model().state_dict()) == [
        "1.weight",
        "1.bias",
        "2.mean",
        "4.0.weight",
        "6.weight",
        "6.bias",
    ]


def test_names_and_order_match_torch_sequential() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class TorchShift(nn.Module):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.zeros(5))

    reference = nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 5),
        TorchShift(),
        nn.ReLU(),
        nn.Sequential(nn.Linear(5, 4, bias=False), nn.Tanh()),
        nn.Dropout(0.5),
        nn.Linear(4, 3),
    )
    assert list(make_model().state_dict()) == list(reference.state_dict())


def test_buffers_come_after_their_modules_parameters() -> None:
    class Both(Shift):
        def __init__(self) -> None:
            super().__init__(2)
            self.inner = Dense(2, 2, seed=0)

    from tinynet import Parameter

    layer = Both()
    layer.scale = Parameter(np.ones(2, np.float32))  # type: ignore[attr-defined]
    # own parameter, own buffer, then the child's entries
    assert list(layer.state_dict()) == ["scale", "mean", "inner.weight", "inner.bias"]


def test_state_dict_holds_copies() -> None:
    model = make_model()
    state = model.state_dict()
    state["1.weight"][...] = 123.0
    state["2.mean"][...] = 7.0
    assert not np.any(layer_at(model, 1, Dense).weight.data == 123.0)
    assert not np.any(layer_at(model, 2, Shift).mean == 7.0)
    assert all(a.flags.c_contiguous and a.flags.owndata for a in state.values())


def test_round_trip_restores_values_in_place() -> None:
    source, target = make_model(0), make_model(10)
    layer_at(source, 2, Shift).mean[...] = np.arange(5)
    weight = layer_at(target, 1, Dense).weight
    array_before, mean_before = weight.data, layer_at(target, 2, Shift).mean
    result = target.load_state_dict(source.state_dict())
    assert result == IncompatibleKeys([], [])
    assert weight.data is array_before
    assert layer_at(target, 2, Shift).mean is mean_before
    for (name, a), (_, b) in zip(
        source.state_dict().items(), target.state_dict().items(), strict=True
    ):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_loading_writes_into_optimizer_packed_buffers() -> None:
    source, target = make_model(0), make_model(10)
    optimizer = Adam(target.parameters())  # packs parameters into one flat vector
    target.load_state_dict(source.state_dict())
    flat = np.concatenate([a.ravel() for n, a in source.state_dict().items() if n != "2.mean"])
    np.testing.assert_array_equal(optimizer.spans[0].data, flat)


def test_shared_parameter_appears_under_both_names() -> None:
    first = Dense(3, 3, seed=0)
    second = Dense(3, 3, seed=1)
    second.weight = first.weight
    model = Sequential(first, second)
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    assert len(model.parameters()) == 3


def test_errors_list_every_problem_and_write_nothing() -> None:
    model = make_model()
    before = model.state_dict()
    state = model.state_dict()
    del state["6.bias"]
    state["1.weight"] = state["1.weight"].T.copy()
    state["4.0.weight"] = state["4.0.weight"].astype(np.float64)
    state["2.mean"] = [0.0] * 5  # type: ignore[assignment]
    state["extra.weight"] = np.zeros(1, np.float32)
    state["1.bias"] = np.full(5, 9.0, np.float32)  # valid, must not be written either
    with pytest.raises(StateDictError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "missing keys: 6.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "1.weight: expected shape (6, 5) and dtype float32, got shape (5, 6)" in message
    assert (
        "4.0.weight: expected shape (5, 4) and dtype float32, got shape (5, 4) and dtype float64"
    ) in message
    assert "2.mean: expected shape (5,) and dtype float32, got a list" in message
    assert info.value.missing_keys == ["6.bias"]
    assert info.value.unexpected_keys == ["extra.weight"]
    assert len(info.value.mismatched) == 3
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name], err_msg=name)


def test_not_strict_skips_missing_and_unexpected_keys() -> None:
    source, target = make_model(0), make_model(10)
    state = source.state_dict()
    del state["6.bias"]
    state["head.weight"] = np.zeros(3, np.float32)
    old_bias = target.state_dict()["6.bias"]
    result = target.load_state_dict(state, strict=False)
    assert result.missing_keys == ["6.bias"]
    assert result.unexpected_keys == ["head.weight"]
    np.testing.assert_array_equal(target.state_dict()["6.bias"], old_bias)
    np.testing.assert_array_equal(target.state_dict()["1.weight"], state["1.weight"])


def test_not_strict_still_rejects_wrong_shapes() -> None:
    model = make_model()
    state = {"1.bias": np.zeros(4, np.float32)}
    with pytest.raises(StateDictError, match=r"1\.bias: expected shape \(5,\)"):
        model.load_state_dict(state, strict=False)


def test_safe_casts_only_by_default() -> None:
    wide = Dense(3, 2, seed=0).astype(np.float64)
    narrow = Dense(3, 2, seed=1)
    wide.load_state_dict(narrow.state_dict())  # float32 -> float64 is exact
    np.testing.assert_array_equal(wide.weight.data, narrow.weight.data.astype(np.float64))
    assert wide.weight.dtype == np.float64
    with pytest.raises(StateDictError, match="casting='safe'"):
        narrow.load_state_dict(Dense(3, 2, seed=2).astype(np.float64).state_dict())
    narrow.load_state_dict(wide.state_dict(), casting="same_kind")  # rounds, as PyTorch
    assert narrow.weight.dtype == np.float32


def test_rejects_non_numeric_arrays_and_non_mappings() -> None:
    layer = Dense(2, 1, seed=0)
    with pytest.raises(StateDictError, match="dtype <U1"):
        layer.load_state_dict({"weight": np.array([["a"], ["b"]]), "bias": np.zeros(1)})
    with pytest.raises(TypeError, match="expected a mapping"):
        layer.load_state_dict([("weight", np.zeros((2, 1)))])  # type: ignore[arg-type]


def test_loading_then_training_matches() -> None:
    """A model loaded from another trains exactly like it (same optimizer, same data)."""
    rng = np.random.default_rng(0)
    x = rng.random((8, 6), dtype=np.float32)
    a, b = make_model(0).eval(), make_model(5).eval()
    b.load_state_dict(a.state_dict())
    for model in (a, b):
        model.train()
        layer_at(model, 5, Dropout).p = 0.0
        optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
        for _ in range(3):
            model.backward(np.ones_like(model(x)))
            optimizer.step()
            optimizer.zero_grad()
    for name, array in a.state_dict().items():
        np.testing.assert_array_equal(array, b.state_dict()[name], err_msg=name)
