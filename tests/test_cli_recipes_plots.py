"""``tinynet train --recipe/--validation-split/--plot``, ``evaluate --recipe``, and
`tinynet.plots`."""

from __future__ import annotations

import json
import struct
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tinynet import plots
from tinynet.cli import main

ROOT = Path(__file__).resolve().parents[1]
NIELSEN = str(ROOT / "models" / "nielsen_30.py")
MLP_10_10 = str(ROOT / "models" / "mlp_10_10.py")
MNIST_MLP = str(ROOT / "models" / "mnist_mlp.py")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_mnist(mnist_subset: Callable[[int, int], Path]) -> Path:
    """300 training and 100 test images of real MNIST, as IDX files in a folder."""
    return mnist_subset(300, 100)


def train(data: Path, model_file: str, *args: str) -> int:
    """``tinynet train model_file --data data --verbose 0 *args`` (args may override)."""
    return main(["train", model_file, "--data", str(data), "--verbose", "0", *args])


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, from its IHDR chunk; asserts the signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def test_recipe_option_picks_the_variant_and_the_metrics_record_it(
    tmp_path: Path, tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tuned, default = tmp_path / "tuned.json", tmp_path / "default.json"
    assert (
        train(
            tiny_mnist, NIELSEN, "--recipe", "tuned", "--epochs", "1", "--metrics-json", str(tuned)
        )
        == 0
    )
    assert "recipe tuned" in capsys.readouterr().out
    metrics = json.loads(tuned.read_text())
    assert metrics["recipe_name"] == "tuned"
    assert metrics["recipe"]["optimizer"] != "sgd"  # the tuned recipe, not the original
    assert metrics["recipe"]["epochs"] == 1  # --epochs still overrides
    assert train(tiny_mnist, NIELSEN, "--epochs", "1", "--metrics-json", str(default)) == 0
    metrics = json.loads(default.read_text())
    assert metrics["recipe_name"] == "original"
    assert metrics["recipe"]["optimizer_args"] == {"lr": 15.0}
    # a file with RECIPE only has one recipe, called "default"
    assert train(tiny_mnist, MNIST_MLP, "--epochs", "1", "--metrics-json", str(default)) == 0
    assert json.loads(default.read_text())["recipe_name"] == "default"


def test_summary_names_the_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", NIELSEN]) == 0
    out = capsys.readouterr().out
    assert "Total params: 23,860" in out
    assert "Recipe (original): Recipe(" in out
    assert "Recipes (--recipe NAME): original, tuned" in out
    assert main(["summary", MNIST_MLP]) == 0
    assert "--recipe NAME" not in capsys.readouterr().out  # one recipe: nothing to choose


def test_an_unknown_recipe_is_an_error_listing_the_names(
    tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(tiny_mnist, NIELSEN, "--recipe", "fast") == 2
    err = capsys.readouterr().err
    assert "no recipe 'fast'" in err
    assert "original, tuned" in err
    assert train(tiny_mnist, MNIST_MLP, "--recipe", "tuned") == 2
    assert "its recipes are: default" in capsys.readouterr().err
    assert main(["evaluate", NIELSEN, "--weights", "w.npz", "--recipe", "nope"]) == 2
    assert "no recipe 'nope'" in capsys.readouterr().err


def test_evaluate_uses_the_chosen_recipe_loss(
    tmp_path: Path, tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w.npz"
    assert (
        train(tiny_mnist, MLP_10_10, "--recipe", "tuned", "--epochs", "1", "--save", str(weights))
        == 0
    )
    printed = capsys.readouterr().out
    common = ["evaluate", MLP_10_10, "--weights", str(weights), "--data", str(tiny_mnist)]
    assert main([*common, "--recipe", "tuned"]) == 0
    evaluated = capsys.readouterr().out
    test_loss = printed.split("(test loss ")[1].split(")")[0]
    assert f"loss {test_loss}" in evaluated


def test_validation_split_holds_out_the_last_fraction(tmp_path: Path, tiny_mnist: Path) -> None:
    out = tmp_path / "m.json"
    args = [MLP_10_10, "--recipe", "tuned", "--epochs", "2", "--validation-split", "0.2"]
    assert train(tiny_mnist, *args, "--metrics-json", str(out)) == 0
    metrics = json.loads(out.read_text())
    assert metrics["validation_split"] == 0.2
    assert len(metrics["history"]["val_accuracy"]) == 2
    assert "test_accuracy" not in metrics["history"]
    # 240 of the 300 images trained on: samples/s counts those
    seconds = metrics["train_seconds"]
    assert metrics["train_samples_per_second"] == pytest.approx(2 * 240 / seconds)


def test_plot_writes_three_readable_pngs(
    tmp_path: Path, tiny_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, out = tmp_path / "pictures", tmp_path / "m.json"
    args = [NIELSEN, "--recipe", "tuned", "--epochs", "2", "--plot", str(folder), "--verbose", "2"]
    assert train(tiny_mnist, *args, "--metrics-json", str(out)) == 0
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["confusion_matrix.png", "curves.png", "most_wrong.png"]
    captured = capsys.readouterr()
    printed = captured.out
    epoch_lines = [line for line in captured.err.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2
    assert all("test_accuracy" in line and "val_" not in line for line in epoch_lines)
    for name in names:
        path = folder / name
        assert path.stat().st_size > 10_000, name  # a drawn figure, not an empty canvas
        width, height = png_size(path)
        assert 400 <= width <= 2000, (name, width)
        assert 200 <= height <= 2000, (name, height)
        assert f"wrote {path}" in printed
    # without --validation-split the curves monitor the test set, and say so
    history = json.loads(out.read_text())["history"]
    assert len(history["test_accuracy"]) == 2
    assert not any(key.startswith("val_") for key in history)


def test_plot_without_matplotlib_fails_before_training(
    tmp_path: Path,
    tiny_mnist: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"tinynet-nn\[plot\]"):
        plots.require_matplotlib()
    assert train(tiny_mnist, NIELSEN, "--plot", str(tmp_path / "p")) == 2
    captured = capsys.readouterr()
    assert "pip install" in captured.err
    assert "training" not in captured.out  # nothing was trained
    assert not (tmp_path / "p").exists()


def test_most_wrong_ranks_mistakes_by_confidence() -> None:
    # predictions: 1 (p .9, true 0: wrong), 0 (right), 2 (p .6, true 1: wrong), 1 (p .99, true 2)
    scores = np.array([[0.05, 0.9, 0.05], [0.8, 0.1, 0.1], [0.2, 0.2, 0.6], [0.0, 0.99, 0.01]])
    y_true = np.array([0, 0, 1, 2])
    np.testing.assert_array_equal(plots.most_wrong(y_true, scores, 10), [3, 0, 2])
    np.testing.assert_array_equal(plots.most_wrong(y_true, scores, 1), [3])
    assert plots.most_wrong(np.array([1, 0]), scores[:2], 5).size == 0  # both right


def test_mistake_titles_never_round_a_probability_to_one_or_zero() -> None:
    texts = [plots._score_text(p) for p in (0.9999, 0.995, 0.5, 0.004, 0.0)]
    assert texts == [">0.99", ">0.99", "=0.50", "<0.01", "<0.01"]
    assert plots._score_text(3.25) == "=3.25"  # a raw output, not a probability


def test_plot_functions_edge_cases(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    images = rng.random((6, 784), dtype=np.float32)
    y = np.arange(6) % 3
    perfect = np.eye(3, dtype=np.float32)[y]
    # no mistakes, empty history: still a picture, no error
    plots.plot_most_wrong(images, y, perfect, tmp_path / "none.png")
    plots.plot_history({}, tmp_path / "empty.png")
    for name in ("none.png", "empty.png"):
        assert png_size(tmp_path / name)[0] > 0
    with pytest.raises(ValueError, match="labels go up to 2 but 2 class names"):
        plots.plot_confusion_matrix(y, y, tmp_path / "c.png", class_names=["a", "b"])
    with pytest.raises(ValueError, match="as a square"):
        plots.plot_most_wrong(images[:, :780], y, perfect[::-1], tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()  # nothing half-written
