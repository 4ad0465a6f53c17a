"""PyTorch in and out: from_torch / to_torch round trips are exact, refusals name the module.

Round trips compare every tensor with ``torch.equal`` (bit for bit) and the modules'
reprs (every constructor argument); outputs are compared with torch's own forward.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tinynet import (
    GELU,
    BatchNorm1d,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    Parallel,
    ReLU,
    Residual,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
)
from tinynet.io import ConversionError, from_torch, load_safetensors, to_torch
from tinynet.io.architecture import describe
from tinynet.state_dict import StateDictError
from tinynet.typing import FloatArray

torch = pytest.importorskip("torch")
nn = torch.nn

HAS_BATCH_COUNT = "num_batches_tracked" in BatchNorm1d(2).state_dict()
"""Whether tinynet's BatchNorm keeps torch's num_batches_tracked (the CNN work adds it);
until then that one buffer cannot survive a round trip, and is left out of comparisons."""


def comparable(module: Any) -> dict[str, Any]:
    """``module.state_dict()``, without num_batches_tracked while tinynet lacks it."""
    state = module.state_dict()
    return {k: v for k, v in state.items() if HAS_BATCH_COUNT or "num_batches_tracked" not in k}


def assert_same_tensors(a: Any, b: Any) -> None:
    sa, sb = comparable(a), comparable(b)
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        assert torch.equal(sa[name], sb[name]), name


def trained(module: Any, shape: tuple[int, ...], dtype: Any = None) -> Any:
    """``module`` after three training forwards on random batches (BatchNorm statistics
    move), then in inference mode."""
    generator = torch.Generator().manual_seed(0)
    module.train()
    for _ in range(3):
        module(2 * torch.randn((16, *shape), generator=generator, dtype=dtype) + 0.5)
    return module.eval()


TORCH_MODULES: dict[str, tuple[Callable[[], Any], tuple[int, ...]]] = {
    "Linear": (lambda: nn.Linear(6, 4), (6,)),
    "Linear-no-bias": (lambda: nn.Linear(6, 4, bias=False), (6,)),
    "ReLU": (nn.ReLU, (5,)),
    "ReLU-inplace": (lambda: nn.Sequential(nn.Linear(6, 5), nn.ReLU(inplace=True)), (6,)),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (5,)),
    "Sigmoid": (nn.Sigmoid, (5,)),
    "Tanh": (nn.Tanh, (5,)),
    "SiLU": (nn.SiLU, (5,)),
    "GELU": (nn.GELU, (5,)),
    "GELU-tanh": (lambda: nn.GELU(approximate="tanh"), (5,)),
    "Softmax": (lambda: nn.Softmax(dim=-1), (5,)),
    "Softmax-dim-1": (lambda: nn.Softmax(dim=1), (3, 4)),
    "Dropout": (lambda: nn.Dropout(0.3), (5,)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(5, eps=1e-3, momentum=0.2), (5,)),
    "BatchNorm1d-no-affine": (lambda: nn.BatchNorm1d(5, affine=False), (5,)),
    "Flatten": (nn.Flatten, (2, 3)),
    "Sequential-nested": (
        lambda: nn.Sequential(nn.Sequential(nn.Linear(4, 3), nn.Tanh()), nn.Sequential()),
        (4,),
    ),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(TORCH_MODULES))
def test_torch_to_tinynet_to_torch_is_exact(name: str, dtype: Any) -> None:
    make, shape = TORCH_MODULES[name]
    torch.manual_seed(0)
    original = trained(make().to(dtype), shape, dtype)
    model = from_torch(original)
    back = to_torch(model)
    assert repr(back) == repr(original)
    assert_same_tensors(back, original)
    assert [m.training for m in back.modules()] == [m.training for m in original.modules()]
    x = torch.randn((7, *shape), dtype=dtype)
    with torch.no_grad():
        expected = original(x.clone()).numpy()
        np.testing.assert_array_equal(back(x.clone()).numpy(), expected)
    tolerance = 1e-6 if dtype == torch.float32 else 1e-12
    np.testing.assert_allclose(model(x.numpy()), expected, rtol=tolerance, atol=tolerance)


def test_training_mode_is_carried_over() -> None:
    original = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.BatchNorm1d(3)).eval())
    model = from_torch(original)
    assert [layer.training for layer in model.modules()] == [True, True, False, False]
    assert [m.training for m in to_torch(model).modules()] == [True, True, False, False]


def tinynet_model() -> Sequential:
    return Sequential(
        Flatten(),
        Dense(12, 8, seed=0),
        BatchNorm1d(8, momentum=0.3),
        ReLU(inplace=True),
        Sequential(Dense(8, 6, bias=False, seed=1), GELU("tanh"), Dropout(0.1)),
        LeakyReLU(0.05),
        Dense(6, 6, seed=2),
        SiLU(),
        Swish(),
        BatchNorm1d(6, affine=False),
        Tanh(),
        Dense(6, 4, seed=3),
        Sigmoid(),
        Softmax(axis=1),
    )


def test_tinynet_to_torch_to_tinynet_is_exact() -> None:
    model = tinynet_model()
    model.forward(np.random.default_rng(0).standard_normal((9, 3, 4)).astype(np.float32))
    model.eval()
    back = from_torch(to_torch(model))
    expected = describe(model)
    expected["children"][8]["type"] = "SiLU"  # Swish is torch's SiLU, and comes back so
    assert describe(back) == expected
    original, returned = model.state_dict(), back.state_dict()
    assert list(returned) == list(original)
    for name, array in original.items():
        assert returned[name].dtype == array.dtype
        np.testing.assert_array_equal(returned[name], array)


def test_weights_are_copied_not_shared() -> None:
    original = nn.Linear(3, 2)
    before = original.weight.detach().clone()
    model = from_torch(original)
    assert isinstance(model, Dense)
    with torch.no_grad():
        original.weight.add_(1.0)
    np.testing.assert_array_equal(model.weight.data, before.numpy().T)
    back = to_torch(model)
    model.weight.data = np.zeros((3, 2), np.float32)
    assert not torch.equal(back.weight, torch.zeros(2, 3))


# --- refusals ------------------------------------------------------------------------


class MyLinear(nn.Linear):  # type: ignore[misc]
    """A subclass may compute something else: it is not taken for nn.Linear."""


@pytest.mark.parametrize(
    ("module", "match"),
    [
        (
            nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), nn.Conv1d(1, 1, 1))),
            r"model\.1\.1 is torch\.nn\.modules\.conv\.Conv1d",
        ),
        (nn.Sequential(MyLinear(2, 2)), r"model\.0 is .*MyLinear"),
        (nn.ModuleList([nn.ReLU()]), r"model is torch\.nn\.modules\.container\.ModuleList"),
        (nn.Sequential(nn.Softmax()), r"model\.0 is Softmax\(dim=None\)"),
        (nn.Sequential(nn.BatchNorm1d(3, momentum=None)), r"model\.0 .*momentum=None"),
        (nn.BatchNorm1d(3, track_running_stats=False), "track_running_stats=False"),
        (nn.Sequential(nn.Flatten(start_dim=2)), r"model\.0 .*start_dim=1"),
        (nn.Linear(2, 2).to(torch.bfloat16), r"torch\.bfloat16 tensors.*module\.float\(\)"),
        (nn.Dropout(1.0), r"model \(Dropout.*p must lie in \[0, 1\)"),
    ],
)
def test_from_torch_refuses_by_name_and_position(module: Any, match: str) -> None:
    with pytest.raises(ConversionError, match=match):
        from_torch(module)


class Double(Layer):
    def forward(self, x: FloatArray) -> FloatArray:
        return 2 * x

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return 2 * grad_y


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (Sequential(Dense(3, 3), Residual(Dense(3, 3))), r"model\.1 is Residual"),
        (Sequential(Sequential(Parallel(ReLU(), Tanh()))), r"model\.0\.0 is Parallel"),
        (Sequential(ReLU(), Double()), r"model\.1 is Double\(\), a .*Double, which has no"),
    ],
)
def test_to_torch_refuses_by_name_and_position(model: Layer, match: str) -> None:
    with pytest.raises(ConversionError, match=match):
        to_torch(model)


def test_missing_torch_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match="need PyTorch: pip install torch"):
        to_torch(Dense(2, 2))


def test_not_a_module() -> None:
    with pytest.raises(TypeError, match=r"expected a torch\.nn\.Module"):
        from_torch(Dense(2, 2))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected a tinynet Layer"):
        to_torch(nn.Linear(2, 2))


# --- state dicts and safetensors files from torch ----------------------------------------


def torch_mlp() -> Any:
    return nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))


def tinynet_mlp() -> Sequential:
    return Sequential(Dense(12, 8, seed=5), BatchNorm1d(8), ReLU(), Dense(8, 4, seed=6))


def test_raw_torch_state_dict_gets_the_transposition_hint() -> None:
    state = comparable(trained(torch_mlp(), (12,)))
    with pytest.raises(StateDictError, match=r"the transpose.*load_safetensors") as error:
        tinynet_mlp().load_state_dict({k: v.numpy() for k, v in state.items()})
    assert "0.weight: expected shape (12, 8)" in str(error.value)
    with pytest.raises(StateDictError, match=r"a torch tensor: convert the module"):
        tinynet_mlp().load_state_dict(state)


def test_torch_safetensors_file_of_an_mlp_with_batchnorm(tmp_path: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    reference = trained(torch_mlp(), (12,))
    safetensors_torch.save_file(comparable(reference), tmp_path / "m.safetensors")
    model = tinynet_mlp().eval()
    assert load_safetensors(model, tmp_path / "m.safetensors") == ([], [])
    x = torch.randn(5, 12)
    with torch.no_grad():
        np.testing.assert_allclose(model(x.numpy()), reference(x).numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.xfail(
    not HAS_BATCH_COUNT,
    reason="tinynet's BatchNorm1d has no num_batches_tracked buffer yet (the CNN work adds it)",
    strict=True,
)
def test_torch_safetensors_file_with_num_batches_tracked_loads_strictly(tmp_path: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    reference = trained(torch_mlp(), (12,))
    safetensors_torch.save_file(reference.state_dict(), tmp_path / "m.safetensors")
    model = tinynet_mlp()
    assert load_safetensors(model, tmp_path / "m.safetensors") == ([], [])
    assert_same_tensors(to_torch(model), reference)


@pytest.mark.xfail(
    not HAS_BATCH_COUNT,
    reason="tinynet's BatchNorm1d has no num_batches_tracked buffer yet (the CNN work adds it)",
    strict=True,
)
def test_num_batches_tracked_survives_the_round_trip() -> None:
    original = trained(torch_mlp(), (12,))
    assert original[1].num_batches_tracked.item() == 3
    back = to_torch(from_torch(original))
    assert torch.equal(back[1].num_batches_tracked, original[1].num_batches_tracked)


# --- a network trained in PyTorch, moved into tinynet ---------------------------------------


@pytest.mark.slow
def test_network_trained_in_torch_predicts_the_same_mnist_labels_in_tinynet() -> None:
    from tinynet.datasets import load_mnist

    (x, y), (x_test, _) = load_mnist()
    torch.manual_seed(0)
    network = nn.Sequential(
        nn.Linear(784, 64),
        nn.BatchNorm1d(64),
        nn.ReLU(inplace=True),
        nn.Dropout(0.2),
        nn.Linear(64, 32),
        nn.GELU(),
        nn.Linear(32, 10),
    )
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    network.train()
    for start in range(0, 1280, 128):  # ten batches
        optimizer.zero_grad()
        batch = torch.from_numpy(x[start : start + 128])
        loss = nn.functional.cross_entropy(network(batch), torch.from_numpy(y[start : start + 128]))
        loss.backward()
        optimizer.step()
    network.eval()
    model = from_torch(network)
    with torch.no_grad():
        expected = network(torch.from_numpy(x_test)).numpy()
    outputs = model(x_test)
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)
    assert np.array_equal(outputs.argmax(axis=1), expected.argmax(axis=1))
    assert (expected.argmax(axis=1) == load_mnist()[1][1]).mean() > 0.5  # it did learn
