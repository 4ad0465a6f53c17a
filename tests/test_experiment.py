"""What ``tinynet train``, ``evaluate`` and ``predict`` do, called from Python: the
library the command line dispatches to (`tinynet.experiment`, `tinynet.prediction`,
`TestSetMonitor`, `require_same_run`, `save_run_plots`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet import Dense, ReLU, Sequential, Sigmoid
from tinynet.callbacks import TestSetMonitor
from tinynet.checkpoint import ModelCheckpoint, require_same_run, settings_difference
from tinynet.cli import main
from tinynet.datasets import load_idx_folder
from tinynet.experiment import (
    RunOptions,
    class_scores,
    evaluate_model_file,
    train_model_file,
)
from tinynet.heads import head_for
from tinynet.inference import evaluate, forward_in_batches
from tinynet.losses import CrossEntropyLoss
from tinynet.optim import Adam
from tinynet.prediction import Inputs, answers, predict_inputs, read_inputs
from tinynet.recipe import Recipe
from tinynet.train import fit

MODEL = """
from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe


def build(seed):
    return Sequential(Dense(784, 16, seed=seed), ReLU(), Dense(16, 10, seed=seed + 1))


RECIPE = Recipe(epochs=2, batch_size=50)
"""


@pytest.fixture(scope="module")
def data(mnist_subset: Callable[[int, int], Path]) -> Path:
    return mnist_subset(200, 50)


def test_train_and_evaluate_a_model_file_from_python(tmp_path: Path, data: Path) -> None:
    (tmp_path / "small.py").write_text(MODEL)
    lines: list[str] = []
    options = RunOptions(data=str(data), epochs=1, verbose=0, save=str(tmp_path / "s.npz"))
    metrics = train_model_file(tmp_path / "small.py", options, lines.append)
    assert metrics["epochs"] == 1
    assert metrics["recipe"]["epochs"] == 1  # the option replaced the recipe's
    assert lines[0].startswith(f"tinynet {tinynet.__version__}: training small (recipe default")
    assert f"test accuracy {100 * metrics['test_accuracy']:.2f}%" in lines[1]
    assert lines[2] == f"saved the model to {tmp_path / 's.npz'}"
    said: list[str] = []
    scores = evaluate_model_file(
        tmp_path / "small.py", str(tmp_path / "s.npz"), options, said.append
    )
    assert scores == metrics["test"]
    assert said == [
        f"{tmp_path / 's.npz'} on {data} test: accuracy {100 * scores['accuracy']:.2f}%, "
        f"loss {scores['loss']:.4f}"
    ]


def test_an_unloadable_layer_is_refused_before_the_first_epoch(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "unloadable.py").write_text(
        "import numpy as np\n"
        "from tinynet import Dense, Layer, Sequential\n"
        "from tinynet.recipe import Recipe\n"
        "class Needs(Layer):\n"
        "    def __init__(self, n):\n"
        "        super().__init__()\n"
        "        self.size = n  # not kept as self.n: its config cannot be read\n"
        "    def forward(self, x):\n"
        "        return x\n"
        "    def backward(self, grad_y):\n"
        "        return grad_y\n"
        "def build(seed):\n"
        "    return Sequential(Dense(784, 10, seed=seed), Needs(3))\n"
        "RECIPE = Recipe(epochs=1)\n"
    )
    args = ["train", str(tmp_path / "unloadable.py"), "--data", str(data), "--verbose", "2"]
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == ""  # not even the start line: nothing was trained
    assert "unloadable.py: the model could not be saved: Needs: cannot tell its argument 'n'" in err
    assert "keep it as self.n" in err


def test_test_set_monitor_logs_the_test_loss_of_each_epoch() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((40, 6), dtype=np.float32), rng.integers(0, 3, 40)
    x_test, y_test = rng.random((10, 6), dtype=np.float32), rng.integers(0, 3, 10)
    model = Sequential(Dense(6, 3, seed=0))
    losses: list[float] = []
    monitor = TestSetMonitor(x_test, y_test, loss=CrossEntropyLoss(), metrics=["accuracy"])
    record = tinynet.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: losses.append(
            evaluate(model, x_test, y_test, loss=CrossEntropyLoss())["loss"]
        )
    )
    history = fit(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=0.05),
        epochs=3,
        batch_size=8,
        seed=0,
        verbose=0,
        callbacks=[monitor, record],
    )
    assert history["test_loss"] == losses
    assert len(history["test_accuracy"]) == 3
    assert "val_loss" not in history.history


def test_require_same_run_names_what_differs_and_notes_an_extension(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 4), dtype=np.float32), rng.integers(0, 2, 16)
    settings = {"recipe": {"epochs": 2}, "seed": 0}
    path = tmp_path / "ck.npz"
    Recipe(epochs=2, batch_size=8).fit(
        Sequential(Dense(4, 2, seed=0)),
        x,
        y,
        verbose=0,
        callbacks=[ModelCheckpoint(path, metadata=settings)],
    )
    assert require_same_run(path, settings) is None
    note = require_same_run(path, {"recipe": {"epochs": 5}, "seed": 0})
    assert note == (
        f"extending the finished 2-epoch run in {path} to 5 epochs (a schedule continues "
        f"as that of a 5-epoch run would)"
    )
    with pytest.raises(ValueError, match=r"different run: seed: 0 there, 1 here"):
        require_same_run(path, {"recipe": {"epochs": 2}, "seed": 1})
    with pytest.raises(ValueError, match="already did 2 epochs"):
        require_same_run(path, {"recipe": {"epochs": 1}, "seed": 0})


def test_settings_difference_abridges_long_values() -> None:
    """d19 i: a checkpoint whose recipe held a 5 MB string gave a 5 MB "one-line" error."""
    saved = {"recipe": {"loss": "x" * 5_000_000, "metrics": list(range(1000))}}
    here = {"recipe": {"loss": "mse", "metrics": [0]}}
    loss, metrics = settings_difference(saved, here)
    assert loss == f'recipe.loss: "{"x" * 76}... there, "mse" here'
    assert metrics == f"recipe.metrics: {json.dumps(list(range(1000)))[:77]}... there, [0] here"


def test_answers_read_outputs_by_the_head_of_each_task() -> None:
    logits = np.array([[0.0, 2.0], [3.0, -1.0]], np.float32)
    multiclass = answers(Sequential(Dense(2, 2)), logits, "cross_entropy")
    assert multiclass.predictions.tolist() == [1, 0]
    assert multiclass.probabilities is not None
    np.testing.assert_allclose(multiclass.probabilities.sum(axis=1), 1.0, rtol=1e-6)
    regression = answers(Sequential(Dense(2, 2)), logits, "mse")
    assert regression.probabilities is None
    np.testing.assert_array_equal(regression.predictions, logits)
    binary = answers(Sequential(Dense(2, 1)), logits[:, :1] - 1, "bce_with_logits")
    assert binary.predictions.tolist() == [0, 1]  # logit > 0
    with pytest.raises(ValueError, match=r"m\.npz: the model's outputs have shape \(2, 1\)"):
        answers(Sequential(Dense(2, 2)), logits.reshape(2, 2, 1), None, "m.npz")


def test_predict_inputs_lays_images_out_for_the_model_and_checks_the_trained_shape(
    data: Path,
) -> None:
    images = load_idx_folder(data, flatten=False)[1][0][:4]  # (4, 28, 28)
    model = Sequential(Dense(784, 10, seed=0))
    found = predict_inputs(model, Inputs(images, ["a", "b", "c", "d"], True), loss="cross_entropy")
    expected = forward_in_batches(model, images.reshape(4, 784)).argmax(axis=1)
    np.testing.assert_array_equal(found.predictions, expected)
    with pytest.raises(ValueError, match=r"w\.npz was trained on samples of shape \(8, 8\)"):
        predict_inputs(
            model, Inputs(images, list("abcd"), True), trained_shape=[8, 8], source="w.npz"
        )


def test_read_inputs_names_each_sample_and_refuses_mixed_kinds(tmp_path: Path) -> None:
    np.save(tmp_path / "b.npy", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "t.csv").write_text("a,b\n1,2\n")
    inputs = read_inputs([tmp_path / "b.npy"])
    assert inputs.sources == [f"{tmp_path / 'b.npy'}[0]", f"{tmp_path / 'b.npy'}[1]"]
    assert inputs.images
    assert inputs.x.shape == (2, 28, 28)
    with pytest.raises(ValueError, match="images or tables, not both"):
        read_inputs([tmp_path / "b.npy", tmp_path / "t.csv"])


def test_class_scores_give_a_binary_head_two_columns() -> None:
    model = Sequential(Dense(3, 1, seed=0), Sigmoid())
    x = np.random.default_rng(0).random((5, 3), dtype=np.float32)
    scores = class_scores(model, x, head_for(model, "bce_with_logits", 1))
    p = forward_in_batches(model, x)[:, 0]
    np.testing.assert_allclose(scores, np.stack([1 - p, p], axis=1), rtol=1e-6)
    regression = Sequential(Dense(3, 1, seed=0), ReLU())
    with pytest.raises(ValueError, match="a regression head gives no class probabilities"):
        class_scores(regression, x, head_for(regression, "mse", 1))


def test_train_metrics_json_matches_what_train_model_file_returns(
    tmp_path: Path, data: Path
) -> None:
    (tmp_path / "small.py").write_text(MODEL)
    path = tmp_path / "m.json"
    options = RunOptions(data=str(data), epochs=1, verbose=0, metrics_json=str(path))
    metrics = train_model_file(tmp_path / "small.py", options, lambda _: None)
    assert json.loads(path.read_text())["test"] == metrics["test"]


def test_save_run_plots_draws_what_it_is_given(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from tinynet.plots import save_run_plots

    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.75]}
    assert save_run_plots(tmp_path / "a", history=history) == [tmp_path / "a" / "curves.png"]
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    paths = save_run_plots(
        tmp_path / "b", history=history, y_true=np.array([0, 1, 1]), scores=scores
    )
    assert [p.name for p in paths] == ["curves.png", "confusion_matrix.png"]
    assert all(p.stat().st_size > 0 for p in paths)
