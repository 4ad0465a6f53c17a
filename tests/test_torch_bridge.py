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
from roundoff import assert_float32_close, assert_same_labels_but_near_ties

from tinynet import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    MaxPool2d,
    Parallel,
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
)
from tinynet.io import ConversionError, from_torch, load_safetensors, to_torch
from tinynet.io.architecture import describe
from tinynet.state_dict import StateDictError
from tinynet.typing import FloatArray

torch = pytest.importorskip("torch")
nn = torch.nn


def assert_same_tensors(a: Any, b: Any) -> None:
    sa, sb = a.state_dict(), b.state_dict()
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
    "BatchNorm1d-cumulative": (lambda: nn.BatchNorm1d(5, momentum=None), (5,)),
    "BatchNorm1d-sequences": (lambda: nn.BatchNorm1d(3), (3, 5)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, eps=1e-3, momentum=0.2), (3, 4, 5)),
    "BatchNorm2d-cumulative-no-affine": (
        lambda: nn.BatchNorm2d(3, momentum=None, affine=False),
        (3, 4, 5),
    ),
    "Flatten": (nn.Flatten, (2, 3)),
    "Flatten-4d": (nn.Flatten, (2, 3, 4)),
    "Unflatten": (lambda: nn.Unflatten(1, (2, -1)), (12,)),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 6, 7)),
    "Conv2d-same-even-kernel-dilated": (
        lambda: nn.Conv2d(2, 3, (2, 4), padding="same", dilation=(1, 2)),
        (2, 7, 9),
    ),
    "Conv2d-stride-2-no-bias-non-square": (
        lambda: nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False),
        (2, 7, 6),
    ),
    "Conv2d-valid": (lambda: nn.Conv2d(1, 2, 5, padding="valid"), (1, 8, 9)),
    "Conv2d-groups": (lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2), (4, 6, 7)),
    "Conv2d-depthwise-no-bias": (lambda: nn.Conv2d(3, 3, (3, 2), groups=3, bias=False), (3, 6, 5)),
    "Conv1d": (lambda: nn.Conv1d(2, 3, 3, padding=1), (2, 9)),
    "Conv1d-strided-dilated-groups": (
        lambda: nn.Conv1d(4, 6, 3, stride=2, dilation=2, groups=2, bias=False),
        (4, 11),
    ),
    "Conv1d-same-even-kernel-depthwise": (
        lambda: nn.Conv1d(3, 6, 4, padding="same", groups=3),
        (3, 8),
    ),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 6, 8)),
    "MaxPool2d-padded-dilated-non-square": (
        lambda: nn.MaxPool2d((3, 2), (1, 2), (1, 0), dilation=(2, 1)),
        (2, 7, 6),
    ),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 6, 8)),
    "AvgPool2d-padding-not-counted": (
        lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        (2, 7, 9),
    ),
    "AvgPool2d-divisor-override": (
        lambda: nn.AvgPool2d((3, 2), 1, (1, 0), divisor_override=5),
        (2, 5, 6),
    ),
    "AdaptiveAvgPool2d": (lambda: nn.AdaptiveAvgPool2d(1), (3, 5, 7)),
    "AdaptiveAvgPool2d-overlapping-bins": (lambda: nn.AdaptiveAvgPool2d((4, None)), (2, 7, 8)),
    "CNN": (
        lambda: nn.Sequential(
            nn.Unflatten(1, (1, 12, 14)),
            nn.Conv2d(1, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(4, 6, (2, 4), padding="same", dilation=(1, 2)),
            nn.BatchNorm2d(6, momentum=None),
            nn.Tanh(),
            nn.Conv2d(6, 8, (3, 2), stride=2, bias=False),
            nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
            nn.AdaptiveAvgPool2d((2, 3)),
            nn.Flatten(),
            nn.Linear(48, 10),
        ),
        (168,),
    ),
    "Sequential-nested": (
        lambda: nn.Sequential(nn.Sequential(nn.Linear(4, 3), nn.Tanh()), nn.Sequential()),
        (4,),
    ),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(TORCH_MODULES))
def test_torch_to_tinynet_to_torch_is_exact(name: str, dtype: Any) -> None:
    make, shape = TORCH_MODULES[name]
    torch.manual_seed(0)
    original = trained(make().to(dtype), shape, dtype)
    model = from_torch(original)
    back = to_torch(model)
    assert repr(back) == repr(original)
    assert settings(back) == settings(original)
    assert_same_tensors(back, original)
    assert [m.training for m in back.modules()] == [m.training for m in original.modules()]
    x = torch.randn((7, *shape), dtype=dtype)
    with torch.no_grad():
        expected = original(x.clone()).numpy()
        np.testing.assert_array_equal(back(x.clone()).numpy(), expected)
    if dtype == torch.float32:
        assert_float32_close(model(x.numpy()), expected, model, x.numpy())
    else:
        np.testing.assert_allclose(model(x.numpy()), expected, rtol=1e-12, atol=1e-12)


def settings(module: Any) -> list[dict[str, Any]]:
    """Every module's public attributes (reprs leave some out, e.g. AvgPool2d's
    count_include_pad), in order."""
    return [{k: v for k, v in vars(m).items() if not k.startswith("_")} for m in module.modules()]


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


def tinynet_cnn() -> Sequential:
    return Sequential(
        Unflatten(1, (1, 12, 14)),
        Conv2d(1, 4, 3, padding=1, seed=0),
        BatchNorm2d(4, momentum=None),
        ReLU(),
        MaxPool2d(2),
        Conv2d(4, 6, (2, 4), padding="same", dilation=(1, 2), seed=1),
        BatchNorm2d(6, eps=1e-3, affine=False),
        Tanh(),
        Conv2d(6, 8, (3, 2), stride=2, bias=False, seed=2),
        MaxPool2d((2, 1), padding=(1, 0), dilation=(2, 1)),
        AvgPool2d(2, stride=1, padding=1, count_include_pad=False, divisor_override=3),
        AdaptiveAvgPool2d((2, 3)),
        Flatten(),
        Dense(48, 10, seed=3),
    )


@pytest.mark.parametrize(
    ("make", "shape", "dtype"),
    [
        (tinynet_model, (3, 4), np.float32),
        (tinynet_cnn, (168,), np.float32),
        (tinynet_cnn, (168,), np.float64),
    ],
    ids=["mlp", "cnn", "cnn-float64"],
)
def test_tinynet_to_torch_to_tinynet_is_exact(
    make: Callable[[], Sequential], shape: tuple[int, ...], dtype: Any
) -> None:
    model = make().astype(dtype)
    model.forward(np.random.default_rng(0).standard_normal((9, *shape)).astype(dtype))
    model.forward(np.random.default_rng(1).standard_normal((9, *shape)).astype(dtype))
    model.eval()
    module = to_torch(model)
    x = np.random.default_rng(2).standard_normal((5, *shape)).astype(dtype)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    if dtype == np.float32:
        assert_float32_close(got, model(x), model, x)
    else:
        np.testing.assert_allclose(got, model(x), rtol=1e-12, atol=1e-12)
    back = from_torch(module)
    expected = describe(model)
    if make is tinynet_model:
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
            nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), nn.Conv3d(1, 1, 1))),
            r"model\.1\.1 is torch\.nn\.modules\.conv\.Conv3d",
        ),
        (nn.Sequential(MyLinear(2, 2)), r"model\.0 is .*MyLinear"),
        (nn.ModuleList([nn.ReLU()]), r"model is torch\.nn\.modules\.container\.ModuleList"),
        (nn.Sequential(nn.Softmax()), r"model\.0 is Softmax\(dim=None\)"),
        (nn.BatchNorm1d(3, track_running_stats=False), "track_running_stats=False"),
        (
            nn.Sequential(nn.Flatten(), nn.Sequential(nn.BatchNorm2d(3, bias=False))),
            r"model\.1\.0 is BatchNorm2d.* without a bias",
        ),
        (
            nn.Sequential(nn.Conv1d(4, 4, 3, padding_mode="circular")),
            r"model\.0 is Conv1d.*padding_mode='circular'.*only padding_mode='zeros'",
        ),
        (
            nn.Sequential(nn.ReLU(), nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")),
            r"model\.1 is Conv2d.*padding_mode='reflect'.*only padding_mode='zeros'",
        ),
        (nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), r"model\.0 .*ceil_mode=True"),
        (nn.MaxPool2d(2, return_indices=True), r"model is MaxPool2d.*return_indices=True"),
        (nn.Sequential(nn.Tanh(), nn.AvgPool2d(2, ceil_mode=True)), r"model\.1 .*ceil_mode"),
        (nn.MaxPool2d(2, padding=2), r"model \(MaxPool2d.*at most half the kernel"),
        (nn.Unflatten(0, (2, 2)), r"model \(Unflatten.*dim must be a non-zero int"),
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
        (
            Sequential(Dense(3, 3), Residual(Parallel(ReLU(), Tanh(), mode="sum"))),
            r"model\.1\.block is Parallel",
        ),
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
    state = trained(torch_mlp(), (12,)).state_dict()
    with pytest.raises(StateDictError, match=r"the transpose.*load_safetensors") as error:
        tinynet_mlp().load_state_dict({k: v.numpy() for k, v in state.items()})
    assert "0.weight: expected shape (12, 8)" in str(error.value)
    with pytest.raises(StateDictError, match=r"a torch tensor: convert the module"):
        tinynet_mlp().load_state_dict(state)


def test_torch_safetensors_file_of_a_cnn_loads_strictly(tmp_path: Path) -> None:
    """Conv2d weights are (out, in, kh, kw) in both: only Linear weights are transposed."""
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    reference = trained(TORCH_MODULES["CNN"][0](), (168,))
    safetensors_torch.save_file(reference.state_dict(), tmp_path / "m.safetensors")
    model = Sequential(  # the torch CNN's twin, built in tinynet
        Unflatten(1, (1, 12, 14)),
        Conv2d(1, 4, 3, padding=1),
        BatchNorm2d(4),
        ReLU(inplace=True),
        MaxPool2d(2),
        Conv2d(4, 6, (2, 4), padding="same", dilation=(1, 2)),
        BatchNorm2d(6, momentum=None),
        Tanh(),
        Conv2d(6, 8, (3, 2), stride=2, bias=False),
        AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        AdaptiveAvgPool2d((2, 3)),
        Flatten(),
        Dense(48, 10),
    ).eval()
    assert load_safetensors(model, tmp_path / "m.safetensors") == ([], [])
    x = torch.randn(5, 168)
    with torch.no_grad():
        expected = reference(x).numpy()
    assert_float32_close(model(x.numpy()), expected, model, x.numpy())


def test_torch_safetensors_file_with_num_batches_tracked_loads_strictly(tmp_path: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    reference = trained(torch_mlp(), (12,))
    safetensors_torch.save_file(reference.state_dict(), tmp_path / "m.safetensors")
    model = tinynet_mlp()
    assert load_safetensors(model, tmp_path / "m.safetensors") == ([], [])
    assert_same_tensors(to_torch(model), reference)


def test_num_batches_tracked_survives_the_round_trip() -> None:
    original = trained(torch_mlp(), (12,))
    assert original[1].num_batches_tracked.item() == 3
    back = to_torch(from_torch(original))
    assert torch.equal(back[1].num_batches_tracked, original[1].num_batches_tracked)


def test_reshape_goes_to_torch_as_flatten_then_unflatten() -> None:
    """torch has no Reshape module: Flatten then Unflatten(1, shape) reshapes each sample."""
    model = Sequential(Dense(24, 24, seed=0), Reshape((2, -1, 3)), Conv2d(2, 1, 2, seed=1))
    model.eval()
    module = to_torch(model)
    assert repr(module[1]) == repr(nn.Sequential(nn.Flatten(), nn.Unflatten(1, (2, -1, 3))))
    assert [m.training for m in module.modules()] == [False] * 6
    x = np.random.default_rng(0).standard_normal((3, 24)).astype(np.float32)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    assert_float32_close(got, model(x), model, x)
    back = from_torch(module)
    assert [type(layer).__name__ for layer in back[1]] == ["Flatten", "Unflatten"]


# --- a network trained in PyTorch, moved into tinynet ---------------------------------------


def trained_on_mnist(network: Any, lr: float, batches: int, *, flatten: bool = True) -> Any:
    """``network`` trained with Adam on the first ``batches`` batches of 128 MNIST
    images, in inference mode."""
    from tinynet.datasets import load_mnist

    (x, y), _ = load_mnist(flatten=flatten)
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    network.train()
    for start in range(0, 128 * batches, 128):
        optimizer.zero_grad()
        batch = torch.from_numpy(x[start : start + 128])
        loss = nn.functional.cross_entropy(network(batch), torch.from_numpy(y[start : start + 128]))
        loss.backward()
        optimizer.step()
    return network.eval()


def assert_same_mnist_predictions_in_tinynet(network: Any, *, flatten: bool = True) -> None:
    """``network`` moved into tinynet gives the same outputs (within the float32 error
    bound, `roundoff`) and labels (but near ties) on the 10,000 MNIST test images, and
    had learned something."""
    from tinynet.datasets import load_mnist

    _, (x_test, y_test) = load_mnist(flatten=flatten)
    model = from_torch(network)
    with torch.no_grad():
        expected = network(torch.from_numpy(x_test)).numpy()
    outputs = model(x_test)
    tolerance = assert_float32_close(outputs, expected, model, x_test)
    assert_same_labels_but_near_ties(outputs, expected, tolerance)
    assert (expected.argmax(axis=1) == y_test).mean() > 0.5  # it did learn


@pytest.mark.slow
def test_network_trained_in_torch_predicts_the_same_mnist_labels_in_tinynet() -> None:
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
    assert_same_mnist_predictions_in_tinynet(trained_on_mnist(network, lr=1e-3, batches=10))


@pytest.mark.slow
def test_cnn_trained_in_torch_predicts_the_same_mnist_labels_in_tinynet() -> None:
    torch.manual_seed(0)
    network = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding="same", bias=False),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(7),
        nn.Flatten(),
        nn.Dropout(0.1),
        nn.Linear(784, 10),
    )
    network = trained_on_mnist(network, lr=3e-3, batches=20, flatten=False)
    assert_same_mnist_predictions_in_tinynet(network, flatten=False)
