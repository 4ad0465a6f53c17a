"""The head belongs to the model: fit records it, save/load keep it, predict reads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet import BCEWithLogitsLoss, Dense, Loss, MSELoss, ReLU, Sequential
from tinynet.heads import Head
from tinynet.inference import evaluate, predict, predict_proba
from tinynet.optim import Adam
from tinynet.train import fit
from tinynet.typing import Array, FloatArray

RNG = np.random.default_rng(0)
X = RNG.standard_normal((400, 4)).astype(np.float32)
SIGNAL = X @ np.array([1.0, -2.0, 0.5, 0.0], np.float32)


def regression() -> tuple[Array, Loss, int]:
    return (3 * SIGNAL + 1).astype(np.float32), MSELoss(), 1


def binary() -> tuple[Array, Loss, int]:
    return (SIGNAL > 0).astype(np.int64), BCEWithLogitsLoss(), 1


def multilabel() -> tuple[Array, Loss, int]:
    return np.stack([SIGNAL > 0, X[:, 3] > 0], axis=1).astype(np.int64), BCEWithLogitsLoss(), 2


def trained(task: str) -> tuple[Sequential, Array]:
    y, loss, outputs = {"regression": regression, "binary": binary, "multilabel": multilabel}[
        task
    ]()
    model = Sequential(Dense(4, 16, seed=1), ReLU(), Dense(16, outputs, seed=2))
    fit(
        model,
        X,
        y,
        loss=loss,
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=30,
        batch_size=32,
        seed=0,
        verbose=0,
    )
    return model, y


def check_answers(task: str, model: tinynet.Layer, y: Array) -> None:
    """Right answers with no loss= given: each check fails if the head were guessed."""
    predictions = predict(model, X)
    scores = evaluate(model, X, y)
    if task == "regression":
        assert predictions.dtype == np.float32
        assert predictions.shape == (400,)
        assert scores["r2"] > 0.95  # a label guess (0/1 ints) scores far below 0
        with pytest.raises(ValueError, match="regression"):
            predict_proba(model, X)
    elif task == "binary":
        assert predictions.dtype == np.int64
        assert predictions.shape == (400,)
        assert scores["accuracy"] > 0.95
        np.testing.assert_array_equal(predictions, predict_proba(model, X)[:, 0] > 0.5)
    else:
        assert predictions.shape == (400, 2)  # 0/1 per label, not one argmax class
        assert set(np.unique(predictions)) <= {0, 1}
        assert np.mean(predictions == y) > 0.95
        assert scores["accuracy"] == pytest.approx(np.mean(np.all(predictions == y, axis=1)))


@pytest.mark.parametrize("task", ["regression", "binary", "multilabel"])
def test_fit_records_the_head_and_predict_reads_it(task: str) -> None:
    model, y = trained(task)
    assert model.head is not None
    assert model.head.task == task
    check_answers(task, model, y)


@pytest.mark.parametrize("task", ["regression", "binary", "multilabel"])
def test_the_head_survives_save_and_load_in_a_fresh_process(task: str, tmp_path: Path) -> None:
    model, y = trained(task)
    tinynet.save(model, tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    script = (
        "import sys, numpy as np, tinynet\n"
        "from tinynet.inference import predict\n"
        "model = tinynet.load(sys.argv[1])\n"
        "print(model.head.task)\n"
        "np.save(sys.argv[2], predict(model, np.load(sys.argv[3])))\n"
    )
    out = tmp_path / "p.npy"
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m.npz"), str(out), str(tmp_path / "x.npy")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == task
    np.testing.assert_array_equal(np.load(out), predict(model, X))
    check_answers(task, tinynet.load(tmp_path / "m.npz"), y)


def test_no_head_no_guess() -> None:
    model = Sequential(Dense(4, 1, seed=0))
    with pytest.raises(ValueError, match=r"predict: the model has no head.*loss="):
        predict(model, X)
    assert evaluate(model, X, np.zeros(400, np.float32)) == {}  # nothing to score by
    assert predict(model, X, loss=MSELoss()).dtype == np.float32  # loss= overrides


def test_a_loss_given_overrides_the_recorded_head() -> None:
    model, _ = trained("binary")
    logits: FloatArray = tinynet.inference.forward_in_batches(model, X)
    np.testing.assert_array_equal(predict(model, X, loss=MSELoss()), logits[:, 0])


def test_a_corrupt_recorded_head_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="head: unknown task"):
        Head.from_dict({"task": "poetry", "link": None, "columns": 1})
    with pytest.raises(ValueError, match="columns must be a positive integer"):
        Head.from_dict({"task": "binary", "link": "sigmoid", "columns": True})


def test_a_probability_layer_trained_with_a_logit_loss_is_warned_about() -> None:
    y, _, _ = binary()
    for last, loss in ((tinynet.Sigmoid(), BCEWithLogitsLoss()), (tinynet.Softmax(), None)):
        outputs = 1 if loss is not None else 2
        model = Sequential(Dense(4, outputs, seed=0), last)
        chosen = loss if loss is not None else tinynet.CrossEntropyLoss()
        with pytest.warns(UserWarning, match=r"ends in (sigmoid|softmax).*double activation"):
            fit(model, X, y, loss=chosen, optimizer=Adam(model.parameters()), epochs=1, verbose=0)
