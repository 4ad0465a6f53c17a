"""A model that could not be saved or loaded back is refused before the work is done
(`check_savable`); a checkpoint resumes into the live model and optimizer (`load_states`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tinynet.io.native
from tinynet import Dense, Layer, Parameter, ReLU, Sequential
from tinynet.callbacks import Callback, Run
from tinynet.checkpoint import BackupAndRestore, CheckpointError, ModelCheckpoint
from tinynet.io import load, save
from tinynet.io.native import ModelMismatchError, load_states
from tinynet.io.savable import architecture_difference, check_savable
from tinynet.layers import register_layer
from tinynet.optim import Adam
from tinynet.recipe import Recipe
from tinynet.typing import FloatArray


class Scale(Layer):
    """y = x * w, elementwise over ``n`` features; ``config()`` as its subclasses say."""

    def __init__(self, n: int = 1) -> None:
        super().__init__()
        self.n = n
        self.w = Parameter(np.full(n, 2.0, np.float32))

    def forward(self, x: FloatArray) -> FloatArray:
        self.x = x
        return x * self.w.data

    def backward(self, grad_y: FloatArray) -> FloatArray:
        self.w.grad += (grad_y * self.x).sum(axis=0)
        return grad_y * self.w.data


@register_layer(name="tests.savable.NoConfig")
class NoConfig(Scale):
    """Keeps ``n`` but its ``config()`` says nothing of it: rebuilt as ``n=1``."""

    def config(self) -> dict[str, Any]:
        return {}


@register_layer(name="tests.savable.WrongConfig")
class WrongConfig(Scale):
    def config(self) -> dict[str, Any]:
        return {"n": self.n + 1}


@register_layer(name="tests.savable.Forgets")
class Forgets(Scale):
    """``size`` without a default, not kept as ``self.size``: its config cannot be read."""

    def __init__(self, size: int) -> None:
        super().__init__(size)


@register_layer(name="tests.savable.Good")
class Good(Scale):
    def config(self) -> dict[str, Any]:
        return {"n": self.n}


def net(layer: Layer) -> Sequential:
    return Sequential(Dense(4, 3, seed=0), layer, ReLU(), Dense(3, 2, seed=1))


class CountEpochs(Callback):
    def __init__(self) -> None:
        self.epochs = 0

    def on_epoch_begin(self, run: Run) -> None:
        self.epochs += 1


def test_a_savable_model_passes_and_its_description_comes_back() -> None:
    model = net(Good(3))
    node = check_savable(model)
    assert [child["type"] for child in node["children"]] == [
        "Dense",
        "tests.savable.Good",
        "ReLU",
        "Dense",
    ]
    assert node["children"][1]["config"] == {"n": 3}


@pytest.mark.parametrize(
    ("layer", "error", "message"),
    [
        (Forgets(3), TypeError, r"Forgets: cannot tell its argument 'size'.*self\.size"),
        (
            WrongConfig(3),
            ValueError,
            r"at model\.1, the model has tests\.savable\.WrongConfig\(n=4\), its config "
            r"rebuilds tests\.savable\.WrongConfig\(n=5\)",
        ),
        (
            NoConfig(3),
            ValueError,
            r"rebuilt from its config, its '1\.w' would be of shape \(1,\) and dtype float32, "
            r"not of shape \(3,\)",
        ),
    ],
    ids=["argument-not-kept", "config-differs", "arrays-differ"],
)
def test_what_could_not_load_back_is_refused_before_the_first_epoch_and_at_save(
    tmp_path: Path, layer: Layer, error: type[Exception], message: str
) -> None:
    model = net(layer)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(error, match=message):
        check_savable(model)
    counter = CountEpochs()
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    with pytest.raises(error, match=message):
        Recipe(epochs=2, batch_size=4).fit(
            model, x, np.arange(8) % 2, verbose=0, callbacks=[counter]
        )
    assert counter.epochs == 0
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters(), strict=True))
    with pytest.raises(error, match=message):
        save(model, tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_a_model_that_passes_saves_and_loads_back(tmp_path: Path) -> None:
    model = net(Good(3))
    save(model, tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    np.testing.assert_array_equal(loaded.eval()(x), model.eval()(x))


def test_architecture_difference_names_the_first_layer_and_the_count() -> None:
    a = check_savable(net(Good(3)))
    b = check_savable(Sequential(Dense(4, 3, seed=0), Good(3), ReLU()))
    c = check_savable(net(Good(2)))
    assert architecture_difference(a, a) is None
    assert architecture_difference(a, b) == (
        "at model, the model file builds 4 layers, the weights hold 3"
    )
    assert architecture_difference(a, c, names=("A", "B")) == (
        "at model.1, A tests.savable.Good(n=3), B tests.savable.Good(n=2)"
    )


# --- resuming into the live model and optimizer ------------------------------------------


def data() -> tuple[FloatArray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((32, 4), dtype=np.float32), rng.integers(0, 2, 32)


RECIPE = Recipe(epochs=3, batch_size=8, optimizer_args={"lr": 0.05})


def test_resume_builds_no_second_model_and_matches_a_straight_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, y = data()
    straight = net(Good(3))
    RECIPE.fit(straight, x, y, verbose=0)
    first = net(Good(3))
    RECIPE.fit(first, x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "ck.npz")])

    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("resuming rebuilt a model from the file")

    monkeypatch.setattr(tinynet.io.native, "rebuild", refuse)
    monkeypatch.setattr(tinynet.io.native, "_read_optimizer", refuse)
    resumed = net(Good(3))
    RECIPE.fit(resumed, x, y, verbose=0, callbacks=[BackupAndRestore(tmp_path / "ck.npz")])
    for a, b in zip(resumed.parameters(), straight.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)


def test_load_states_reads_for_the_live_objects_and_refuses_another_model(tmp_path: Path) -> None:
    x, y = data()
    model = net(Good(3))
    optimizer = Adam(model.parameters(), lr=0.01)
    RECIPE.fit(model, x, y, epochs=1, verbose=0)
    save(model, tmp_path / "m.npz", optimizer=optimizer, metadata={"k": 1})
    fresh = net(Good(3))
    states = load_states(tmp_path / "m.npz", fresh, Adam(fresh.parameters()))
    assert states.metadata == {"k": 1}
    assert states.optimizer_class is Adam
    assert states.optimizer is not None
    assert states.optimizer["param_groups"][0]["lr"] == 0.01
    fresh.load_state_dict(states.model, strict=False)
    for a, b in zip(fresh.parameters(), model.parameters(), strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ModelMismatchError, match=r"m\.npz: .*at model\.1, this model has "):
        load_states(tmp_path / "m.npz", net(Good(2)))
    with pytest.raises(ModelMismatchError, match=r"expected shape \(4, 3\)"):
        load_states(
            tmp_path / "m.npz",
            Sequential(Dense(4, 3, seed=0), Good(3), ReLU(), Dense(3, 2)).astype(np.float16),
        )


def test_resume_refuses_a_checkpoint_of_another_model_by_where_it_differs(tmp_path: Path) -> None:
    x, y = data()
    RECIPE.fit(
        net(Good(3)), x, y, epochs=1, verbose=0, callbacks=[ModelCheckpoint(tmp_path / "c.npz")]
    )
    with pytest.raises(
        CheckpointError,
        match=r"c\.npz: the checkpoint's model does not fit this run's: at model\.1",
    ):
        RECIPE.fit(net(Good(2)), x, y, verbose=0, callbacks=[BackupAndRestore(tmp_path / "c.npz")])
