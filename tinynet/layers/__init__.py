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
from tinynet.layers.adaptive import AdaptiveAvgPool2d
from tinynet.layers.attention import MultiheadAttention
from tinynet.layers.base import Layer
from tinynet.layers.conv import Conv1d, Conv2d
from tinynet.layers.dense import Dense
from tinynet.layers.embedding import Embedding, PositionalEmbedding
from tinynet.layers.layernorm import LayerNorm
from tinynet.layers.normalization import BatchNorm1d, BatchNorm2d, Normalization
from tinynet.layers.pooling import AvgPool2d, MaxPool2d
from tinynet.layers.recurrent import GRU, LSTM, RNN
from tinynet.layers.regularization import Dropout
from tinynet.layers.reshape import Flatten, Reshape, Unflatten

__all__ = [
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "Layer",
    "LayerNorm",
    "LeakyReLU",
    "MaxPool2d",
    "MultiheadAttention",
    "Normalization",
    "PositionalEmbedding",
    "ReLU",
    "Reshape",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Swish",
    "Tanh",
    "Unflatten",
]
