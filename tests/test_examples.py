"""The examples run as a user runs them: a fresh interpreter, from the repository root."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT, run_python


def run_example(name: str) -> str:
    """Run examples/<name> from the repository root; return its output (must exit 0)."""
    return run_python(ROOT / "examples" / name, cwd=ROOT)


def test_custom_layer_example_checks_gradients_and_learns() -> None:
    out = run_example("custom_layer.py")
    checked = re.findall(r"gradcheck passed: (\w+)\(.*max relative error ([0-9.e+-]+)\)", out)
    assert [name for name, _ in checked] == ["Softplus", "Scale"], out
    assert all(float(error) < 1e-6 for _, error in checked), out
    match = re.search(r"loss decreased: ([0-9.]+) -> ([0-9.]+)", out)
    assert match, out
    first, last = map(float, match.groups())
    assert last < 0.5 * first, out
    assert "saved and loaded: same predictions" in out, out


def mean_scores(out: str, pattern: str) -> list[float]:
    return [float(value) for value in re.findall(pattern, out)]


def test_binary_moons_example_reaches_scikit_learn() -> None:
    pytest.importorskip("sklearn")
    out = run_example("binary_moons.py")
    (ours,) = mean_scores(out, r"tinynet test accuracy ([0-9.]+)")
    (theirs,) = mean_scores(out, r"MLPClassifier test accuracy ([0-9.]+)")
    assert ours > 0.9
    assert ours >= theirs - 0.01, out  # measured 0.9344 and 0.9352: one sample of 1,250


def test_regression_diabetes_example_reaches_scikit_learn() -> None:
    pytest.importorskip("sklearn")
    out = run_example("regression_diabetes.py")
    (ours,) = mean_scores(out, r"tinynet test R2 ([0-9.-]+)")
    (theirs,) = mean_scores(out, r"MLPRegressor test R2 ([0-9.-]+)")
    assert "validation MAE" in out
    assert "RMSE" in out
    assert ours > 0.3
    assert ours >= theirs - 0.02, out  # measured 0.3812 and 0.3827


def test_digits_npz_example_trains_a_user_model_file_through_the_cli() -> None:
    pytest.importorskip("sklearn")
    out = run_example("digits_npz.py")
    assert "$ tinynet train" in out
    assert "--data" in out
    (trained,) = mean_scores(out, r"test accuracy ([0-9.]+)%, f1")
    (evaluated,) = mean_scores(out, r"test: accuracy ([0-9.]+)%")
    assert trained == evaluated > 95  # measured 97.78% (scikit-learn's MLPClassifier: 97.33%)
