"""The CNN section of the benchmarks: its product shapes and FLOPs, its torch twin."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.convnets import (
    ConvGemmCeiling,
    cnn_model_files,
    layer_input_shapes,
    step_flops,
    step_products,
)
from benchmarks.loops import TinynetSteps
from tinynet import BatchNorm2d, Conv2d, Dense, Flatten, MaxPool2d, ReLU, Sequential


def test_lenet5_products_and_flops_by_hand() -> None:
    lenet = next(f for f in cnn_model_files() if f.name == "lenet5")
    model = lenet.build(0)
    products = step_products(model, (1, 28, 28), batch=2)
    forward = [(p.m, p.k, p.n) for p in products if p.kind == "forward"]
    # C1: 6 filters of 25 weights at 28*28*2 positions; C3: 16 of 150 at 10*10*2;
    # C5: 120 of 400 at 1*1*2; then the two Dense layers on a batch of 2
    assert forward == [(6, 25, 1568), (16, 150, 200), (120, 400, 2), (2, 120, 84), (2, 84, 10)]
    kinds = [p.kind for p in products if p.layer == "(0) Conv2d"]
    assert kinds == ["forward", "weight gradient"]  # no input gradient for the first layer
    # per sample: forward and weight gradient 2 * (6*25*784 + 16*150*100 + 120*400
    # + 120*84 + 84*10) each, input gradients of all but C1 2 * (16*150*100 + ...)
    macs = 6 * 25 * 784 + 16 * 150 * 100 + 120 * 400 + 120 * 84 + 84 * 10
    assert step_flops(products) == 2 * 2 * (2 * macs + macs - 6 * 25 * 784)
    assert ConvGemmCeiling(products, "float32").steps(2) > 0


def test_layer_input_shapes_leave_the_modes_alone() -> None:
    model = Sequential(Conv2d(1, 2, 3), BatchNorm2d(2), Flatten(), Dense(2 * 26 * 26, 3))
    shapes = layer_input_shapes(model, (1, 28, 28))
    assert shapes == [(1, 28, 28), (2, 26, 26), (2, 26, 26), (1352,)]
    assert model.training
    assert int(model[1].num_batches_tracked) == 0  # no statistics were updated


@pytest.mark.parametrize("name", ["lenet5", "bn"])
def test_the_torch_twin_trains_the_same_numbers(name: str) -> None:
    """Same weights and buffers, same batches, same Adam, float64: tinynet and torch end
    with the same weights (and BatchNorm statistics) after a few steps."""
    torch_cnn = pytest.importorskip("benchmarks.peers.torch_cnn")
    if name == "lenet5":
        model = next(f for f in cnn_model_files() if f.name == "lenet5").build(0)
    else:
        rng = np.random.default_rng(0)
        model = Sequential(
            Conv2d(1, 4, 3, padding=1, bias=False, rng=rng),
            MaxPool2d(2),
            BatchNorm2d(4),
            ReLU(inplace=True),
            Flatten(),
            Dense(4 * 14 * 14, 10, rng=rng),
        )
    model.astype(np.float64)
    rng = np.random.default_rng(1)
    x, y = rng.random((24, 1, 28, 28)), rng.integers(0, 10, 24)
    twin = torch_cnn.TorchCNNSteps(model, x, y, batch=8)
    tiny = TinynetSteps(model, x, y, batch=8)
    start = {k: v.copy() for k, v in model.state_dict().items()}
    for runner in (tiny, twin):
        runner.steps(4)  # wraps around the 3 batches
    ours = model.state_dict()
    moved = max(float(np.abs(ours[k] - start[k]).max()) for k in ours if "num_batches" not in k)
    assert moved > 1e-4
    theirs = {k: v.detach().numpy() for k, v in twin.model.state_dict().items()}
    from tinynet.io.safetensors_format import to_torch_layout

    for key, value in to_torch_layout(model).items():
        np.testing.assert_allclose(theirs[key], value, rtol=0, atol=1e-10, err_msg=key)
