"""tinynet.save / load / load_full: round trips, optimizer state, hostile and broken files."""

from __future__ import annotations

import inspect
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np
import pytest

import tinynet
from tinynet import (
    GELU,
    GRU,
    LSTM,
    RNN,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Concat,
    Conv1d,
    Conv2d,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Layer,
    LayerNorm,
    LeakyReLU,
    MaxPool2d,
    MultiheadAttention,
    Parallel,
    Parameter,
    PositionalEmbedding,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
    Unflatten,
    gpt_block,
)
from tinynet.io import ModelFormatError, load, load_full, save
from tinynet.layers import register_layer
from tinynet.layers.base import LAYERS
from tinynet.optim import SGD, Adam, AdamW, CosineAnnealingLR, Optimizer, RMSProp
from tinynet.typing import FloatArray

L = TypeVar("L", bound=Layer)

# --- custom layers -----------------------------------------------------------------------


@register_layer(name="tests.io.Scale")
class Scale(Layer):
    """y = x * gain + offset, elementwise: a parameter, a config value and a buffer."""

    buffer_names: ClassVar[tuple[str, ...]] = ("offset",)

    def __init__(self, features: int, init: float = 1.0) -> None:
        super().__init__()
        self.features = features
        self.init = init
        self.gain = Parameter(np.full(features, init, np.float32))
        self.offset = np.zeros(features, np.float32)

    def forward(self, x: FloatArray) -> FloatArray:
        return x * self.gain.data + self.offset

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y * self.gain.data

    def config(self) -> dict[str, Any]:
        return {"features": self.features, "init": self.init}


@register_layer
class SkipAdd(Layer):
    """y = x + inner(x): a sub-layer held in an attribute, rebuilt by the default
    ``from_config`` (``SkipAdd(inner)``)."""

    def __init__(self, inner: Layer) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: FloatArray) -> FloatArray:
        return x + self.inner(x)

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y + self.inner.backward(grad_y)


class Unsavable(ReLU):
    """Takes an argument it does not keep: its config cannot be read."""

    def __init__(self, slope: float) -> None:
        super().__init__()


# --- helpers -----------------------------------------------------------------------------


def between(layer: Layer, seed: int = 0) -> Sequential:
    """(N, 3, 4) -> Flatten -> Dense(12, 8) -> layer -> Dense(8, 5)."""
    return Sequential(Flatten(), Dense(12, 8, seed=seed), layer, Dense(8, 5, seed=seed + 1))


def layer_at(model: Sequential, index: int, cls: type[L]) -> L:
    """``model[index]``, checked to be a ``cls`` (typed for the tests)."""
    layer = model[index]
    assert isinstance(layer, cls)
    return layer


MIDDLE_LAYERS: dict[str, Callable[[], Layer]] = {
    "dense": lambda: Dense(8, 8, seed=7),
    "dense-no-bias": lambda: Dense(8, 8, bias=False, seed=7),
    "relu": ReLU,
    "leaky-relu": lambda: LeakyReLU(0.2),
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "softmax": lambda: Softmax(axis=1),
    "dropout": lambda: Dropout(0.3, seed=1),
    "flatten": Flatten,
    "nested": lambda: Sequential(Dense(8, 8, seed=3), Sequential(Tanh(), Dense(8, 8, seed=4))),
    "custom": lambda: Scale(8, init=0.5),
    "custom-child": lambda: SkipAdd(Sequential(Dense(8, 8, seed=5), ReLU())),
    "gelu": GELU,
    "gelu-tanh": lambda: GELU(approximate="tanh"),
    "silu": SiLU,
    "swish": Swish,
    "batchnorm": lambda: trained_batchnorm(8),
    "normalization": lambda: tinynet.Normalization(8).adapt(
        np.random.default_rng(2).normal(3.0, 2.0, (50, 8)).astype(np.float32)
    ),
    "residual": lambda: Residual(Sequential(Dense(8, 8, seed=6), Tanh())),
    "parallel-sum": lambda: Parallel(Dense(8, 8, seed=8), Dense(8, 8, seed=9), mode="sum"),
    "concat": lambda: Concat(Dense(8, 3, seed=10), Dense(8, 5, seed=11)),
    # (N, 8) -> (N, 2, 2, 2) images -> (N, 4, 2, 2) -> (N, 4, 3, 3) -> (N, 4, 2, 2) -> (N, 8)
    "convolutional": lambda: Sequential(
        Unflatten(1, (2, 2, 2)),
        Conv2d(2, 4, 3, padding=1, seed=12),
        trained_batchnorm2d(4),
        AvgPool2d(2, stride=1, padding=1),
        MaxPool2d(2, stride=1),
        AdaptiveAvgPool2d((2, 1)),
        Reshape((8,)),
    ),
    # (N, 8) -> (N, 2, 4) sequences -> (N, 8)
    "sequence": lambda: Sequential(
        Unflatten(1, (2, 4)),
        PositionalEmbedding(2, 4, seed=14),
        gpt_block(4, 2, seed=15),
        LSTM(4, 4, seed=16),
        GRU(4, 3, num_layers=2, bias=False, seed=17),
        RNN(3, 4, batch_first=False, seed=18),
        MultiheadAttention(4, 1, bias=False, seed=19),
        LayerNorm(4, elementwise_affine=False),
        Dense(4, 4, seed=20),
        Reshape((8,)),
    ),
    "conv-same-dilated": lambda: Sequential(
        Reshape((2, 2, -1)),
        Conv2d(2, 2, (3, 2), padding="same", dilation=(1, 2), bias=False, seed=13),
        Flatten(),
    ),
    # (N, 8) -> (N, 2, 4) -> (N, 4, 5) -> (N, 2, 2, 5) -> (N, 2, 1, 4) -> (N, 8)
    "conv1d-grouped": lambda: Sequential(
        Unflatten(1, (2, 4)),
        Conv1d(2, 4, 2, padding=1, groups=2, seed=14),
        Reshape((2, 2, 5)),
        Conv2d(2, 2, 2, groups=2, seed=15),
        Flatten(),
    ),
}


def trained_batchnorm(features: int) -> BatchNorm1d:
    """A BatchNorm1d whose running statistics and affine parameters are not the defaults."""
    layer = BatchNorm1d(features)
    rng = np.random.default_rng(3)
    for _ in range(3):
        layer(rng.normal(2.0, 3.0, (16, features)).astype(np.float32))
    assert layer.weight is not None
    layer.weight.data[...] = rng.uniform(0.5, 2.0, features)
    return layer


def trained_batchnorm2d(channels: int) -> BatchNorm2d:
    """A BatchNorm2d whose running statistics, batch count and scale are not the defaults."""
    layer = BatchNorm2d(channels)
    rng = np.random.default_rng(4)
    for _ in range(3):
        layer(rng.normal(1.0, 2.0, (4, channels, 3, 3)).astype(np.float32))
    assert layer.weight is not None
    layer.weight.data[...] = rng.uniform(0.5, 2.0, channels)
    return layer


FIRST_LAYERS: dict[str, Callable[[], Layer]] = {
    # integer tokens (N, 3) -> (N, 3, 4) -> (N, 5): a layer that only starts a model
    "embedding": lambda: Sequential(Embedding(7, 4, seed=1), Flatten(), Dense(12, 5, seed=2)),
}


def test_every_built_in_layer_is_round_tripped() -> None:
    """A new built-in layer must join MIDDLE_LAYERS (or FIRST_LAYERS), so its save/load is
    tested."""
    makers = [*MIDDLE_LAYERS.values(), *FIRST_LAYERS.values()]
    covered = {type(m) for make in makers for m in make().modules()}
    built_in = {
        cls
        for cls in LAYERS.items().values()
        if cls.__module__.startswith("tinynet.") and not inspect.isabstract(cls)
    }
    assert built_in - covered == set()


def batch(dtype: Any = np.float32) -> FloatArray:
    return np.random.default_rng(42).standard_normal((6, 3, 4)).astype(dtype)


def assert_same_weights(a: Layer, b: Layer) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        np.testing.assert_array_equal(sa[name], sb[name], err_msg=name)


def archive(path: Path) -> dict[str, Any]:
    """Every array of a saved file (no pickle)."""
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def header(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(archive(path)["__tinynet__"].tobytes())
    return result


def write_archive(path: Path, arrays: dict[str, Any]) -> Path:
    np.savez(path, **arrays)  # numpy's own writer: pickles object arrays
    return path


def with_header(path: Path, new_header: dict[str, Any], target: Path) -> Path:
    arrays = archive(path)
    arrays["__tinynet__"] = np.frombuffer(json.dumps(new_header).encode(), np.uint8)
    return write_archive(target, arrays)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    path = tmp_path / "model.npz"
    save(between(ReLU()), path)
    return path


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("middle", sorted(MIDDLE_LAYERS))
def test_round_trip_predicts_identically(tmp_path: Path, middle: str, dtype: Any) -> None:
    model = between(MIDDLE_LAYERS[middle]()).astype(dtype).eval()
    if middle == "custom":
        layer_at(model, 2, Scale).offset[...] = np.linspace(-1, 1, 8)
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert repr(loaded) == repr(model)
    assert [type(m) for m in loaded.modules()] == [type(m) for m in model.modules()]
    assert_same_weights(model, loaded)
    x = batch(dtype)
    expected, got = model(x), loaded(x)
    assert got.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("first", sorted(FIRST_LAYERS))
def test_round_trip_of_token_models_predicts_identically(
    tmp_path: Path, first: str, dtype: Any
) -> None:
    model = FIRST_LAYERS[first]().astype(dtype).eval()
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert repr(loaded) == repr(model)
    assert_same_weights(model, loaded)
    x = np.random.default_rng(1).integers(0, 7, (6, 3))
    expected, got = model(x), loaded(x)
    assert got.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_a_file_from_before_batchnorm_counted_batches_still_loads(tmp_path: Path) -> None:
    model = between(trained_batchnorm(8)).eval()
    save(model, tmp_path / "new.npz")
    old = {k: v for k, v in archive(tmp_path / "new.npz").items() if "num_batches" not in k}
    with zipfile.ZipFile(tmp_path / "old.npz", "w") as zipped:  # as tinynet wrote it before
        for name, array in old.items():
            with zipped.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    loaded = load(tmp_path / "old.npz")
    norm = layer_at(loaded, 2, BatchNorm1d)
    assert int(norm.num_batches_tracked) == 0  # PyTorch's choice for its old files too
    np.testing.assert_array_equal(norm.running_var, layer_at(model, 2, BatchNorm1d).running_var)
    x = batch()
    np.testing.assert_array_equal(loaded(x), model(x))
    del old["2.running_var"]  # any other missing array is still an error
    np.savez(tmp_path / "broken.npz", **old)
    with pytest.raises(ModelFormatError, match=r"missing keys: 2\.running_var"):
        load(tmp_path / "broken.npz")


def test_training_mode_is_restored_per_layer(tmp_path: Path) -> None:
    model = between(Dropout(0.5, seed=0))
    model[2].eval()
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert [m.training for m in loaded.modules()] == [True, True, True, False, True]


def test_config_survives(tmp_path: Path) -> None:
    model = Sequential(
        LeakyReLU(0.25),
        Softmax(axis=0),
        Dropout(0.125),
        Dense(2, 3, bias=False),
        ReLU(inplace=True),
    )
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    assert isinstance(loaded, Sequential)
    assert [m.config() for m in loaded] == [m.config() for m in model]


def test_file_is_a_plain_npz_with_a_json_header(saved: Path) -> None:
    arrays = archive(saved)
    assert list(arrays) == ["__tinynet__", "1.weight", "1.bias", "3.weight", "3.bias"]
    meta = header(saved)
    assert meta["format"] == "tinynet"
    assert meta["format_version"] == tinynet.io.FORMAT_VERSION
    assert meta["tinynet_version"] == tinynet.__version__
    assert meta["dtype"] == "float32"
    assert [child["type"] for child in meta["model"]["children"]] == [
        "Flatten",
        "Dense",
        "ReLU",
        "Dense",
    ]
    assert meta["model"]["children"][1]["config"] == {
        "in_features": 12,
        "out_features": 8,
        "bias": True,
    }


def test_a_model_without_parameters(tmp_path: Path) -> None:
    save(Sequential(ReLU(), Tanh()), tmp_path / "m.npz")
    assert header(tmp_path / "m.npz")["dtype"] is None
    assert repr(load(tmp_path / "m.npz")) == repr(Sequential(ReLU(), Tanh()))


def test_metadata_round_trips(tmp_path: Path) -> None:
    metadata = {"epoch": 3, "history": {"loss": [0.5, 0.25]}, "note": "ok", "pair": (1, 2)}
    save(between(ReLU()), tmp_path / "m.npz", metadata=metadata)
    loaded = load_full(tmp_path / "m.npz")
    assert loaded.metadata == {**metadata, "pair": [1, 2]}
    assert loaded.optimizer is None
    assert loaded.tinynet_version == tinynet.__version__
    assert loaded.format_version == tinynet.io.FORMAT_VERSION


# --- optimizer state ---------------------------------------------------------------------

OPTIMIZERS: dict[str, Callable[[list[Parameter]], Optimizer]] = {
    "sgd": lambda p: SGD(p, lr=0.1),
    "momentum-nesterov": lambda p: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda p: Adam(p, lr=0.01, betas=(0.8, 0.99)),
    "adamw": lambda p: AdamW(p, lr=0.01),
    "rmsprop": lambda p: RMSProp(p, lr=0.01, momentum=0.5, centered=True),
}


def train_steps(model: Layer, optimizer: Optimizer, steps: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.standard_normal((4, 3, 4)).astype(np.float32)
        model.backward(model(x) - 1)  # gradient of 0.5 * ||y - 1||^2
        optimizer.step()
        optimizer.zero_grad()


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_continues_as_if_never_saved(tmp_path: Path, name: str) -> None:
    model = between(Tanh())
    optimizer = OPTIMIZERS[name](model.parameters())
    train_steps(model, optimizer, 3, seed=1)
    save(model, tmp_path / "ckpt.npz", optimizer=optimizer, metadata={"step": 3})
    train_steps(model, optimizer, 4, seed=2)  # the run that never stopped

    loaded = load_full(tmp_path / "ckpt.npz")
    assert loaded.optimizer is not None
    assert type(loaded.optimizer) is type(optimizer)
    assert loaded.optimizer.hyperparameters() == optimizer.hyperparameters()
    train_steps(loaded.model, loaded.optimizer, 4, seed=2)  # the resumed run
    assert loaded.optimizer.steps == optimizer.steps == 7
    assert_same_weights(model, loaded.model)


def test_optimizer_before_any_step_and_learning_rate_schedule(tmp_path: Path) -> None:
    model = between(ReLU())
    optimizer = Adam(model.parameters(), lr=0.1)
    schedule = CosineAnnealingLR(optimizer, T_max=10)
    schedule.step()
    save(model, tmp_path / "m.npz", optimizer=optimizer)
    restored = load_full(tmp_path / "m.npz").optimizer
    assert restored is not None
    assert restored.steps == 0
    assert restored.lr == optimizer.lr
    assert restored.initial_lr == 0.1


def test_load_ignores_the_optimizer(tmp_path: Path) -> None:
    model = between(ReLU())
    optimizer = Adam(model.parameters())
    train_steps(model, optimizer, 1, seed=0)
    save(model, tmp_path / "m.npz", optimizer=optimizer)
    assert_same_weights(load(tmp_path / "m.npz"), model)


def test_optimizer_must_be_over_the_models_parameters(tmp_path: Path) -> None:
    model = between(ReLU())
    other = between(ReLU())
    optimizer = SGD([*model.parameters()[1:], other.parameters()[0]], lr=0.1)
    with pytest.raises(ValueError, match=r"1 of the optimizer's parameters are not the model's"):
        save(model, tmp_path / "m.npz", optimizer=optimizer)
    assert not (tmp_path / "m.npz").exists()


# --- what save refuses before writing ----------------------------------------------------


def test_a_layer_whose_config_cannot_be_read_is_refused_at_save(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"Unsavable: cannot tell its argument 'slope'"):
        save(Sequential(Unsavable(0.5)), tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_metadata_must_be_json(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="JSON"):
        save(between(ReLU()), tmp_path / "m.npz", metadata={"weights": np.zeros(2)})
    assert list(tmp_path.iterdir()) == []


def test_mixed_dtypes_are_refused(tmp_path: Path) -> None:
    model = Sequential(Dense(2, 2), Dense(2, 2).astype(np.float64))
    with pytest.raises(ValueError, match="mixed dtypes"):
        save(model, tmp_path / "m.npz")


# --- hostile and broken files ------------------------------------------------------------


class Payload:
    """Unpickling this creates ``marker``: proof that code from the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("where", ["1.weight", "__tinynet__", "optimizer/state/0/exp_avg"])
def test_pickled_object_array_is_refused_unexecuted(
    saved: Path, tmp_path: Path, where: str
) -> None:
    marker = tmp_path / "code-ran"
    arrays = archive(saved)
    arrays[where] = np.array([Payload(marker)], dtype=object)
    hostile = write_archive(tmp_path / "hostile.npz", arrays)
    with np.load(hostile, allow_pickle=True) as data:  # the payload works when trusted...
        data[where]
    assert marker.exists()
    marker.unlink()
    with pytest.raises(ModelFormatError, match="Python objects"):  # ...and never runs here
        load_full(hostile)
    assert not marker.exists()


def test_truncated_file(saved: Path, tmp_path: Path) -> None:
    data = saved.read_bytes()
    for size in (10, len(data) // 2, len(data) - 30):
        truncated = tmp_path / f"cut{size}.npz"
        truncated.write_bytes(data[:size])
        with pytest.raises(ModelFormatError, match=r"cut\d+\.npz"):
            load(truncated)


def test_corrupted_array_bytes_fail_the_checksum(saved: Path, tmp_path: Path) -> None:
    data = bytearray(saved.read_bytes())
    weight = np.ascontiguousarray(archive(saved)["1.weight"]).tobytes()
    start = bytes(data).index(weight)
    data[start + 5] ^= 0xFF
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(ModelFormatError, match="CRC"):
        load(corrupt)


def test_wrong_shape_for_one_weight(saved: Path, tmp_path: Path) -> None:
    arrays = archive(saved)
    arrays["1.weight"] = arrays["1.weight"].T.copy()
    path = write_archive(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFormatError) as info:
        load(path)
    assert "1.weight: expected shape (12, 8) and dtype float32, got shape (8, 12)" in str(
        info.value
    )


def test_wrong_dtype_missing_and_extra_weights(saved: Path, tmp_path: Path) -> None:
    arrays = archive(saved)
    arrays["1.bias"] = arrays["1.bias"].astype(np.float64)
    del arrays["3.bias"]
    arrays["4.weight"] = np.zeros(2, np.float32)
    path = write_archive(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFormatError) as info:
        load(path)
    message = str(info.value)
    assert "missing keys: 3.bias" in message
    assert "unexpected keys: 4.weight" in message
    assert "1.bias: expected shape (8,) and dtype float32, got shape (8,) and dtype float64" in (
        message
    )


def test_wrong_shape_for_an_optimizer_buffer(tmp_path: Path) -> None:
    model = between(ReLU())
    optimizer = Adam(model.parameters())
    train_steps(model, optimizer, 1, seed=0)
    save(model, tmp_path / "m.npz", optimizer=optimizer)
    arrays = archive(tmp_path / "m.npz")
    arrays["optimizer/state/0/exp_avg"] = arrays["optimizer/state/0/exp_avg"].T.copy()
    path = write_archive(tmp_path / "bad.npz", arrays)
    with pytest.raises(ModelFormatError, match=r"exp_avg: expected shape \(12, 8\)"):
        load_full(path)
    del arrays["optimizer/state/0/exp_avg"]
    path = write_archive(tmp_path / "missing.npz", arrays)
    with pytest.raises(ModelFormatError, match="needs 'exp_avg'"):
        load_full(path)
    assert_same_weights(load(path), model)  # load() reads the model alone


def test_unknown_layer_type(saved: Path, tmp_path: Path) -> None:
    meta = header(saved)
    meta["model"]["children"][2]["type"] = "Conv9D"
    path = with_header(saved, meta, tmp_path / "unknown.npz")
    with pytest.raises(ModelFormatError, match=r"model\.2: unknown layer type 'Conv9D'") as info:
        load(path)
    assert "--import" in str(info.value)


def test_config_the_constructor_rejects(saved: Path, tmp_path: Path) -> None:
    meta = header(saved)
    meta["model"]["children"][1]["config"]["in_features"] = -1
    path = with_header(saved, meta, tmp_path / "bad-config.npz")
    with pytest.raises(ModelFormatError, match=r"model\.1: cannot rebuild Dense"):
        load(path)


ADAM = "tinynet.optim.adam.Adam"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format_version": 99}, r"format version 99; this tinynet .* reads versions 1 to 1"),
        ({"format": "keras"}, "the header does not describe a tinynet model"),
        ({"dtype": "object"}, r"expected the header's dtype to name a float type .*, got 'object'"),
        ({"model": [1, 2]}, r"model: expected a layer description \(a JSON object\)"),
        ({"metadata": [1]}, "metadata must be a JSON object"),
        (
            {"optimizer": {"type": "os.system", "state": {}}},
            "optimizer: unknown optimizer type 'os.system'",
        ),
        (
            {"optimizer": {"type": ADAM, "state": {}, "param_groups": []}},
            "optimizer: expected 'param_groups', a list of JSON objects",
        ),
        (
            {"optimizer": {"type": ADAM, "state": {"9": {}}, "param_groups": [{"params": [0]}]}},
            "optimizer: unexpected state entry '9'",
        ),
        (
            {
                "optimizer": {
                    "type": ADAM,
                    "state": {},
                    "param_groups": [{"lr": 0.1, "betas": "fast", "params": [0]}],
                }
            },
            "optimizer: cannot restore Adam: .*betas must be two numbers in \\[0, 1\\), got 'fast'",
        ),
    ],
)
def test_bad_header_fields(
    saved: Path, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    path = with_header(saved, {**header(saved), **change}, tmp_path / "bad.npz")
    with pytest.raises(ModelFormatError, match=rf"bad\.npz: {message}"):
        load_full(path)


@pytest.mark.parametrize("depth", [100, 100_000])
def test_deeply_nested_architecture(saved: Path, tmp_path: Path, depth: int) -> None:
    """Too deep for the rebuild (100) or for the JSON parser itself (100,000)."""
    meta = json.dumps({**header(saved), "model": "MODEL"})
    sequential = '{"name": "0", "type": "Sequential", "config": {}, "children": ['
    model = sequential * depth + '{"name": "0", "type": "ReLU"}' + "]}" * depth
    arrays = archive(saved)
    arrays["__tinynet__"] = np.frombuffer(meta.replace('"MODEL"', model).encode(), np.uint8)
    with pytest.raises(ModelFormatError, match=r"nested deeper|not valid JSON"):
        load(write_archive(tmp_path / "deep.npz", arrays))


def test_header_that_is_not_json(saved: Path, tmp_path: Path) -> None:
    arrays = archive(saved)
    arrays["__tinynet__"] = np.frombuffer(b"\xff{not json", np.uint8)
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        load(write_archive(tmp_path / "bad.npz", arrays))


def test_oversized_array_is_refused_before_it_is_allocated(saved: Path, tmp_path: Path) -> None:
    """A header declaring 4 TB of float32 is rejected from the header alone."""
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as out, zipfile.ZipFile(saved) as source:
        for info in source.infolist():
            if info.filename != "1.weight.npy":
                out.writestr(info, source.read(info))
        with out.open("1.weight.npy", "w") as member:
            header_data = {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)}
            np.lib.format.write_array_header_1_0(member, header_data)
    with pytest.raises(ModelFormatError, match=r"declares 4000000000000 data bytes \(shape"):
        load(path)


def test_member_that_is_not_an_array(saved: Path, tmp_path: Path) -> None:
    path = tmp_path / "extra.npz"
    path.write_bytes(saved.read_bytes())
    with zipfile.ZipFile(path, "a") as out:
        out.writestr("run_me.py", "print('hi')")
    with pytest.raises(ModelFormatError, match=r"unexpected member 'run_me\.py'"):
        load(path)


def test_plain_npz_without_header(tmp_path: Path) -> None:
    path = write_archive(tmp_path / "weights.npz", {"0.weight": np.zeros((2, 2), np.float32)})
    with pytest.raises(ModelFormatError, match=r"not a tinynet model file.*load_state_dict"):
        load(path)


def test_path_that_does_not_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.npz"):
        load(tmp_path / "missing.npz")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.npz").touch()
    with pytest.raises(ModelFormatError, match="is empty; expected a tinynet model file"):
        load(tmp_path / "empty.npz")


def test_file_that_is_not_an_npz(tmp_path: Path) -> None:
    (tmp_path / "notes.npz").write_text("these are not weights\n" * 20)
    with pytest.raises(ModelFormatError, match="not a zip archive"):
        load(tmp_path / "notes.npz")


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="is not a file"):
        load(tmp_path)


# --- atomic writes -----------------------------------------------------------------------


def test_crash_mid_save_keeps_the_old_file(
    saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()
    real_write_array = np.lib.format.write_array
    written = []

    def failing_write_array(member: Any, array: Any, **kwargs: Any) -> None:
        real_write_array(member, array, **kwargs)
        written.append(array.shape)
        if len(written) == 3:  # some arrays are on disk in the temp file
            raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="disk full"):
        save(between(Tanh(), seed=9), saved)
    monkeypatch.undo()
    assert len(written) == 3
    assert saved.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # no temporary file left behind
    assert_same_weights(load(saved), between(ReLU()))


def test_save_replaces_an_existing_file(saved: Path) -> None:
    other = between(ReLU(), seed=5)
    save(other, saved)
    assert_same_weights(load(saved), other)


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"sample_shape": [10**9, "x"]}, "sample_shape", "a list of positive ints"),  # 1 GB str
        ({"sample_shape": ["a", "b"]}, "sample_shape", "a list of positive ints"),
        ({"sample_shape": [28, 0]}, "sample_shape", "at most 8 positive ints"),
        ({"sample_shape": [1] * 9}, "sample_shape", "at most 8 positive ints"),
        ({"sample_shape": [True]}, "sample_shape", "a list of positive ints"),
        ({"targets": 5}, "targets", "a list of strings"),
        ({"features": ["a", 1]}, "features", "a list of strings"),
        ({"class_names": "cat"}, "class_names", "a list of strings"),
    ],
)
def test_metadata_data_fields_of_the_wrong_kind_are_refused(
    tmp_path: Path, data: dict[str, Any], field: str, expected: str
) -> None:
    """r3 d05: ``tinynet predict`` used them unchecked (math.prod of [10**9, "x"])."""
    path = tmp_path / "m.npz"
    tinynet.save(Dense(2, 3), path, metadata={"data": data})
    with pytest.raises(
        ModelFormatError, match=rf"m\.npz: metadata data\.{field} must be {expected}"
    ):
        load_full(path)


def test_metadata_data_fields_as_train_writes_them_load(tmp_path: Path) -> None:
    from tinynet.datasets.splits import DataSplits

    x = np.zeros((4, 2), np.float32)
    splits = DataSplits(x, np.array([0, 1]), None, None, "t.csv", "table", ("a", "b"), ("u", "v"))
    info = splits.describe()
    assert info["sample_shape"] == [2]
    tinynet.save(Dense(2, 3), tmp_path / "m.npz", metadata={"data": info, "other": [1, "x"]})
    assert load_full(tmp_path / "m.npz").metadata["data"] == info
