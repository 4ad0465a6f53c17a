"""tinynet.threads: the default BLAS threads on a busy machine, and when it stays out."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tinynet import threads


@pytest.mark.parametrize(
    ("load", "cores", "expected"),
    [(0.0, 2, 2), (0.4, 2, 2), (0.6, 2, 1), (5.0, 2, 1), (1.2, 8, 7), (0.0, 1, 1), (-1.0, 4, 4)],
)
def test_idle_cores_are_the_cores_less_the_rounded_load_at_least_one(
    load: float, cores: int, expected: int
) -> None:
    assert threads.idle_cores(load, cores) == expected


def test_policy_takes_one_thread_on_a_busy_machine_and_none_on_an_idle_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threads, "usable_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (4.9, 5.0, 5.0))
    assert threads.policy({}) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.2, 0.2))
    assert threads.policy({}) is None  # every core idle: OpenBLAS's own default


@pytest.mark.parametrize(
    "environ",
    [{"OPENBLAS_NUM_THREADS": "2"}, {"OMP_NUM_THREADS": "2"}, {"TINYNET_BLAS_THREADS": "keep"}],
)
def test_policy_leaves_a_users_choice(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))
    assert threads.policy(environ) is None


def test_policy_without_a_load_average_leaves_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "getloadavg")
    assert threads.policy({}) is None


def run_import(environ: dict[str, str]) -> str:
    """What a fresh ``import tinynet`` under ``environ`` reports: its choice, the
    variable left in its environment, and whether NumPy was loaded."""
    code = (
        "import os, tinynet; "
        "print(tinynet.threads.chosen, os.environ.get('OPENBLAS_NUM_THREADS'), end='')"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env={**env, **environ}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_keeps_a_users_variable_and_leaves_no_variable_of_its_own() -> None:
    assert run_import({"OPENBLAS_NUM_THREADS": "1"}) == "None 1"
    chosen, left = run_import({}).split()
    assert left == "None"  # removed once NumPy loaded: child processes choose anew
    assert chosen == "None" or int(chosen) >= 1
