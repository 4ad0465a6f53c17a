"""The README's first command works in a fresh copy of the repository, offline.

Copies the files git tracks into an empty folder, points HOME at an empty folder (no
dataset cache) and runs `python run.py train --epochs 1`: it must make its own virtual
environment, install tinynet, find MNIST in the copy's data/mnist/ (no download) and
print the test accuracy. Marked slow: it installs into a new venv (about a minute).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tracked_files() -> list[str]:
    result = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"git ls-files failed in {ROOT}: {result.stderr}")
    return result.stdout.splitlines()


@pytest.mark.slow
def test_readme_train_command_in_a_fresh_copy(tmp_path: Path) -> None:
    copy, home = tmp_path / "tinynet", tmp_path / "home"
    home.mkdir()
    for name in tracked_files():
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    env = {k: v for k, v in os.environ.items() if k not in ("TINYNET_DATA", "PYTHONPATH")}
    env.update(HOME=str(home), OPENBLAS_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "run.py", "train", "--epochs", "1", "--verbose", "0"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "test accuracy" in result.stdout
    assert (copy / ".venv").is_dir()
    assert not (home / ".cache" / "tinynet").exists()  # nothing was downloaded
