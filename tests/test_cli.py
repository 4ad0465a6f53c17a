"""The tinynet command: train, save, evaluate, predict, resume, summary, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinynet.cli import main
from tinynet.datasets import load_mnist

ROOT = Path(__file__).resolve().parents[1]
MODEL = str(ROOT / "models" / "mnist_mlp.py")


@pytest.fixture(scope="module")
def small_mnist(mnist_subset: Callable[[int, int], Path]) -> Path:
    """1,000 training and 200 test images of real MNIST, as IDX files in a folder."""
    return mnist_subset(1000, 200)


def test_train_save_evaluate_predict(
    tmp_path: Path, small_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics_path, weights = tmp_path / "m.json", tmp_path / "w.npz"
    status = main(
        [
            "train",
            MODEL,
            "--data",
            str(small_mnist),
            "--epochs",
            "3",
            "--seed",
            "1",
            "--verbose",
            "0",
            "--save",
            str(weights),
            "--metrics-json",
            str(metrics_path),
        ]
    )
    assert status == 0
    metrics = json.loads(metrics_path.read_text())
    for key in (
        "test_accuracy",
        "test_loss",
        "epochs",
        "train_seconds",
        "train_samples_per_second",
        "seed",
        "parameters",
    ):
        assert key in metrics, key
    assert metrics["epochs"] == 3
    assert metrics["seed"] == 1
    assert metrics["parameters"] == 109_386
    assert 0.7 < metrics["test_accuracy"] <= 1.0  # 1,000 images, 3 epochs: well above chance
    printed = capsys.readouterr().out
    assert f"test accuracy {100 * metrics['test_accuracy']:.2f}%" in printed

    assert main(["evaluate", MODEL, "--weights", str(weights), "--data", str(small_mnist)]) == 0
    assert f"accuracy {100 * metrics['test_accuracy']:.2f}%" in capsys.readouterr().out

    _, (x_test, _) = load_mnist(flatten=False)
    batch = tmp_path / "digits.npy"
    np.save(batch, x_test[:5])
    assert main(["predict", str(weights), str(batch)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert lines[0].startswith(f"{batch}[0]: ")


def test_resume_from_a_checkpoint_matches_the_straight_run(
    tmp_path: Path, small_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = [MODEL, "--data", str(small_mnist), "--verbose", "0", "--seed", "3", "--epochs", "3"]
    straight, resumed = tmp_path / "a.json", tmp_path / "b.json"
    every_epoch = str(tmp_path / "ckpt-{epoch}.npz")  # keeps each epoch's checkpoint
    assert (
        main(["train", *common, "--checkpoint", every_epoch, "--metrics-json", str(straight)]) == 0
    )
    # as if the run had crashed after epoch 2: continue from that checkpoint
    ckpt = tmp_path / "ckpt-2.npz"
    assert main(["train", *common, "--resume", str(ckpt), "--metrics-json", str(resumed)]) == 0
    a, b = json.loads(straight.read_text()), json.loads(resumed.read_text())
    assert a["test_loss"] == b["test_loss"]
    assert a["history"]["loss"] == b["history"]["loss"]
    # resuming it as another run is refused, naming only what differs
    other = [arg if arg != "3" else "4" for arg in common]  # seed 4 and 4 epochs
    assert main(["train", *other, "--resume", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "was written by a different run: recipe.epochs: 3 there, 4 here; seed: 3 there" in err
    assert "optimizer_args" not in err  # not two whole recipes
    # and so is holding out a validation split the checkpointed run trained on
    assert main(["train", *common, "--resume", str(ckpt), "--validation-split", "0.1"]) == 2
    assert "validation_split: 0.0 there, 0.1 here" in capsys.readouterr().err
    # an unfinished run cannot change its epoch count
    first = tmp_path / "ckpt-1.npz"
    assert main(["train", *common[:-1], "5", "--resume", str(first)]) == 2
    assert "stopped after 1 of its 3 epochs: resume it with --epochs 3" in capsys.readouterr().err


CONSTANT = """
from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe
def build(seed):
    return Sequential(Dense(784, 32, seed=seed), ReLU(), Dense(32, 10, seed=seed + 1))
RECIPE = Recipe(optimizer="adam", optimizer_args={"lr": 0.003}, epochs=2, batch_size=100)
"""


def test_resume_with_more_epochs_extends_a_finished_run(
    tmp_path: Path, small_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "constant.py"
    model.write_text(CONSTANT)  # a constant learning rate: extending changes no schedule
    common = ["train", str(model), "--data", str(small_mnist), "--verbose", "0"]
    straight, extended, ckpt = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "ck.npz"
    assert main([*common, "--epochs", "3", "--metrics-json", str(straight)]) == 0
    assert main([*common, "--checkpoint", str(ckpt)]) == 0  # the recipe's 2 epochs
    assert (
        main([*common, "--epochs", "3", "--resume", str(ckpt), "--metrics-json", str(extended)])
        == 0
    )
    assert "extending the finished 2-epoch run" in capsys.readouterr().out
    a, b = json.loads(straight.read_text()), json.loads(extended.read_text())
    assert b["epochs"] == 3
    assert a["history"]["loss"] == b["history"]["loss"]  # bit for bit the 3-epoch run
    assert a["test_loss"] == b["test_loss"]
    assert main([*common, "--epochs", "2", "--resume", str(ckpt)]) == 2
    assert "already did 3 epochs; --epochs 2 adds none" in capsys.readouterr().err


def test_summary_and_user_model_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", MODEL]) == 0
    assert "Total params: 109,386" in capsys.readouterr().out
    user = tmp_path / "mine.py"
    user.write_text(
        "from tinynet import Dense, Sequential, Tanh\n"
        "from tinynet.recipe import Recipe\n"
        "def build(seed):\n"
        "    return Sequential(Dense(784, 10, seed=seed), Tanh(), Dense(10, 10, seed=seed))\n"
        "RECIPE = Recipe(optimizer='sgd', optimizer_args={'lr': 0.1}, epochs=1)\n"
    )
    assert main(["summary", str(user)]) == 0
    assert "Total params: 7,960" in capsys.readouterr().out


def test_errors_are_one_line_and_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", str(tmp_path / "missing.py")]) == 2
    assert "model file not found" in capsys.readouterr().err
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\n")
    assert main(["train", str(bad)]) == 2
    assert "build(seed" in capsys.readouterr().err
    assert main(["train", MODEL, "--data", str(tmp_path)]) == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tinynet", "--version"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "0.1.0"


SMALL = """
from tinynet import Dense
from tinynet.recipe import Recipe
def build(seed):
    return Dense(784, 10, seed=seed)
RECIPE = Recipe(optimizer_args={{"lr": {lr}}}, batch_size={batch_size}, epochs=2)
"""


def test_batch_size_and_lr_override_the_recipe_and_are_recorded(
    tmp_path: Path, small_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tinynet.io import load_full

    (tmp_path / "a.py").write_text(SMALL.format(lr=0.01, batch_size=32))
    (tmp_path / "b.py").write_text(SMALL.format(lr=0.002, batch_size=50))
    common = ["--data", str(small_mnist), "--verbose", "0", "--seed", "0"]
    a, b, ckpt = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "ck.npz"
    overrides = ["--batch-size", "50", "--lr", "0.002", "--checkpoint", str(ckpt)]
    assert (
        main(["train", str(tmp_path / "a.py"), *common, *overrides, "--metrics-json", str(a)]) == 0
    )
    assert main(["train", str(tmp_path / "b.py"), *common, "--metrics-json", str(b)]) == 0
    used, wanted = json.loads(a.read_text()), json.loads(b.read_text())
    assert used["history"]["loss"] == wanted["history"]["loss"]  # trained as b.py's recipe
    for recipe in (used["recipe"], load_full(ckpt).metadata["recipe"]):
        assert recipe["batch_size"] == 50
        assert recipe["optimizer_args"] == {"lr": 0.002}
    capsys.readouterr()
    for option, value in (("--batch-size", "0"), ("--batch-size", "2.5"), ("--lr", "inf")):
        with pytest.raises(SystemExit):
            main(["train", str(tmp_path / "a.py"), option, value])
        assert f"argument {option}: " in (err := capsys.readouterr().err)
        assert repr(value) in err
