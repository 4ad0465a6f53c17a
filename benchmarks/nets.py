"""The networks measured: the model file's 784-128-64-10 net and 784-W-W/2-10 variants.

Also the arithmetic the suite reports beside the timings: the layer sizes of a
tinynet MLP, its FLOPs per training step, and its weights as plain arrays for the
peers to start from.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.layers.base import Layer
from tinynet.modelfile import ModelFile, load_model_file
from tinynet.typing import FloatArray

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
MNIST_MLP = MODELS / "mnist_mlp.py"


def mnist_mlp_file() -> ModelFile:
    """models/mnist_mlp.py, loaded."""
    return load_model_file(MNIST_MLP)


def mlp(sizes: tuple[int, ...], seed: int, dtype: str = "float32") -> Sequential:
    """A Dense/ReLU stack with ``sizes`` (e.g. (784, 128, 64, 10)), He-initialized by ``seed``;
    its ReLUs work in place, as the model file's do."""
    rng = np.random.default_rng(seed)
    layers: list[Layer] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        if i:
            layers.append(ReLU(inplace=True))  # as models/mnist_mlp.py
        layers.append(Dense(fan_in, fan_out, rng=rng, dtype=dtype))
    return Sequential(*layers)


def width_sizes(width: int, features: int = 784, classes: int = 10) -> tuple[int, ...]:
    """784-W-W/2-10: the scaling section's family of nets."""
    return (features, width, max(width // 2, 1), classes)


@dataclass(frozen=True)
class DenseWeights:
    """One Dense layer's arrays in tinynet's layout: weight (in, out) and bias (out,),
    and whether the ReLU before it (if any) works in place, which a peer copies."""

    weight: FloatArray
    bias: FloatArray
    relu_before_inplace: bool = False


def dense_weights(model: Layer) -> list[DenseWeights]:
    """Copies of the weights of an MLP made of `Dense` and `ReLU` layers only.

    Raises ``TypeError`` for any other layer: the peers build the same network, which
    only makes sense for the architecture they know.
    """
    layers = list(model) if isinstance(model, Sequential) else [model]
    weights = []
    inplace = False
    for layer in layers:
        if isinstance(layer, Dense):
            if layer.bias is None:
                raise TypeError("benchmarks: the peers need Dense layers with a bias")
            data = layer.weight.data.copy(), layer.bias.data.copy()
            weights.append(DenseWeights(*data, relu_before_inplace=inplace))
        elif isinstance(layer, ReLU):
            inplace = layer.inplace
        else:
            raise TypeError(
                f"benchmarks: the peers rebuild Dense/ReLU stacks only, got {type(layer).__name__}"
            )
    return weights


def layer_sizes(model: Layer) -> tuple[int, ...]:
    """(in, hidden..., out) of a Dense/ReLU MLP."""
    weights = dense_weights(model)
    return (weights[0].weight.shape[0], *(w.weight.shape[1] for w in weights))


def gemm_shapes(sizes: tuple[int, ...], batch: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of every matrix product of one training step, in the order they run.

    Forward ``x @ W`` per layer; backward, last layer first, ``x.T @ grad_y`` per layer
    and ``grad_y @ W.T`` per layer but the first (its input needs no gradient).
    """
    pairs = list(itertools.pairwise(sizes))
    shapes = [(batch, fan_in, fan_out) for fan_in, fan_out in pairs]
    for i in reversed(range(len(pairs))):
        fan_in, fan_out = pairs[i]
        shapes.append((fan_in, batch, fan_out))
        if i:
            shapes.append((batch, fan_out, fan_in))
    return shapes


def step_flops(sizes: tuple[int, ...], batch: int) -> int:
    """Floating-point operations of one step's matrix products (2 m k n each).

    For 784-128-64-10 that is 454,400 per sample: forward and weight gradients
    2 x 109,184 each, input gradients of the two upper layers 2 x 8,832.
    """
    return sum(2 * m * k * n for m, k, n in gemm_shapes(sizes, batch))


def parameter_count(sizes: tuple[int, ...]) -> int:
    """Weights and biases of a Dense MLP with these sizes."""
    return sum(a * b + b for a, b in itertools.pairwise(sizes))
