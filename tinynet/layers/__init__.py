"""Layers: the `Layer` base class and the built-in layers."""

from tinynet.layers.activations import (
    GELU,
    Activation,
    LeakyReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Swish,
    Tanh,
)
from tinynet.layers.base import Layer
from tinynet.layers.dense import Dense
from tinynet.layers.normalization import BatchNorm1d
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten

__all__ = [
    "GELU",
    "Activation",
    "BatchNorm1d",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Swish",
    "Tanh",
]
