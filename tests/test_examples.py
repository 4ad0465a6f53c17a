"""The examples run as a user runs them: a fresh interpreter, from the repository root."""

from __future__ import annotations

import re

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
