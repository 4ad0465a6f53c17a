"""The convolutional nets of the CNN section and the matrix products their steps are made of.

A `Conv2d` step is three products on its im2col matrix, batch last as tinynet lays it
out (`tinynet.layers.im2col`): with K = in_channels * kh * kw and M = OH * OW * N
positions, the forward ``weight (out, K) @ columns (K, M)``, the weight gradient
``columns (K, M) @ grad.T (M, out)`` and the columns' gradient ``weight.T (K, out) @
grad (out, M)``; a `Dense` layer the three of `benchmarks.nets.gemm_shapes`. The
network's first layer has no input gradient (tinynet's ``backward_params``, torch's
leaf input), so none is counted. `ConvGemmCeiling` times those products alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.loops import products_seconds
from benchmarks.nets import MODELS
from tinynet.containers import Sequential
from tinynet.layers import Conv2d, Dense
from tinynet.layers.base import Layer
from tinynet.modelfile import ModelFile, load_model_file
from tinynet.typing import FloatArray, Shape

CNN_MODELS = ("lenet5", "mnist_cnn")
"""The model files (in models/) the CNN section measures."""


def cnn_model_files() -> list[ModelFile]:
    """models/lenet5.py and models/mnist_cnn.py, loaded."""
    return [load_model_file(MODELS / f"{name}.py") for name in CNN_MODELS]


@dataclass(frozen=True)
class Product:
    """One matrix product of a step: ``(m, k) @ (k, n)``. ``transposed_a`` says that the
    left operand is read as the transpose of a stored (k, m) array (``weight.T``,
    ``x.T``), ``transposed_b`` the same of the right one (``grad.T``), as the layers
    read them."""

    layer: str
    kind: str
    m: int
    k: int
    n: int
    transposed_a: bool = False
    transposed_b: bool = False

    @property
    def flops(self) -> int:
        """2 m k n."""
        return 2 * self.m * self.k * self.n


def step_products(model: Layer, input_shape: Shape, batch: int) -> list[Product]:
    """Every matrix product of one training step of ``model`` (a flat `Sequential`) on
    ``batch`` samples of ``input_shape``, in forward order, then backward order."""
    if not isinstance(model, Sequential):
        raise TypeError(f"benchmarks: expected a flat tinynet Sequential, got {model!r}")
    shapes = layer_input_shapes(model, input_shape)
    forward: list[Product] = []
    backward: list[Product] = []
    first = True
    for i, (layer, shape) in enumerate(zip(model, shapes, strict=True)):
        name = f"({i}) {type(layer).__name__}"
        if isinstance(layer, Conv2d):
            oh, ow = layer.window.output_size(shape[1], shape[2])
            k, m, out = layer.weight.data[0].size, oh * ow * batch, layer.out_channels
            forward.append(Product(name, "forward", out, k, m))
            grads = [Product(name, "weight gradient", k, m, out, transposed_b=True)]
            if not first:
                grads.append(Product(name, "input gradient", k, out, m, transposed_a=True))
        elif isinstance(layer, Dense):
            fan_in, fan_out = layer.in_features, layer.out_features
            forward.append(Product(name, "forward", batch, fan_in, fan_out))
            grads = [Product(name, "weight gradient", fan_in, batch, fan_out, transposed_a=True)]
            if not first:
                grads.append(
                    Product(name, "input gradient", batch, fan_out, fan_in, transposed_b=True)
                )
        else:
            continue
        backward = grads + backward
        first = False
    return forward + backward


def layer_input_shapes(model: Sequential, input_shape: Shape) -> list[Shape]:
    """One sample's shape as each layer of ``model`` receives it (one zero sample run
    through in inference mode; the modes are restored)."""
    modes = [(layer, layer.training) for layer in model.modules()]
    model.eval()
    try:
        x = np.zeros((1, *input_shape), model.dtype)
        shapes = []
        for layer in model:
            shapes.append(tuple(x.shape[1:]))
            x = layer.forward(x)
    finally:
        for layer, mode in modes:
            layer.training = mode
    return shapes


def step_flops(products: list[Product]) -> int:
    """The FLOPs of those products (2 m k n each)."""
    return sum(p.flops for p in products)


class ConvGemmCeiling:
    """The matrix products of one training step alone, ``np.matmul(a, b, out=c)`` on
    preallocated float operands of the same shapes, layouts and BLAS threads (no
    im2col, col2im, pooling, normalization, loss or optimizer). A step can be no
    faster than this."""

    def __init__(self, products: list[Product], dtype: str, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)

        def operand(rows: int, cols: int) -> FloatArray:
            return (rng.standard_normal((rows, cols)) * 0.1).astype(dtype)

        self.operands: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        for p in products:
            a = operand(p.k, p.m).T if p.transposed_a else operand(p.m, p.k)
            b = operand(p.n, p.k).T if p.transposed_b else operand(p.k, p.n)
            self.operands.append((a, b, np.empty((p.m, p.n), dtype)))

    def steps(self, n: int) -> float:
        """Run ``n`` steps' worth of products; return their seconds."""
        return products_seconds(self.operands, n)
