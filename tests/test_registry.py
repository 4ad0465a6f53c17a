"""tinynet.registry: how saved files name layer classes."""

from __future__ import annotations

import pytest

import tinynet
from tinynet import Dense, Layer, ReLU, Sequential
from tinynet.registry import UnknownLayerError, layer_class, layer_name, registered_layers
from tinynet.typing import FloatArray


class Identity(Layer):
    def forward(self, x: FloatArray) -> FloatArray:
        return x

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y


def test_builtins_are_registered_under_their_class_names() -> None:
    layers = registered_layers()
    for cls in (Dense, ReLU, Sequential, tinynet.Dropout, tinynet.Flatten, tinynet.Softmax):
        assert layers[cls.__name__] is cls
        assert layer_name(cls) == cls.__name__
    assert "Activation" not in layers  # abstract


def test_every_decorator_form() -> None:
    @tinynet.register_layer
    class PlainForm(Identity):
        pass

    @tinynet.register_layer()
    class CalledForm(Identity):
        pass

    @tinynet.register_layer(name="tests.registry.Named")
    class NamedForm(Identity):
        pass

    class CallForm(Identity):
        pass

    assert tinynet.register_layer(CallForm, name="tests.registry.Call") is CallForm
    assert layer_class("PlainForm") is PlainForm
    assert layer_class("CalledForm") is CalledForm
    assert layer_name(NamedForm()) == "tests.registry.Named"
    assert layer_class("tests.registry.Call") is CallForm


def test_redefinition_replaces_and_aliases_load() -> None:
    def define() -> type[Layer]:
        @tinynet.register_layer(name="tests.registry.Redefined")
        class Redefined(Identity):
            pass

        return Redefined

    first, second = define(), define()  # same module and qualified name: a notebook rerun
    assert first is not second
    assert layer_class("tests.registry.Redefined") is second
    tinynet.register_layer(second, name="tests.registry.OldName")
    assert layer_class("tests.registry.OldName") is second
    assert layer_name(second) == "tests.registry.Redefined"  # saved under its first name


def test_unknown_names_and_classes_say_how_to_register() -> None:
    with pytest.raises(UnknownLayerError, match=r"unknown layer type 'Nope'.*register_layer"):
        layer_class("Nope")
    with pytest.raises(UnknownLayerError, match=r"test_registry\.Identity is not registered"):
        layer_name(Identity)
    with pytest.raises(ValueError, match="non-empty string"):
        tinynet.register_layer(Identity, name="")
