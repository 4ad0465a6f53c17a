"""The same seed gives the same weights, outputs and training run, bit for bit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tinynet
from tinynet import CrossEntropyLoss, Dense, Dropout, ReLU, Sequential, Tanh
from tinynet.optim import Adam, CosineAnnealingLR


def model(seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(
        Dense(20, 16, rng=rng),
        ReLU(),
        Dropout(0.2, rng=rng),
        Dense(16, 8, rng=rng, init="glorot"),
        Tanh(),
        Dense(8, 3, rng=rng),
    )


def weights(net: Sequential) -> list[np.ndarray]:
    return [p.data.copy() for p in net.parameters()]


def test_same_seed_same_weights_and_outputs() -> None:
    a, b = model(7), model(7)
    for wa, wb in zip(weights(a), weights(b), strict=True):
        assert np.array_equal(wa, wb)
    x = np.random.default_rng(0).standard_normal((5, 20)).astype(np.float32)
    assert np.array_equal(a(x), b(x))  # training mode: the dropout masks agree too
    assert np.array_equal(a.eval()(x), b.eval()(x))


def test_a_different_seed_gives_different_weights() -> None:
    assert not np.array_equal(model(7)[0].weight.data, model(8)[0].weight.data)
    assert not np.array_equal(Dense(4, 4, seed=1).weight.data, Dense(4, 4, seed=2).weight.data)


def test_seed_argument_and_rng_argument_agree() -> None:
    by_seed = Dense(6, 5, seed=3)
    by_rng = Dense(6, 5, rng=np.random.default_rng(3))
    assert np.array_equal(by_seed.weight.data, by_rng.weight.data)


def train(seed: int, steps: int = 20) -> tuple[list[float], list[np.ndarray], dict[str, Any]]:
    net = model(seed)
    loss = CrossEntropyLoss(label_smoothing=0.05)
    opt = Adam(net.parameters(), lr=1e-2, weight_decay=1e-4)
    schedule = CosineAnnealingLR(opt, T_max=steps)
    data = np.random.default_rng(seed + 1)
    x = data.standard_normal((64, 20)).astype(np.float32)
    y = (x[:, :3].argmax(axis=1)).astype(np.int64)
    losses = []
    for _ in range(steps):
        index = data.choice(64, 16, replace=False)
        losses.append(loss.forward(net(x[index]), y[index]))
        net.backward(loss.backward())
        opt.step()
        opt.zero_grad()
        schedule.step()
    return losses, weights(net), opt.state_dict()


def test_a_training_run_repeats_bit_for_bit() -> None:
    losses_a, weights_a, state_a = train(11)
    losses_b, weights_b, state_b = train(11)
    assert losses_a == losses_b
    assert losses_a[-1] < losses_a[0]  # it did train
    for wa, wb in zip(weights_a, weights_b, strict=True):
        assert np.array_equal(wa, wb)
    for i, entry in state_a["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert np.array_equal(entry[name], state_b["state"][i][name])
    assert train(12)[0] != losses_a  # and the seed matters


UNSEEDED_DROPOUT = """
from tinynet import Dense, Dropout, ReLU, Sequential
from tinynet.recipe import Recipe


def build(seed):
    return Sequential(Dense(784, 32), ReLU(), Dropout(0.2), Dense(32, 10))  # no seeds


RECIPE = Recipe(epochs=1, batch_size=50)
"""


def test_two_cli_runs_with_one_seed_give_bit_identical_weights(
    tmp_path: Path, mnist_subset: Callable[[int, int], Path]
) -> None:
    """r3: a model file's layers without their own seed follow --seed (tinynet.manual_seed)."""
    from tinynet.cli import main

    (tmp_path / "unseeded.py").write_text(UNSEEDED_DROPOUT)
    data = str(mnist_subset(300, 50))
    runs = []
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        path = tmp_path / f"{name}.npz"
        args = ["train", str(tmp_path / "unseeded.py"), "--data", data, "--seed", str(seed)]
        assert main([*args, "--verbose", "0", "--save", str(path)]) == 0
        runs.append(tinynet.load(path).state_dict())
    for key in runs[0]:
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
    assert not np.array_equal(runs[0]["0.weight"], runs[2]["0.weight"])
