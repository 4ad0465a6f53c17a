"""Layers: the `Layer` base class, the built-in layers, and ``register_layer``."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar, overload

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
from tinynet.layers.base import LAYERS, Layer
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
    "register_layer",
]

L = TypeVar("L", bound=Layer)


@overload
def register_layer(cls: type[L], *, name: str | None = None) -> type[L]: ...


@overload
def register_layer(
    cls: None = None, *, name: str | None = None
) -> Callable[[type[L]], type[L]]: ...


def register_layer(
    cls: type[L] | None = None, *, name: str | None = None
) -> type[L] | Callable[[type[L]], type[L]]:
    """Save ``cls`` under ``name`` (its default name still loads). Every `Layer` subclass
    registers itself when defined; this only chooses the name: ``@register_layer(name=
    "mylib.Scale")``, or ``register_layer(cls, name=...)``; returns the class."""
    if cls is None:
        return lambda decorated: register_layer(decorated, name=name)
    if not (inspect.isclass(cls) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer: expected a Layer subclass, got {cls!r}")
    if name is not None:
        LAYERS.add(cls, name, primary=True)
    return cls
