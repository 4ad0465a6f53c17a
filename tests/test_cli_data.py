"""The command line on data of every form: CSV (Kaggle's and tables), .npz, custom layers
with --import, binary and regression heads, evaluate's architecture check, summary,
--help, and errors that name both sides of a mismatch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import write_image_csv

from tinynet.cli import build_parser, main
from tinynet.datasets import load_idx_folder

ROOT = Path(__file__).resolve().parents[1]
MNIST_MLP = str(ROOT / "models" / "mnist_mlp.py")

CUSTOM = '''
import numpy as np
import tinynet
from tinynet import Dense, Layer, Parameter, ReLU, Sequential, validation
from tinynet.recipe import Recipe


@tinynet.register_layer
class Gain(Layer):
    """y = x * scale, one learned factor per feature."""

    def __init__(self, features):
        super().__init__()
        self.features = features
        self.scale = Parameter(np.ones(features, np.float32))
        self._x = None

    def forward(self, x):
        validation.float_array(self, x, ndim=2, last=self.features, dtype=self.scale.dtype)
        self._x = x if self.training else None
        return x * self.scale.data

    def backward(self, grad_y):
        self.scale.grad += (grad_y * self.saved(self._x)).sum(axis=0)
        return grad_y * self.scale.data

    def config(self):
        return {"features": self.features}


def build(seed):
    return Sequential(Dense(784, 32, seed=seed), ReLU(), Gain(32), Dense(32, 10, seed=seed + 1))


RECIPE = Recipe(optimizer="adam", optimizer_args={"lr": 0.003}, epochs=2, batch_size=64)
'''


@pytest.fixture(scope="module")
def small_mnist(mnist_subset: Callable[[int, int], Path]) -> Path:
    return mnist_subset(1000, 200)


@pytest.fixture(scope="module")
def kaggle_csv(small_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """train.csv, test.csv (labeled) and unlabeled.csv of the same 1,000 + 200 images."""
    folder = tmp_path_factory.mktemp("kaggle")
    (x, y), (x_test, y_test) = load_idx_folder(small_mnist, flatten=False)
    pixels = [np.rint(a * 255).astype(np.uint8) for a in (x, x_test)]
    write_image_csv(folder / "train.csv", pixels[0], y)
    write_image_csv(folder / "test.csv", pixels[1], y_test)
    write_image_csv(folder / "unlabeled.csv", pixels[1])
    return folder


def run(*args: str) -> int:
    return main([*args])


def train(model_file: str | Path, *args: object) -> int:
    """``tinynet train MODEL_FILE --verbose 0 ARGS``."""
    return main(["train", str(model_file), "--verbose", "0", *map(str, args)])


def test_kaggle_csv_trains_as_the_idx_files_do(
    tmp_path: Path, small_mnist: Path, kaggle_csv: Path
) -> None:
    idx, csv = tmp_path / "idx.json", tmp_path / "csv.json"
    common = [MNIST_MLP, "--epochs", "2", "--verbose", "0", "--seed", "1"]
    assert run("train", *common, "--data", str(small_mnist), "--metrics-json", str(idx)) == 0
    train, test = kaggle_csv / "train.csv", kaggle_csv / "test.csv"
    args = ["--data", str(train), "--test-data", str(test), "--metrics-json", str(csv)]
    assert run("train", *common, *args) == 0
    a, b = json.loads(idx.read_text()), json.loads(csv.read_text())
    assert a["test_accuracy"] == b["test_accuracy"]  # the same bytes: the same run
    assert a["history"]["loss"] == b["history"]["loss"]


def test_unlabeled_test_csv_no_metrics_and_a_submission_file(
    tmp_path: Path, kaggle_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights, metrics = tmp_path / "w.npz", tmp_path / "m.json"
    data = ["--data", kaggle_csv / "train.csv", "--test-data", kaggle_csv / "unlabeled.csv"]
    outputs = ["--save", weights, "--metrics-json", metrics]
    assert train(MNIST_MLP, *data, "--epochs", "1", *outputs) == 0
    out = capsys.readouterr().out
    assert "the test data has no labels: no test metrics" in out
    assert json.loads(metrics.read_text())["test_accuracy"] is None
    submission = tmp_path / "submission.csv"
    assert (
        run("predict", str(weights), str(kaggle_csv / "unlabeled.csv"), "--out", str(submission))
        == 0
    )
    assert "wrote 200 predictions" in capsys.readouterr().out
    lines = submission.read_text().splitlines()
    assert lines[0] == "ImageId,Label"
    assert len(lines) == 201
    assert lines[1].startswith("1,")
    assert lines[-1].startswith("200,")
    # a labeled test CSV alone is scored as with the training CSV beside it (issue 23)
    scored = []
    for training in (["--data", str(kaggle_csv / "train.csv")], []):
        test = ["--test-data", str(kaggle_csv / "test.csv")]
        assert run("evaluate", MNIST_MLP, "--weights", str(weights), *training, *test) == 0
        scored.append(capsys.readouterr().out.split(" test: ")[1])
    assert scored[0] == scored[1]
    assert "accuracy" in scored[0]
    # the same predictions as printed for the labeled file's images
    assert run("predict", str(weights), str(kaggle_csv / "test.csv")) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1].split(" ")[0] for line in printed] == [
        line.split(",")[1] for line in lines[1:]
    ]


def tinynet_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m tinynet ARGS`` in a fresh interpreter: no layer registered beforehand."""
    return subprocess.run(
        [sys.executable, "-m", "tinynet", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=120,
    )


def test_custom_layer_trains_saves_and_loads_with_import(
    tmp_path: Path, small_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model_file, weights = tmp_path / "my_layers.py", tmp_path / "custom.npz"
    model_file.write_text(CUSTOM)
    data = ["--data", str(small_mnist)]
    assert train(model_file, *data, "--save", weights) == 0
    trained = capsys.readouterr().out
    batch = tmp_path / "digits.npy"
    np.save(batch, load_idx_folder(small_mnist, flatten=False)[1][0][:3])
    # without the layer's module, loading says how to get it
    plain = tinynet_process("predict", "custom.npz", "digits.npy", cwd=tmp_path)
    assert plain.returncode == 2
    assert "unknown layer type 'my_layers.Gain'" in plain.stderr
    assert "--import" in plain.stderr
    imported = tinynet_process(
        "predict", "--import", "my_layers.py", "custom.npz", "digits.npy", cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    assert len(imported.stdout.splitlines()) == 3
    by_name = tinynet_process(
        "predict", "--import", "my_layers", "custom.npz", "digits.npy", cwd=tmp_path
    )  # a module name, from the working directory
    assert by_name.stdout == imported.stdout, by_name.stderr
    evaluated = tinynet_process(
        "evaluate", "my_layers.py", "--weights", "custom.npz", *data, cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr
    accuracy = trained.split("test accuracy ")[1].split("%")[0]
    assert f"accuracy {accuracy}%" in evaluated.stdout
    tiny = tmp_path / "tiny.csv"  # 2x2 images, not the 28x28 the model was trained on
    write_image_csv(tiny, np.zeros((1, 2, 2), np.uint8))
    assert run("predict", str(weights), str(tiny)) == 2
    assert "trained on samples of shape (28, 28); the inputs are of shape (2, 2)" in (
        capsys.readouterr().err
    )
    assert run("summary", "--import", "json", str(model_file)) == 0
    assert "Gain(" in capsys.readouterr().out
    assert run("predict", "--import", "no_such_module_xyz", str(weights), str(batch)) == 2
    assert "--import no_such_module_xyz: No module named" in capsys.readouterr().err


def test_evaluate_refuses_weights_of_another_architecture(
    tmp_path: Path, small_mnist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = tmp_path / "w.npz"
    assert (
        train(MNIST_MLP, "--data", str(small_mnist), "--epochs", "1", "--save", str(weights)) == 0
    )
    nielsen = str(ROOT / "models" / "nielsen_30.py")
    assert run("evaluate", nielsen, "--weights", str(weights), "--data", str(small_mnist)) == 2
    err = capsys.readouterr().err
    assert (
        "does not fit nielsen_30.py's architecture: at model.0, the model file builds Dense(" in err
    )
    assert "out_features=30" in err
    assert "out_features=128" in err


def test_npz_and_a_mismatched_model_name_both_sides(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(0)
    x = rng.random((60, 8, 8)).astype(np.float32)
    np.savez(data, x_train=x, y_train=np.arange(60) % 3, x_test=x[:9], y_test=np.arange(9) % 3)
    assert train(MNIST_MLP, "--data", data) == 2
    err = capsys.readouterr().err
    assert "its samples, of shape (8, 8) (64 values), do not fit the model's first layer" in err
    assert "Dense(784, 128)" in err
    model = tmp_path / "small.py"
    model.write_text(
        "from tinynet import Dense, Sequential\n"
        "def build(seed):\n    return Sequential(Dense(64, 10, seed=seed))\n"
    )
    assert train(model, "--data", data) == 2
    err = capsys.readouterr().err
    assert "has 3 classes (labels 0..2), but the model's last layer Dense(64, 10) gives 10" in err
    model.write_text(
        "from tinynet import Dense, Sequential\nfrom tinynet.recipe import Recipe\n"
        "def build(seed):\n    return Sequential(Dense(64, 3, seed=seed))\n"
        "RECIPE = Recipe(epochs=3, batch_size=16, metrics=('accuracy', 'f1_macro'))\n"
    )
    out = tmp_path / "m.json"
    metrics_option = ["--metrics", "accuracy,top_2_accuracy"]
    assert train(model, "--data", data, "--metrics-json", out, *metrics_option) == 0
    metrics = json.loads(out.read_text())
    assert set(metrics["test"]) == {"loss", "accuracy", "top_2_accuracy"}  # --metrics wins
    assert len(metrics["history"]["top_2_accuracy"]) == 3


def test_the_scores_line_says_why_there_is_no_test_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An .npz without x_test/y_test is not helped by --test-data (it is refused for an
    .npz): the line says what the file lacks; a CSV's says which option gives one."""
    rng = np.random.default_rng(0)
    x, y = rng.random((30, 4), dtype=np.float32), np.arange(30) % 3
    np.savez(tmp_path / "train_only.npz", x_train=x, y_train=y)
    rows = "\n".join(
        ",".join(f"{v:.4f}" for v in row) + f",{c}" for row, c in zip(x, y, strict=True)
    )
    (tmp_path / "train_only.csv").write_text(f"a,b,c,d,label\n{rows}\n")
    model = tmp_path / "table.py"
    model.write_text(
        "from tinynet import Dense, Sequential\nfrom tinynet.recipe import Recipe\n"
        "def build(seed):\n    return Sequential(Dense(4, 3, seed=seed))\n"
        "RECIPE = Recipe(epochs=1, batch_size=10)\n"
    )
    assert train(model, "--data", tmp_path / "train_only.npz") == 0
    printed = capsys.readouterr().out
    assert "no test data: the .npz has no test split (add x_test and y_test to it)" in printed
    assert "--test-data" not in printed
    assert train(model, "--data", tmp_path / "train_only.csv") == 0
    assert "no test data (give --test-data for a CSV)" in capsys.readouterr().out


def binary_and_table_files(tmp_path: Path) -> tuple[Path, Path]:
    """moons.csv (x1, x2, label 0/1) and its test part; a one-logit BCE model file."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((300, 2))
    labels = (points[:, 0] * points[:, 1] > 0).astype(int)
    rows = [f"{a:.6f},{b:.6f},{c}" for (a, b), c in zip(points, labels, strict=True)]
    (tmp_path / "moons.csv").write_text("x1,x2,label\n" + "\n".join(rows[:240]) + "\n")
    (tmp_path / "moons_test.csv").write_text("x1,x2,label\n" + "\n".join(rows[240:]) + "\n")
    model = tmp_path / "binary.py"
    model.write_text(
        "from tinynet import Dense, ReLU, Sequential\nfrom tinynet.recipe import Recipe\n"
        "def build(seed):\n"
        "    return Sequential(Dense(2, 16, seed=seed), ReLU(), Dense(16, 1, seed=seed + 1))\n"
        "RECIPE = Recipe(loss='bce_with_logits', optimizer='adam', optimizer_args={'lr': 0.02},\n"
        "                epochs=30, batch_size=32, metrics=('accuracy', 'f1'))\n"
    )
    return tmp_path / "moons.csv", model


def test_binary_head_from_a_csv_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, model = binary_and_table_files(tmp_path)
    weights, out = tmp_path / "b.npz", tmp_path / "m.json"
    args = ["--data", data, "--test-data", tmp_path / "moons_test.csv"]
    outputs = ["--save", weights, "--metrics-json", out]
    assert train(model, *args, *outputs, "--class-weight", "balanced") == 0
    printed = capsys.readouterr().out
    assert "binary classification (1 output, logits, sigmoid)" in printed
    metrics = json.loads(out.read_text())
    assert metrics["task"] == "binary"
    assert metrics["test_accuracy"] > 0.85
    assert metrics["recipe"]["class_weight"] == "balanced"
    predictions = tmp_path / "p.csv"
    assert (
        run("predict", str(weights), str(tmp_path / "moons_test.csv"), "--out", str(predictions))
        == 0
    )
    assert "wrote 60 predictions (binary classification" in capsys.readouterr().out
    lines = predictions.read_text().splitlines()
    assert lines[0] == "Id,Label"
    assert len(lines) == 61
    assert {line.split(",")[1] for line in lines[1:]} == {"0", "1"}
    assert run("predict", str(weights), str(tmp_path / "moons_test.csv")) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'moons_test.csv'}[0]: ")
    assert first.endswith("%)")


def test_regression_from_a_csv_logs_mae_rmse_r2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 3))
    price = x @ [3.0, -1.0, 0.5] + 10 + 0.1 * rng.standard_normal(200)
    rows = [",".join(f"{v:.6f}" for v in (*a, p)) for a, p in zip(x, price, strict=True)]
    (tmp_path / "houses.csv").write_text("a,b,c,price\n" + "\n".join(rows[:160]) + "\n")
    (tmp_path / "houses_test.csv").write_text(
        "price,c,b,a\n" + "\n".join(",".join(reversed(row.split(","))) for row in rows[160:]) + "\n"
    )
    model = tmp_path / "regression.py"
    model.write_text(
        "from tinynet import Dense\nfrom tinynet.recipe import Recipe\n"
        "def build(seed):\n    return Dense(3, 1, seed=seed)\n"
        "RECIPE = Recipe(loss='mse', optimizer='adam', optimizer_args={'lr': 0.1}, epochs=60,\n"
        "                batch_size=32, schedule='plateau', schedule_args={'patience': 3})\n"
    )
    weights, out = tmp_path / "r.npz", tmp_path / "m.json"
    args = ["--data", tmp_path / "houses.csv", "--test-data", tmp_path / "houses_test.csv"]
    outputs = ["--save", weights, "--metrics-json", out, "--clip-grad-norm", "100"]
    assert train(model, *args, "--target", "price", *outputs) == 0
    printed = capsys.readouterr().out
    assert "regression (1 output, values)" in printed
    assert "test mae " in printed
    metrics = json.loads(out.read_text())
    assert metrics["test"]["r2"] > 0.99
    assert metrics["test_accuracy"] is None
    assert {"mae", "rmse", "r2"} <= set(metrics["history"])
    assert run("predict", str(weights), str(tmp_path / "houses_test.csv")) == 0
    values = [float(line.split(": ")[1]) for line in capsys.readouterr().out.splitlines()]
    np.testing.assert_allclose(values, price[160:], atol=1.0)  # the columns found by name
    assert train(model, *args) == 2  # no column 'label'
    assert "no column 'label'; its columns are 'a,b,c,price'" in capsys.readouterr().err
    # r3 d07: evaluate took the training CSV's column order; the weights recorded a,b,c
    (tmp_path / "houses_cba.csv").write_text(
        "c,b,a,price\n"
        + "\n".join(",".join([*row.split(",")[2::-1], row.split(",")[3]]) for row in rows[:160])
        + "\n"
    )
    for data in ("houses.csv", "houses_cba.csv"):
        test = ["--test-data", str(tmp_path / "houses_test.csv"), "--target", "price"]
        assert (
            main(
                [
                    "evaluate",
                    str(model),
                    "--weights",
                    str(weights),
                    "--data",
                    str(tmp_path / data),
                    *test,
                ]
            )
            == 0
        )
        assert float(capsys.readouterr().out.split("r2 ")[1].split(",")[0]) > 0.99, data
    # issue 23: the test CSV alone, its columns (price,c,b,a) by the names the weights recorded
    alone = ["--weights", str(weights), "--test-data", str(tmp_path / "houses_test.csv")]
    assert main(["evaluate", str(model), *alone]) == 0
    assert float(capsys.readouterr().out.split("r2 ")[1].split(",")[0]) > 0.99


def test_predict_refuses_outputs_it_cannot_interpret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tinynet
    from tinynet import Dense, Sequential, Unflatten

    image = tmp_path / "d.npy"
    np.save(image, np.zeros((1, 28, 28), np.float32))
    one = tmp_path / "one.npz"
    tinynet.save(Sequential(Dense(784, 1, seed=0)), one)  # no recipe recorded
    assert run("predict", str(one), str(image)) == 2
    assert "the model has no head" in capsys.readouterr().err
    tinynet.save(
        Sequential(Dense(784, 1, seed=0)), one, metadata={"recipe": {"loss": "bce_with_logits"}}
    )
    assert run("predict", str(one), str(image)) == 0
    assert capsys.readouterr().out.startswith(f"{image}[0]: 0 (50.0%)")  # logit 0: p = 0.5
    grid = tmp_path / "grid.npz"
    tinynet.save(Sequential(Dense(784, 8, seed=0), Unflatten(1, (2, 4))), grid)  # (N, 2, 4)
    assert run("predict", str(grid), str(image)) == 2
    assert "predict reads (N, C) outputs only" in capsys.readouterr().err


def test_summary_input_shape_and_help_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("summary", MNIST_MLP, "--input-shape", "784") == 0
    assert "Total params: 109,386" in capsys.readouterr().out
    assert run("summary", MNIST_MLP, "--input-shape", "1,28,28") == 2
    assert "expected input of shape (N, ..., 784)" in capsys.readouterr().err
    parser = build_parser()
    for command in ("", "train", "evaluate", "predict", "summary"):
        with pytest.raises(SystemExit):
            parser.parse_args([command, "--help"] if command else ["--help"])
        text = capsys.readouterr().out
        assert "`" not in text, command  # no docstring markup
        if command:
            assert "examples:\n  tinynet " + command in text
            assert "--import MODULE_OR_FILE" in text
    with pytest.raises(SystemExit):
        parser.parse_args(["summary", MNIST_MLP, "--input-shape", "a,b"])
    assert "expected a shape such as 784 or 1,28,28" in capsys.readouterr().err


def test_validation_mode_and_the_sorted_data_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "sorted.npz"
    rng = np.random.default_rng(0)
    x = rng.random((90, 64)).astype(np.float32)
    y = np.repeat([0, 1, 2], 30)  # sorted by class, as iris
    np.savez(data, x_train=x, y_train=y, x_test=x[:6], y_test=y[:6])
    model = tmp_path / "m.py"
    model.write_text(
        "from tinynet import Dense\nfrom tinynet.recipe import Recipe\n"
        "def build(seed):\n    return Dense(64, 3, seed=seed)\nRECIPE = Recipe(epochs=1)\n"
    )
    common = [
        "train",
        str(model),
        "--data",
        str(data),
        "--verbose",
        "0",
        "--validation-split",
        "0.2",
    ]
    assert run(*common) == 0
    err = capsys.readouterr().err
    assert "tinynet train: warning: validation_split: the held-out 0.2 (18 samples" in err
    assert "--validation-mode stratify" in err
    assert run(*common, "--validation-mode", "stratify") == 0
    assert "warning" not in capsys.readouterr().err
