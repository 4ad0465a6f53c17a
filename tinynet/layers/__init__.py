"""Layers: the `Layer` base class and the built-in layers."""

from tinynet.layers.activations import (
    Activation,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from tinynet.layers.base import Layer
from tinynet.layers.dense import Dense
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
