"""A model file imports its layers from a module beside it, from any working directory;
``--import path/to/file.py`` makes that module importable by its name."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet.datasets import load_idx_folder
from tinynet.modelfile import import_modules, import_path, load_model_file

ROOT = Path(__file__).resolve().parents[1]

LAYERS = '''
import numpy as np
from tinynet import Layer, Parameter


class Shift(Layer):
    """y = x + b, one learned offset per feature: written as a PyTorch user writes a
    module (no decorator, no config(), no validation calls)."""

    def __init__(self, features, dtype=np.float32):
        super().__init__()
        self.features = features
        self.b = Parameter(np.zeros(features, dtype))

    def forward(self, x):
        return x + self.b.data

    def backward(self, grad_y):
        self.b.grad += grad_y.sum(axis=0)
        return grad_y
'''

MODEL = """
from {module} import Shift
from tinynet import Dense, ReLU, Sequential
from tinynet.recipe import Recipe


def build(seed):
    return Sequential(Dense(784, 16, seed=seed), Shift(16), ReLU(), Dense(16, 10, seed=seed + 1))


RECIPE = Recipe(epochs=1, batch_size=100)
"""


def tinynet_process(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m tinynet ARGS`` in a fresh interpreter run in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "tinynet", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=120,
    )


def test_a_model_file_imports_the_module_beside_it_from_another_folder(
    tmp_path: Path, mnist_subset: Callable[[int, int], Path]
) -> None:
    data = mnist_subset(300, 100)
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (project / "beside_layers.py").write_text(LAYERS)
    (project / "beside_model.py").write_text(MODEL.format(module="beside_layers"))
    model = str(project / "beside_model.py")
    trained = tinynet_process(
        "train", model, "--data", str(data), "--verbose", "0", "--save", "m.npz", cwd=elsewhere
    )
    assert trained.returncode == 0, trained.stderr
    assert (elsewhere / "m.npz").is_file()
    summary = tinynet_process("summary", model, cwd=elsewhere)
    assert summary.returncode == 0, summary.stderr
    assert "Shift" in summary.stdout
    np.save(elsewhere / "d.npy", load_idx_folder(data, flatten=False)[1][0][:2])
    plain = tinynet_process("predict", "m.npz", "d.npy", cwd=elsewhere)
    assert plain.returncode == 2
    assert "unknown layer type 'beside_layers.Shift'" in plain.stderr
    layers = str(project / "beside_layers.py")
    predicted = tinynet_process("predict", "--import", layers, "m.npz", "d.npy", cwd=elsewhere)
    assert predicted.returncode == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == 2
    fresh = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD, str(project), str(elsewhere / "m.npz")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=120,
    )
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout.split() == ["Shift", "16", "multiclass"]


FRESH_LOAD = """
import sys
sys.path.insert(0, sys.argv[1])
import beside_layers, tinynet
model = tinynet.load(sys.argv[2])
print(type(model[1]).__name__, model[1].features, model.head.task)
"""


def test_the_obvious_custom_layer_passes_gradcheck(tmp_path: Path) -> None:
    (tmp_path / "grad_layers_z.py").write_text(LAYERS)
    module = import_path(tmp_path / "grad_layers_z.py")
    layer = module.Shift(3, dtype=np.float64)
    layer.b.data[:] = [0.5, -1.0, 2.0]
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert tinynet.gradcheck(layer, x) < 1e-6
    assert layer.config() == {"features": 3, "dtype": "float64"}  # read from the constructor


def test_import_of_a_file_makes_its_module_importable_by_name(tmp_path: Path) -> None:
    """A model file elsewhere does ``import helper_layers_x``, given by --import path."""
    lib, models = tmp_path / "lib", tmp_path / "models"
    lib.mkdir()
    models.mkdir()
    (lib / "helper_layers_x.py").write_text(LAYERS)
    (models / "uses_helper.py").write_text(MODEL.format(module="helper_layers_x"))
    result = tinynet_process(
        "summary",
        "--import",
        str(lib / "helper_layers_x.py"),
        str(models / "uses_helper.py"),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    without = tinynet_process("summary", str(models / "uses_helper.py"), cwd=tmp_path)
    assert without.returncode == 2
    assert "No module named 'helper_layers_x'" in without.stderr


def test_the_module_is_named_by_the_stem_and_the_folder_leaves_sys_path(tmp_path: Path) -> None:
    (tmp_path / "stem_layers_y.py").write_text(LAYERS)
    (tmp_path / "stem_model_y.py").write_text(MODEL.format(module="stem_layers_y"))
    path_before = list(sys.path)
    model_file = load_model_file(tmp_path / "stem_model_y.py")
    assert sys.path == path_before
    layers = sys.modules["stem_layers_y"]
    assert type(model_file.build(0)[1]).__module__ == "stem_layers_y"
    assert sys.modules["stem_model_y"].__file__ == str(tmp_path / "stem_model_y.py")
    # --import of a file already imported under its name reuses it, as import would
    assert import_modules([str(tmp_path / "stem_layers_y.py")]) == [layers]


def test_a_file_named_as_a_standard_module_is_refused(tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("X = 1\n")
    with pytest.raises(ImportError, match=r"json\.py: it would run as the module 'json', .*rename"):
        import_path(tmp_path / "json.py")
    assert sys.modules["json"].__file__ != str(tmp_path / "json.py")


def test_a_file_named_as_an_installed_package_is_refused_imported_or_not(
    tmp_path: Path,
) -> None:
    for name in ("numpy", "pip"):  # imported by now, and (most likely) not
        (tmp_path / f"{name}.py").write_text("X = 1\n")
        with pytest.raises(ImportError, match=rf"it would run as the module '{name}', the name "):
            import_path(tmp_path / f"{name}.py")
        assert getattr(sys.modules.get(name), "__file__", None) != str(tmp_path / f"{name}.py")
