"""Layers on (N, C, H, W) batches besides convolution and pooling: BatchNorm2d (and the
batch counter it shares with BatchNorm1d), Unflatten/Reshape/Flatten, Dropout and the
activations; whole CNNs: summary, save/load, safetensors both ways with torch.nn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import ReseededDropout, assert_inplace_is_exact, away_from_zero, seeds
from hypothesis import given
from hypothesis import strategies as st

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
    ReLU,
    Reshape,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    Unflatten,
    gradcheck,
    load,
    save,
)
from tinynet.typing import FloatArray

TOL = 1e-6
IMAGES = st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4))
"""(N, C, H, W), batch 1 included."""


def rand(shape: tuple[int, ...], seed: int = 0, scale: float = 1.0) -> FloatArray:
    return np.random.default_rng((seed, 5)).standard_normal(shape) * scale


def perturb(layer: Layer, seed: int = 1) -> Layer:
    rng = np.random.default_rng(seed)
    for p in layer.parameters():
        p.data += rng.standard_normal(p.shape) * 0.5
    return layer


# --- BatchNorm2d -------------------------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
@given(shape=IMAGES, seed=seeds)
def test_batchnorm2d_gradcheck(affine: bool, shape: tuple[int, ...], seed: int) -> None:
    n, c, h, w = shape
    if n * h * w < 3:  # one value per channel has no variance; two barely move x_hat
        shape = (n, c, h + 2, w)
    layer = perturb(BatchNorm2d(c, affine=affine, dtype=np.float64), seed)
    assert gradcheck(layer, rand(shape, seed, scale=3.0) + 2) < TOL


@pytest.mark.parametrize(("momentum", "affine"), [(0.1, True), (0.3, False), (None, True)])
def test_batchnorm2d_matches_torch_over_several_batches(
    momentum: float | None, affine: bool
) -> None:
    torch = pytest.importorskip("torch")
    c = 4
    ours = perturb(BatchNorm2d(c, momentum=momentum, affine=affine, dtype=np.float64))
    theirs = torch.nn.BatchNorm2d(c, momentum=momentum, affine=affine).double()
    if ours.weight is not None and ours.bias is not None:
        with torch.no_grad():
            theirs.weight.copy_(torch.tensor(ours.weight.data))
            theirs.bias.copy_(torch.tensor(ours.bias.data))
    conv = Conv2d(2, c, 3, seed=0, dtype=np.float64)
    for step in range(4):
        x = conv(rand((3 + step, 2, 6, 5), step, scale=3.0))  # batch-last, as in a CNN
        grad_y = rand(x.shape, 100 + step)
        t = torch.tensor(np.ascontiguousarray(x), requires_grad=True)
        want = theirs(t)
        want.backward(torch.tensor(grad_y))
        np.testing.assert_allclose(ours(x), want.detach(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(ours.backward(grad_y), t.grad, rtol=1e-9, atol=1e-9)
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-12, err_msg=name)
    assert ours.num_batches_tracked.dtype == np.int64
    assert int(ours.num_batches_tracked) == 4
    if ours.weight is not None and ours.bias is not None:
        np.testing.assert_allclose(ours.weight.grad, theirs.weight.grad, rtol=1e-9)
        np.testing.assert_allclose(ours.bias.grad, theirs.bias.grad, rtol=1e-9)
    ours.eval()
    theirs.eval()
    x = rand((2, c, 3, 3), 9)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach(), rtol=1e-12, atol=1e-12)


def test_batchnorm1d_on_sequences_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = BatchNorm1d(3, dtype=np.float64), torch.nn.BatchNorm1d(3).double()
    x = rand((4, 3, 5), 1)
    np.testing.assert_allclose(ours(x), theirs(torch.tensor(x)).detach(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.running_var, theirs.running_var, rtol=1e-13)


def test_the_batch_counter_is_an_int64_scalar_astype_and_gradcheck_leave_alone() -> None:
    for layer in (BatchNorm1d(3), BatchNorm2d(3)):
        counter = layer.num_batches_tracked
        assert counter.shape == ()
        assert counter.dtype == np.int64
        layer.astype(np.float64)
        assert layer.num_batches_tracked.dtype == np.int64
        assert layer.running_mean.dtype == np.float64
        shape = (4, 3) if isinstance(layer, BatchNorm1d) else (4, 3, 2, 2)
        layer(rand(shape))
        layer(rand(shape))
        assert layer.num_batches_tracked is counter  # counted in place
        assert int(counter) == 2
        layer.eval()(rand(shape))
        assert int(counter) == 2  # inference does not count
        gradcheck(layer, rand(shape, scale=2.0))
        assert int(counter) == 2  # restored with the other buffers


def test_batchnorm2d_running_variance_is_unbiased_over_n_h_w_worked_example() -> None:
    """Torch-free: the rule is the unbiased variance over all N*H*W values of a channel,
    not over N, nor over H*W, nor biased. Channel 0 of a (2, 2, 1, 2) batch holds
    [0, 2] and [4, 6]: M = N*H*W = 4 values, mean 3, squared deviations 9+1+1+9 = 20,
    biased variance 20/4 = 5 (what x_hat uses), unbiased 20/3. Channel 1 holds [1, 1]
    and [1, 1]: variance 0. With momentum 0.1 from running_var = 1:
    0.9 * 1 + 0.1 * 20/3 = 1.5667 and 0.9 * 1 + 0.1 * 0 = 0.9; running_mean 0.3 and 0.1.
    (Over N alone the per-pixel variances would be 8 and 8; over H*W, 1 and 1.)"""
    layer = BatchNorm2d(2, dtype=np.float64)  # eps = 1e-5, in x_hat only
    x = np.array([[[[0.0, 2.0]], [[1.0, 1.0]]], [[[4.0, 6.0]], [[1.0, 1.0]]]])
    y = layer(x)
    np.testing.assert_allclose(layer.running_var, [0.9 + 0.1 * 20 / 3, 0.9], rtol=1e-15)
    np.testing.assert_allclose(layer.running_mean, [0.3, 0.1], rtol=1e-15)
    expected = np.array([[-3, -1], [1, 3]]) / np.sqrt(5 + 1e-5)
    np.testing.assert_allclose(y[:, 0, 0], expected, rtol=1e-15)


def test_batchnorm2d_momentum_none_is_the_cumulative_average() -> None:
    layer = BatchNorm2d(1, momentum=None, dtype=np.float64)
    batches = [rand((2, 1, 2, 2), seed) + seed for seed in range(3)]
    for x in batches:
        layer(x)
    np.testing.assert_allclose(layer.running_mean, [np.mean([x.mean() for x in batches])])


def test_batchnorm2d_errors() -> None:
    layer = BatchNorm2d(3)
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3.*expected input of shape \(N, 3, H, W\)"):
        layer(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"more than one value per channel.*\(1, 3, 1, 1\)"):
        layer(np.zeros((1, 3, 1, 1), np.float32))
    assert layer(np.zeros((1, 3, 2, 1), np.float32)).shape == (1, 3, 2, 1)  # two values: fine
    with pytest.raises(ValueError, match="BatchNorm2d: momentum must lie in"):
        BatchNorm2d(3, momentum=-0.1)


def test_relu_in_place_after_batchnorm_without_affine_is_exact() -> None:
    # Without weight and bias the normalized batch would be the output itself: it must
    # be a copy, or an in-place ReLU would overwrite what backward reads.
    # (ReLU's mask makes BatchNorm's upstream gradient uneven, so x_hat matters in backward.)
    x = rand((6, 2, 3, 3), 3)
    assert_inplace_is_exact(
        lambda inplace: Sequential(BatchNorm2d(2, affine=False, dtype=np.float64), ReLU(inplace)),
        x,
    )


# --- reshaping ---------------------------------------------------------------------------


def test_unflatten_and_reshape_turn_rows_into_images_as_views() -> None:
    x = np.arange(2 * 784, dtype=np.float32).reshape(2, 784)
    for layer in (Unflatten(1, (1, 28, 28)), Unflatten(-1, (1, -1, 28)), Reshape((1, 28, 28))):
        y = layer(x)
        assert y.shape == (2, 1, 28, 28)
        assert np.shares_memory(y, x)
        np.testing.assert_array_equal(y[1, 0, 0, :3], [784, 785, 786])
        assert layer.backward(np.ones_like(y)).shape == (2, 784)
    assert Unflatten(2, (2, 2))(np.zeros((3, 5, 4), np.float32)).shape == (3, 5, 2, 2)
    assert Reshape((-1,))(np.zeros((3, 2, 2), np.float32)).shape == (3, 4)


@given(shape=IMAGES, seed=seeds)
def test_reshaping_layers_gradcheck(shape: tuple[int, ...], seed: int) -> None:
    n, c, h, w = shape
    x = rand((n, c * h * w), seed)
    assert gradcheck(Unflatten(1, (c, h, w)), x) < TOL
    assert gradcheck(Reshape((c, -1)), x) < TOL
    assert gradcheck(Flatten(), rand(shape, seed)) < TOL


def test_flatten_copies_a_batch_last_image_into_rows_in_c_order() -> None:
    conv = Conv2d(1, 2, 1, bias=False, dtype=np.float64)
    conv.weight.data[...] = [[[[1.0]]], [[[-1.0]]]]
    x = np.arange(2 * 9, dtype=np.float64).reshape(2, 1, 3, 3)
    rows = Flatten()(conv(x))
    np.testing.assert_array_equal(rows, np.concatenate([x, -x], axis=1).reshape(2, 18))


def test_reshaping_errors_name_the_layer() -> None:
    with pytest.raises(ValueError, match=r"Unflatten: dim must be a non-zero int"):
        Unflatten(0, (1, 28, 28))
    with pytest.raises(ValueError, match=r"Unflatten: expected a tuple of positive ints"):
        Unflatten(1, (-1, -1))
    with pytest.raises(ValueError, match=r"Unflatten\(.*cannot reshape axis 1 of 784 values"):
        Unflatten(1, (1, 28, 27))(np.zeros((2, 784), np.float32))
    with pytest.raises(ValueError, match=r"Unflatten\(.*dim 3 is not an axis after the batch"):
        Unflatten(3, (2, 2))(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"Reshape\(.*cannot reshape each sample of 10 values"):
        Reshape((3, -1))(np.zeros((2, 10), np.float32))
    assert repr(Unflatten(1, (1, 28, 28))) == "Unflatten(dim=1, unflattened_size=(1, 28, 28))"
    assert repr(Reshape((1, -1))) == "Reshape((1, -1))"


# --- elementwise layers on images --------------------------------------------------------

ELEMENTWISE: dict[str, Callable[[], Layer]] = {
    "relu": ReLU,
    "leaky_relu": lambda: LeakyReLU(0.1),
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "silu": SiLU,
    "softmax": lambda: Softmax(axis=1),  # over the channels
    "dropout": lambda: ReseededDropout(0.3, mask_seed=2),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
@given(shape=IMAGES, seed=seeds)
def test_elementwise_layers_gradcheck_on_images(
    name: str, shape: tuple[int, ...], seed: int
) -> None:
    x = away_from_zero(np.random.default_rng(seed), shape)
    # atol: where GELU or a sigmoid saturates, a gradient of 1e-7 is below the noise
    gradcheck(ELEMENTWISE[name](), x, tolerance=TOL, atol=1e-8)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_layers_keep_a_batch_last_layout(name: str) -> None:
    x = Conv2d(2, 3, 3, seed=0)(rand((4, 2, 7, 7)).astype(np.float32))
    layer = ELEMENTWISE[name]()
    y = layer(x)
    assert y.shape == x.shape
    assert y.dtype == np.float32
    if name != "dropout":  # its mask is drawn in C order
        assert y.transpose(1, 2, 3, 0).flags.c_contiguous


def test_dropout_on_images_zeroes_single_values() -> None:
    y = Dropout(0.5, seed=0)(np.ones((8, 3, 10, 10), np.float32))
    assert 0.4 < np.mean(y == 0) < 0.6
    assert set(np.unique(y)) == {0.0, 2.0}


# --- whole networks ----------------------------------------------------------------------


def small_cnn(seed: int = 0, dtype: Any = np.float32) -> Sequential:
    """(N, 784) rows -> LeNet-like layers -> 10 logits: every image layer once."""
    rng = np.random.default_rng(seed)
    return Sequential(
        Unflatten(1, (1, 28, 28)),
        Conv2d(1, 4, 5, padding=2, rng=rng, dtype=dtype),
        BatchNorm2d(4, dtype=dtype),
        ReLU(inplace=True),
        MaxPool2d(2),
        Conv2d(4, 6, 3, stride=2, padding=1, rng=rng, dtype=dtype),
        ReLU(),
        AvgPool2d(2),
        Conv2d(6, 8, 3, padding="same", bias=False, rng=rng, dtype=dtype),
        AdaptiveAvgPool2d(1),
        Flatten(),
        Dense(8, 10, rng=rng, dtype=dtype),
    )


def trained(model: Sequential, steps: int = 3) -> Sequential:
    """A few training forwards: BatchNorm's statistics and counter move off their start."""
    rng = np.random.default_rng(1)
    dtype = model.parameters()[0].dtype
    for _ in range(steps):
        model(rng.random((8, 784)).astype(dtype))
    perturb(model, 2)
    return model.eval()


def test_summary_shows_channel_height_width_shapes() -> None:
    text = small_cnn().summary(input_shape=(784,), print_fn=None)
    rows = {line.split(")")[0] + ")": line for line in text.splitlines()[2:14]}
    for index, shape in [
        ("(0)", "(None, 1, 28, 28)"),
        ("(1)", "(None, 4, 28, 28)"),
        ("(4)", "(None, 4, 14, 14)"),
        ("(5)", "(None, 6, 7, 7)"),
        ("(7)", "(None, 6, 3, 3)"),
        ("(9)", "(None, 8, 1, 1)"),
        ("(10)", "(None, 8)"),
    ]:
        assert shape in rows[index]
    # conv 4*25 + 4, batchnorm 4 + 4, conv 6*4*9 + 6, conv 8*6*9, dense 8*10 + 10
    assert text.endswith("Total params: 856")


def test_a_cnn_gradchecks_end_to_end() -> None:
    model = trained(small_cnn(dtype=np.float64)).train()
    # atol: the first conv's bias feeds a BatchNorm, which cancels it; its gradient is 0
    gradcheck(model, rand((2, 784), 7), max_checks=40, tolerance=1e-5, atol=1e-8)


def test_save_and_load_round_trip_a_cnn(tmp_path: Path) -> None:
    model = trained(small_cnn())
    save(model, tmp_path / "cnn.npz")
    loaded = load(tmp_path / "cnn.npz")
    assert repr(loaded) == repr(model)
    for (name, a), (_, b) in zip(
        model.state_dict().items(), loaded.state_dict().items(), strict=True
    ):
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    x = rand((5, 784), 3).astype(np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))


def torch_cnn() -> Any:
    torch = pytest.importorskip("torch")
    nn = torch.nn
    return nn.Sequential(
        nn.Unflatten(1, (1, 28, 28)),
        nn.Conv2d(1, 4, 5, padding=2),
        nn.BatchNorm2d(4),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 8, 3, padding="same", bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    ).eval()


def test_safetensors_from_tinynet_load_strictly_into_torch_and_back(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    from tinynet.io import load_safetensors, save_safetensors

    model = trained(small_cnn())
    save_safetensors(model, tmp_path / "cnn.safetensors")
    theirs = torch_cnn()
    theirs.load_state_dict(safetensors_torch.load_file(tmp_path / "cnn.safetensors"), strict=True)
    assert int(theirs[2].num_batches_tracked) == 3
    x = rand((6, 784), 4).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(
            model(x), theirs(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-5
        )

    # and the reverse: torch's weights (after a training step) into a fresh tinynet CNN
    theirs.train()
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.1)
    theirs(torch.from_numpy(x)).square().sum().backward()
    optimizer.step()
    theirs.eval()
    safetensors_torch.save_file(theirs.state_dict(), tmp_path / "torch.safetensors")
    ours = small_cnn(seed=5).eval()
    assert load_safetensors(ours, tmp_path / "torch.safetensors") == ([], [])
    assert int(ours[2].num_batches_tracked) == 4
    with torch.no_grad():
        np.testing.assert_allclose(
            ours(x), theirs(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-5
        )


def test_a_cnn_trains_step_for_step_as_torch_does() -> None:
    """Same weights, batches and Adam: the same losses, to 1e-10 in float64."""
    torch = pytest.importorskip("torch")
    from tinynet import CrossEntropyLoss
    from tinynet.io.safetensors_format import to_torch_layout
    from tinynet.optim import Adam

    ours = small_cnn(seed=3, dtype=np.float64)
    theirs = torch_cnn().double().train()
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in to_torch_layout(ours).items()}
    theirs.load_state_dict(state, strict=True)
    optimizer, their_optimizer = (
        Adam(ours.parameters(), lr=3e-3),
        torch.optim.Adam(theirs.parameters(), lr=3e-3),
    )
    loss, their_loss = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    rng = np.random.default_rng(6)
    for _ in range(5):
        x, y = rng.random((16, 784)), rng.integers(0, 10, 16)
        value = loss.forward(ours(x), y)
        optimizer.zero_grad()
        ours.backward_params(loss.backward())
        optimizer.step()
        their_value = their_loss(theirs(torch.from_numpy(x)), torch.from_numpy(y))
        their_optimizer.zero_grad()
        their_value.backward()
        their_optimizer.step()
        assert abs(value - their_value.item()) < 1e-10


def test_batchnorm1d_exchanges_strictly_with_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    from tinynet.io import load_safetensors, save_safetensors

    ours = Sequential(Dense(5, 4, seed=0), BatchNorm1d(4), ReLU())
    ours(rand((8, 5)).astype(np.float32))  # one batch counted
    ours.eval()
    save_safetensors(ours, tmp_path / "bn.safetensors")
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU())
    theirs.load_state_dict(safetensors_torch.load_file(tmp_path / "bn.safetensors"), strict=True)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    x = rand((3, 5), 1).astype(np.float32)
    with torch.no_grad():
        np.testing.assert_allclose(ours(x), theirs.eval()(torch.from_numpy(x)).numpy(), rtol=1e-5)
    copy = Sequential(Dense(5, 4, seed=9), BatchNorm1d(4), ReLU())
    assert load_safetensors(copy, tmp_path / "bn.safetensors") == ([], [])
    assert int(copy[1].num_batches_tracked) == 1
