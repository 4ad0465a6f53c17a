"""run.py: which extras each command installs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def run_py() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_with_plot_installs_matplotlib_and_nothing_else_changes() -> None:
    module = run_py()
    assert module.extras_for("train", ["--seed", "1"]) == ""
    assert module.extras_for("train", ["--plot", "pictures/"]) == "[plot]"
    assert module.extras_for("train", ["--plot=pictures/"]) == "[plot]"
    assert module.extras_for("test", ["--plot", "x"]) == module.EXTRAS["test"]
    assert module.extras_for("bench", []) == "[bench,plot]"
