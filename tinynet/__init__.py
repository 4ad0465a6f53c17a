"""tinynet: a small, typed, fast neural-network framework in NumPy.

>>> import numpy as np
>>> from tinynet import Sequential, Dense, ReLU, CrossEntropyLoss
>>> from tinynet.optim import Adam
>>> rng = np.random.default_rng(0)
>>> model = Sequential(Dense(784, 128, rng=rng), ReLU(), Dense(128, 10, rng=rng))
>>> loss, opt = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)
>>> x, y = rng.random((32, 784), dtype=np.float32), rng.integers(0, 10, 32)
>>> value = loss.forward(model(x), y)
>>> grad_x = model.backward(loss.backward()); opt.step(); opt.zero_grad()
"""

from tinynet import threads  # first: it chooses BLAS threads before NumPy loads

# isort: split
from tinynet import functional, init, io, optim, validation
from tinynet.containers import Concat, Parallel, Residual, Sequential
from tinynet.gradcheck import GradcheckError, gradcheck
from tinynet.init import manual_seed
from tinynet.io import load, save
from tinynet.layers import (
    GELU,
    GRU,
    LSTM,
    RNN,
    Activation,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
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
    Normalization,
    PositionalEmbedding,
    ReLU,
    Reshape,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
    Unflatten,
    register_layer,
)
from tinynet.losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from tinynet.parameter import Parameter
from tinynet.sequence import gpt_block
from tinynet.version import __version__

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Concat",
    "Conv1d",
    "Conv2d",
    "CrossEntropyLoss",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GradcheckError",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "MaxPool2d",
    "MultiheadAttention",
    "Normalization",
    "Parallel",
    "Parameter",
    "PositionalEmbedding",
    "ReLU",
    "Reshape",
    "Residual",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Swish",
    "Tanh",
    "Unflatten",
    "__version__",
    "functional",
    "gpt_block",
    "gradcheck",
    "init",
    "io",
    "load",
    "manual_seed",
    "optim",
    "register_layer",
    "save",
    "threads",
    "validation",
]
