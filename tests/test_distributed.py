"""Data-parallel training over MPI (tinynet.distributed): two ranks are one process.

The runs under ``mpiexec -n 2`` are tests/distributed_worker.py (a small MLP on 100
samples, batches of 31: uneven shares 15 + 16 and a last batch of 3 + 4, gradients
clipped); they skip when mpi4py or mpiexec is missing (``pip install tinynet-nn[mpi]``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT

from tinynet import Dense, Dropout, Sequential
from tinynet.data import DataLoader
from tinynet.distributed import (
    ShardedLoader,
    communicator,
    launched,
    rank,
    reseed_per_rank,
    world_size,
)
from tinynet.losses import CrossEntropyLoss
from tinynet.optim import SGD
from tinynet.train import History, Run

WORKER = ROOT / "tests" / "distributed_worker.py"
MPIEXEC = shutil.which(
    "mpiexec", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
"""The venv's own first (the mpich wheel puts it beside python), then the PATH's."""
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or importlib.util.find_spec("mpi4py") is None,
    reason="needs mpi4py and mpiexec (pip install tinynet-nn[mpi])",
)
BOUND = 30.0
"""Seconds within which a job whose rank failed must have ended."""


def launch(
    ranks: int, *args: str, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``mpiexec -n RANKS python ARGS`` (``ranks=0``: plain python), this checkout
    importable, one BLAS thread per process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        env.pop(name, None)
    prefix = [str(MPIEXEC), "-n", str(ranks)] if ranks else []
    command = [*prefix, sys.executable, *args]
    return subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def train(ranks: int, mode: str, dtype: str, out: Path) -> dict[str, np.ndarray]:
    out.mkdir()
    result = launch(ranks, str(WORKER), mode, dtype, str(out))
    assert result.returncode == 0, result.stdout + result.stderr
    with np.load(out / "result.npz") as saved:
        return {name: saved[name] for name in saved.files if "second" not in name}


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_train_as_one_process_in_float64(tmp_path: Path, ranks: int) -> None:
    # 3 ranks on 2 cores: shares of 10, 10, 11 rows, then 2, 2, 3
    one = train(0, "same", "float64", tmp_path / "one")
    two = train(ranks, "same", "float64", tmp_path / "two")
    assert sorted(one) == sorted(two)
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=0, atol=1e-12, err_msg=name)
    assert len(one["history_loss"]) == 3  # three epochs, each logged once


@needs_mpi
def test_two_ranks_train_as_one_process_in_float32_to_rounding(tmp_path: Path) -> None:
    one = train(0, "same", "float32", tmp_path / "one")
    two = train(2, "same", "float32", tmp_path / "two")
    assert one["0.weight"].dtype == two["0.weight"].dtype == np.float32
    for name in one:
        np.testing.assert_allclose(two[name], one[name], rtol=1e-4, atol=1e-5, err_msg=name)


@needs_mpi
def test_only_rank_0_writes_files(tmp_path: Path) -> None:
    train(2, "same", "float64", tmp_path / "two")
    written = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert written == ["ckpt-1.npz", "ckpt-2.npz", "ckpt-3.npz", "result.npz"]


@needs_mpi
@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_stops_the_other_within_the_bound(tmp_path: Path, how: str) -> None:
    # Without the abort, rank 0 would wait in its next Allreduce for ever (200 epochs).
    (tmp_path / "out").mkdir()
    start = time.monotonic()
    result = launch(2, str(WORKER), how, "float64", str(tmp_path / "out"), timeout=BOUND)
    assert time.monotonic() - start < BOUND
    assert result.returncode != 0
    if how == "raise":
        lines = [line for line in result.stderr.splitlines() if line.startswith("tinynet:")]
        assert lines == [
            "tinynet: rank 1 of 2 failed, stopping every rank: RuntimeError: rank 1 gives "
            "up on purpose"
        ]
    assert not (tmp_path / "out" / "result.npz").exists()


@needs_mpi
def test_dropout_draws_per_rank_and_repeats(tmp_path: Path) -> None:
    first = train(2, "dropout", "float64", tmp_path / "first")
    second = train(2, "dropout", "float64", tmp_path / "second")
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@needs_mpi
def test_one_rank_without_mpiexec_is_an_ordinary_run(tmp_path: Path) -> None:
    plain = train(0, "same", "float64", tmp_path / "plain")
    alone = train(0, "distributed", "float64", tmp_path / "alone")
    for name in plain:
        np.testing.assert_array_equal(alone[name], plain[name], err_msg=name)


@needs_mpi
def test_the_command_line_trains_under_mpiexec_and_rank_0_alone_writes(
    tmp_path: Path, mnist_subset: Callable[[int, int], Path]
) -> None:
    data = mnist_subset(300, 50)
    model_file = ROOT / "models" / "mnist_mlp.py"
    options = ["--epochs", "1", "--verbose", "2", "--save", "m.npz", "--metrics-json", "m.json"]
    command = ["-m", "tinynet", "train", str(model_file), "--data", str(data), *options]
    result = launch(2, *command, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("tinynet 0.") == 1  # the first line, from rank 0 only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.npz"]
    assert json.loads((tmp_path / "m.json").read_text())["world_size"] == 2


def test_shares_of_every_global_batch_make_the_one_process_batches() -> None:
    x = np.arange(22.0).reshape(11, 2)
    y = np.arange(11)
    whole = DataLoader(x, y, batch_size=4, seed=5)
    shares = [ShardedLoader(DataLoader(x, y, batch_size=4, seed=5), r, 3) for r in range(3)]
    parts = [list(share.batches()) for share in shares]
    for k, (x_batch, y_batch, _) in enumerate(whole.batches()):
        np.testing.assert_array_equal(np.concatenate([p[k][0] for p in parts]), x_batch)
        np.testing.assert_array_equal(np.concatenate([p[k][1] for p in parts]), y_batch)
    # batches of 4, 4 and 3 rows over 3 ranks: shares of 1, 1, 2 rows, then 1, 1, 1
    assert [[len(batch[1]) for batch in p] for p in parts] == [[1, 1, 1], [1, 1, 1], [2, 2, 1]]


def test_a_batch_smaller_than_the_ranks_is_refused_by_name() -> None:
    loader = DataLoader(np.zeros((9, 2)), np.zeros(9), batch_size=4)  # last batch: 1 row
    with pytest.raises(ValueError, match=r"a batch of 1 samples cannot be shared by 2 ranks"):
        ShardedLoader(loader, 0, 2)


def dropout_of(run: Run) -> Dropout:
    layer = next(m for _, m in run.model.named_modules() if isinstance(m, Dropout))
    assert isinstance(layer, Dropout)
    return layer


def test_dropout_and_augmentation_streams_differ_per_rank_but_not_the_loader() -> None:
    def run_of() -> Run:
        model = Sequential(Dense(3, 3, rng=np.random.default_rng(0)), Dropout(0.5, seed=7))
        loader = DataLoader(np.zeros((4, 3)), np.zeros(4, dtype=np.int64), seed=2)
        optimizer = SGD(model.parameters(), lr=0.1)
        return Run(model, CrossEntropyLoss(), optimizer, loader, 1, History())

    draws = []
    for r in (1, 1, 2):
        run = run_of()
        reseed_per_rank(run, r)
        draws.append((dropout_of(run).rng.random(), run.loader.rng.random()))
    untouched = run_of()
    rank_0 = (dropout_of(untouched).rng.random(), untouched.loader.rng.random())
    assert draws[0] == draws[1]  # repeatable
    assert len({draws[0][0], draws[2][0], rank_0[0]}) == 3  # one stream per rank
    assert draws[0][1] == draws[2][1] == rank_0[1]  # the same permutations everywhere


def test_the_environment_of_mpiexec_is_read_without_mpi4py(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert (launched(), rank(), world_size()) == (False, 0, 1)
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "1")
    assert (launched(), rank(), world_size()) == (True, 1, 2)
    monkeypatch.setenv("PMI_SIZE", "1")  # mpiexec -n 1: nothing to share
    assert not launched()


def test_missing_mpi4py_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"pip install tinynet-nn\[mpi\]"):
        communicator()


@needs_mpi
def test_a_run_resumed_under_mpiexec_ends_as_one_never_stopped(tmp_path: Path) -> None:
    straight = train(2, "resume-3", "float64", tmp_path / "straight")
    train(2, "resume-2", "float64", tmp_path / "resumed")  # stops after 2 epochs
    result = launch(2, str(WORKER), "resume-3", "float64", str(tmp_path / "resumed"))
    assert result.returncode == 0, result.stdout + result.stderr
    with np.load(tmp_path / "resumed" / "result.npz") as resumed:
        for name in straight:
            np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)
    assert sorted(p.name for p in (tmp_path / "resumed").iterdir()) == [
        "backup.npz",
        "result.npz",
    ]


def test_a_global_batch_smaller_than_the_ranks_is_refused_with_drop_last_too() -> None:
    loader = DataLoader(np.zeros((9, 2)), np.zeros(9), batch_size=2, drop_last=True)
    with pytest.raises(ValueError, match=r"a batch of 2 samples cannot be shared by 3 ranks"):
        ShardedLoader(loader, 0, 3)
    assert len(ShardedLoader(loader, 0, 2)) == 4  # batches of 2 rows: one row per rank
