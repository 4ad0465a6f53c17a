"""Initializers: variance and bounds on large draws, dtypes, seeding, names.

The statistical tests draw n = 200,000 weights and allow 6 standard errors, so a
correct initializer fails with probability about 2e-9 per check (and the draws are
seeded, so a run is repeatable); a wrong fan or gain is off by 10% or more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tinynet import Dense, init

FAN_IN, FAN_OUT = 500, 400
N = FAN_IN * FAN_OUT


def draw(name: str, dtype: type = np.float64, seed: int = 0) -> np.ndarray:
    return init.get(name)((FAN_IN, FAN_OUT), np.random.default_rng(seed), dtype)


def check_normal(w: np.ndarray, std: float) -> None:
    w = w.astype(np.float64)
    # mean: standard error std / sqrt(n)
    assert abs(w.mean()) < 6 * std / math.sqrt(N)
    # variance (the mean of squares, the mean being 0): relative standard error sqrt(2 / n)
    assert abs(np.mean(w * w) / std**2 - 1) < 6 * math.sqrt(2 / N)
    # and it is a normal, not a uniform of the same variance (which has 57.7% within 1 std)
    within = np.mean(np.abs(w) < std)
    assert abs(within - 0.6827) < 6 * math.sqrt(0.6827 * 0.3173 / N)


def check_uniform(w: np.ndarray, bound: float) -> None:
    w = w.astype(np.float64)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > bound * (1 - 1e-3)  # P(all inside 0.999 b) = 0.999^n ~ e^-200
    assert abs(w.mean()) < 6 * bound / math.sqrt(3 * N)
    # E[w^2] = b^2 / 3; Var[w^2] = b^4 / 5 - b^4 / 9 = 4 b^4 / 45
    relative_error = 3 * math.sqrt(4 / 45 / N)
    assert abs(np.mean(w * w) / (bound**2 / 3) - 1) < 6 * relative_error


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("he_normal", math.sqrt(2 / FAN_IN)),  # kaiming_normal_, gain sqrt(2), fan_in
        ("he", math.sqrt(2 / FAN_IN)),
        ("kaiming_normal", math.sqrt(2 / FAN_IN)),
        ("glorot_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),  # xavier_normal_
        ("xavier_normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
        ("lecun_normal", math.sqrt(1 / FAN_IN)),
    ],
)
def test_normal_initializers_have_the_right_variance(name: str, std: float) -> None:
    check_normal(draw(name), std)


@pytest.mark.parametrize(
    ("name", "bound"),
    [
        ("he_uniform", math.sqrt(6 / FAN_IN)),  # kaiming_uniform_: sqrt(2) * sqrt(3 / fan_in)
        ("kaiming_uniform", math.sqrt(6 / FAN_IN)),
        ("glorot_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),  # xavier_uniform_
        ("glorot", math.sqrt(6 / (FAN_IN + FAN_OUT))),
        ("xavier_uniform", math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ],
)
def test_uniform_initializers_have_the_right_bounds_and_variance(name: str, bound: float) -> None:
    check_uniform(draw(name), bound)


def test_dense_defaults_to_he_normal_and_accepts_other_names() -> None:
    check_normal(Dense(FAN_IN, FAN_OUT, seed=0).weight.data, math.sqrt(2 / FAN_IN))
    glorot = Dense(FAN_IN, FAN_OUT, seed=0, init="glorot_uniform").weight.data
    check_uniform(glorot, math.sqrt(6 / (FAN_IN + FAN_OUT)))


def test_dense_accepts_an_initializer_function() -> None:
    w = Dense(FAN_IN, FAN_OUT, seed=0, init=init.uniform(-0.5, 0.5)).weight.data
    check_uniform(w, 0.5)
    w = Dense(FAN_IN, FAN_OUT, seed=0, init=init.normal(0.1, mean=1.0)).weight.data
    check_normal(w - 1.0, 0.1)
    assert not Dense(3, 2, init="zeros").weight.data.any()


def test_dtype_is_the_one_asked_for() -> None:
    assert draw("he_normal", np.float32).dtype == np.float32
    assert draw("glorot_uniform", np.float64).dtype == np.float64
    assert Dense(3, 2, seed=0).weight.dtype == np.float32  # float32 by default
    assert Dense(3, 2, seed=0, dtype=np.float64).weight.dtype == np.float64


@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_the_same_seed_gives_the_same_weights(name: str) -> None:
    assert np.array_equal(draw(name, seed=5), draw(name, seed=5))
    if name != "zeros":
        assert not np.array_equal(draw(name, seed=5), draw(name, seed=6))


def test_fans() -> None:
    assert init.fans((784, 128)) == (784, 128)  # tinynet's Dense layout: (in, out)
    assert init.fans((7,)) == (7, 7)
    # Conv2d's (out, in, kh, kw), PyTorch's layout: fan_in = in*kh*kw, fan_out = out*kh*kw
    assert init.fans((3, 4, 5, 5)) == (100, 75)
    assert init.fans((16, 6, 5, 3)) == (90, 240)
    with pytest.raises(ValueError, match=r"at least one dimension, got shape \(\)"):
        init.fans(())


@pytest.mark.parametrize("shape", [(6, 1, 5, 5), (16, 6, 5, 5), (8, 3, 3, 2), (4, 2, 7)])
def test_conv_fans_are_torchs(shape: tuple[int, ...]) -> None:
    torch = pytest.importorskip("torch")
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init.fans(shape) == theirs


def test_conv2d_defaults_to_he_normal_over_in_channels_times_the_kernel() -> None:
    from tinynet import Conv2d

    layer = Conv2d(80, 100, (5, 5), seed=0)  # 200,000 weights, fan_in 80 * 25 = 2000
    w = layer.weight.data.astype(np.float64)
    std = math.sqrt(2 / 2000)
    assert abs(w.mean()) < 6 * std / math.sqrt(w.size)
    assert abs(np.mean(w * w) / std**2 - 1) < 6 * math.sqrt(2 / w.size)
    assert layer.bias is not None
    assert not np.any(layer.bias.data)


@pytest.mark.parametrize(
    ("name", "torch_init", "kwargs"),
    [
        ("he_uniform", "kaiming_uniform_", {"nonlinearity": "relu"}),
        ("glorot_uniform", "xavier_uniform_", {}),
    ],
)
def test_conv_uniform_bounds_match_torchs(name: str, torch_init: str, kwargs: dict) -> None:
    # The bound of U(-b, b) is where the largest of 200,000 draws lies (within 0.1%).
    torch = pytest.importorskip("torch")
    shape = (100, 80, 5, 5)
    ours = init.get(name)(shape, np.random.default_rng(0), np.float64)
    theirs = getattr(torch.nn.init, torch_init)(torch.empty(shape, dtype=torch.float64), **kwargs)
    bound = float(theirs.abs().max())
    assert abs(float(np.abs(ours).max()) / bound - 1) < 2e-3


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown initializer 'orthogonal'; expected one of .*he"):
        init.get("orthogonal")


def test_manual_seed_makes_unseeded_draws_repeatable(monkeypatch: pytest.MonkeyPatch) -> None:
    """As torch.manual_seed: weights and Dropout masks of layers given no seed follow
    from it, each layer its own stream; a layer's own seed still wins."""
    import tinynet

    monkeypatch.setattr(tinynet.init, "_SEEDED", None)  # the other tests' unseeded draws

    def run() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        dense, drop = tinynet.Dense(4, 3), tinynet.Dropout(0.5)
        mask = drop(np.ones((2, 4), np.float32))
        return dense.weight.data.copy(), mask, tinynet.Dense(4, 3, seed=7).weight.data

    tinynet.manual_seed(3)
    first = run()
    tinynet.manual_seed(3)
    second = run()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    tinynet.manual_seed(4)
    other = run()
    assert not np.array_equal(first[0], other[0])
    np.testing.assert_array_equal(first[2], other[2])  # its own seed wins
    with pytest.raises(ValueError, match="manual_seed: expected an integer >= 0"):
        tinynet.manual_seed(-1)
