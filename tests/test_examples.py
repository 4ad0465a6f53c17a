"""The examples run as a user runs them: a fresh interpreter, from the repository root."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_example(name: str) -> str:
    """Run examples/<name> with this checkout importable; return its output (must exit 0)."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{name} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


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
