"""One process of the distributed tests (tests/test_distributed.py): trains a small MLP.

    python tests/distributed_worker.py MODE DTYPE OUT            # one process, tinynet.train.fit
    mpiexec -n 2 python tests/distributed_worker.py MODE DTYPE OUT  # tinynet.distributed.fit

MODE ``same`` writes the weights and history to OUT/result.npz (rank 0 only) and a
checkpoint per epoch; ``raise`` raises on rank 1 in the second epoch, ``kill`` kills
rank 1 there (SIGKILL); ``dropout`` trains a net with dropout and writes rank 0's
weights; ``resume-2`` and ``resume-3`` train 2 (then 3) epochs through a
`BackupAndRestore` in OUT. Without mpiexec MODE ``distributed`` runs
`tinynet.distributed.fit` as one rank. The loss is class-weighted and three kinds of
metric are logged, so that each is combined across ranks.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np

from tinynet import Dense, Dropout, ReLU, Sequential
from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint
from tinynet.distributed import fit as distributed_fit
from tinynet.distributed import launched, rank
from tinynet.losses import CrossEntropyLoss
from tinynet.optim import Adam
from tinynet.train import Callback, Run, fit


class Fail(Callback):
    """On rank 1, in the second epoch's third batch: raise, or kill the process."""

    def __init__(self, how: str) -> None:
        self.how = how

    def on_batch_end(self, run: Run) -> None:
        if rank() == 1 and run.epoch == 1 and run.batch == 2:
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("rank 1 gives up on purpose")


def hits(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The number of right predictions: a user's metric function."""
    return float(np.sum(y_true == y_pred))


def main(mode: str, dtype: str, out: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 6)).astype(dtype)
    y = (x[:, 0] + x[:, 1] ** 2 > 1).astype(np.int64) + (x[:, 2] > 0.5)
    layers = [Dense(6, 16, rng=rng), ReLU(), Dense(16, 3, rng=rng)]
    if mode == "dropout":
        layers.insert(2, Dropout(0.3, seed=1))
    model = Sequential(*layers).astype(dtype)
    callbacks: list[Callback] = [ModelCheckpoint(out / "ckpt-{epoch}.npz")]
    if mode in ("raise", "kill"):
        callbacks.append(Fail(mode))
    epochs = 200 if mode in ("raise", "kill") else 3
    if mode.startswith("resume"):
        callbacks = [BackupAndRestore(out / "backup.npz")]
        epochs = int(mode[-1])
    train = distributed_fit if launched() or mode == "distributed" else fit
    history = train(
        model,
        x,
        y,
        loss=CrossEntropyLoss(),
        optimizer=Adam(model.parameters(), lr=0.01),
        epochs=epochs,
        batch_size=31,  # batches 31, 31, 31, 7: shares 15 + 16 and 3 + 4 on two ranks
        seed=3,
        clip_grad_norm=0.5,
        callbacks=callbacks,
        verbose=0,
        class_weight="balanced",
        metrics=["accuracy", "f1", hits],
    )
    if rank() == 0:
        logs = {f"history_{k}": np.array(v) for k, v in history.history.items()}
        np.savez(out / "result.npz", **model.state_dict(), **logs)  # type: ignore[arg-type]


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
