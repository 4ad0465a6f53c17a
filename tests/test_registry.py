"""tinynet.registry: how saved files name classes; layers register themselves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tinynet
from tinynet import Dense, Layer, ReLU, Sequential
from tinynet.layers.base import LAYERS
from tinynet.layers.config import constructor_config
from tinynet.registry import Registry, UnknownNameError
from tinynet.typing import FloatArray


class Scale(Layer):
    """A custom layer written as a PyTorch user writes one: no decorator, no config()."""

    def __init__(self, n: int, factor: float = 2.0, *, label: str = "s") -> None:
        super().__init__()
        self.n, self.factor, self.label = n, factor, label

    def forward(self, x: FloatArray) -> FloatArray:
        return x * self.factor

    def backward(self, grad_y: FloatArray) -> FloatArray:
        return grad_y * self.factor


def test_builtins_are_registered_under_their_class_names() -> None:
    for cls in (Dense, ReLU, Sequential, tinynet.Dropout, tinynet.Flatten, tinynet.Softmax):
        assert LAYERS.get(cls.__name__) is cls
        assert LAYERS.name_of(cls) == cls.__name__


def test_a_subclass_registers_itself_by_module_and_qualified_name() -> None:
    assert LAYERS.name_of(Scale) == f"{__name__}.Scale"
    assert LAYERS.get(f"{__name__}.Scale") is Scale


def test_config_is_read_from_the_constructor_and_same_named_attributes() -> None:
    assert Scale(3).config() == {"n": 3}  # defaults left out: they rebuild themselves
    assert Scale(3, 0.5, label="t").config() == {"n": 3, "factor": 0.5, "label": "t"}
    rebuilt = Scale.from_config(Scale(4, 3.0).config(), [])
    assert (rebuilt.n, rebuilt.factor) == (4, 3.0)


def test_a_required_argument_not_kept_is_named() -> None:
    class Forgets(Scale):
        def __init__(self, size: int) -> None:
            super().__init__(size)

    with pytest.raises(TypeError, match=r"Forgets: cannot tell its argument 'size'.*self\.size"):
        constructor_config(Forgets(3))


def test_a_kept_value_that_is_not_json_is_named() -> None:
    class Holds(Layer):
        def __init__(self, table: object = None) -> None:
            super().__init__()
            self.table = table

        def forward(self, x: FloatArray) -> FloatArray:
            return x

        def backward(self, grad_y: FloatArray) -> FloatArray:
            return grad_y

    assert Holds().config() == {}
    assert Holds((1, 2)).config() == {"table": [1, 2]}
    with pytest.raises(TypeError, match=r"argument 'table' is .*not a JSON value"):
        Holds(np.zeros(2)).config()


def test_an_explicit_config_still_wins() -> None:
    class Explicit(Scale):
        def config(self) -> dict[str, Any]:
            return {"n": self.n * 10}

    assert Explicit(2).config() == {"n": 20}


def test_register_layer_chooses_the_saved_name_and_keeps_the_default() -> None:
    @tinynet.register_layer(name="tests.registry.Named")
    class Named(Scale):
        pass

    assert LAYERS.name_of(Named) == "tests.registry.Named"
    assert LAYERS.get("tests.registry.Named") is Named
    assert LAYERS.get(f"{__name__}.{Named.__qualname__}") is Named
    assert tinynet.register_layer(Named) is Named  # bare form: already registered


def test_two_classes_claiming_one_name_is_an_error_naming_both() -> None:
    class Other(Scale):
        pass

    with pytest.raises(ValueError, match=r"claim the name 'Dense': tinynet\.layers\.dense\.Dense"):
        tinynet.register_layer(Other, name="Dense")
    with pytest.raises(TypeError, match="expected a Layer subclass"):
        tinynet.register_layer(int)  # type: ignore[type-var]


def test_a_redefinition_replaces_the_old_class() -> None:
    def define() -> type[Layer]:
        class Again(Scale):
            pass

        return Again

    first, second = define(), define()
    assert LAYERS.get(LAYERS.name_of(second)) is second
    assert LAYERS.name_of(first) == LAYERS.name_of(second)  # an old instance still saves


def test_unknown_names_say_how_to_register() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown layer type 'Nope'.*--import"):
        LAYERS.get("Nope")
    registry: Registry[object] = Registry("thing")
    with pytest.raises(UnknownNameError, match=r"thing class builtins\.int is not registered"):
        registry.name_of(int)
    with pytest.raises(ValueError, match="non-empty string"):
        registry.add(int, "")


def test_a_custom_layer_round_trips_through_save_and_load(tmp_path: Any) -> None:
    model = Sequential(Dense(3, 3, seed=0), Scale(3, 0.5), ReLU())
    path = tmp_path / "m.npz"
    tinynet.save(model, path)
    loaded = tinynet.load(path)
    assert isinstance(loaded[1], Scale)
    assert loaded[1].factor == 0.5
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(loaded(x), model(x))
