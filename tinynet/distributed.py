"""Data-parallel training over MPI: one run on N processes, as Horovod and DDP do.

Launched as ``mpiexec -n N python ...``, every process (rank) builds the same model and
reads the same data; `fit` (`tinynet.train.fit`'s arguments; `tinynet.recipe.Recipe.fit`
and ``tinynet train`` use it whenever ``mpiexec`` started them) makes them one run:

- rank 0's initial parameters and buffers are broadcast to every rank;
- every global batch (the loader's ``batch_size``, drawn with the same permutation on
  every rank) is cut into N consecutive shares, one per rank (`ShardedLoader`);
- after backward, each rank's gradients (means over its share) are weighted by its
  share of the batch and summed over the ranks by one ``Allreduce`` per parameter block
  (`tinynet.blocks.ParameterBlock`: one contiguous vector, so one call for a whole
  model), before clipping and ``step``: every rank takes the step one process would;
- at the end of each epoch the loss sums and the metrics' counts are combined, so the
  logs, and every decision callbacks take from them, are the same on every rank;
- on ranks other than 0 the progress bar is silent and `tinynet.checkpoint`'s callbacks
  write nothing (they still restore).

What is not the same as one process: BatchNorm normalises each rank's share with the
share's own mean and variance, and keeps its running statistics per rank (rank 0's are
the ones saved), as DDP does without SyncBatchNorm; dropout and augmentation draw from
per-rank streams (rank 0 keeps the run's, rank r > 0 one derived from it and r, so a
run is repeatable but its draws depend on N); sums are taken in another order (float64
agrees to about 1e-12, float32 to rounding). Validation runs whole on every rank.

A rank that raises prints one line and aborts the job (``MPI_Abort``), so the others stop
at once instead of waiting in the next ``Allreduce``; a rank killed outright is
detected by ``mpiexec``, which ends the rest. mpi4py is imported only here, and only
when a distributed run starts (``pip install tinynet-nn[mpi]``).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tinynet import train
from tinynet.blocks import ParameterBlock
from tinynet.data import DataLoader
from tinynet.layers.base import Layer
from tinynet.metrics.streaming import (
    Accuracy,
    FunctionMetric,
    Metric,
    SummingMetric,
    TopKAccuracy,
)
from tinynet.train import Callback, History, ProgressBar, Run
from tinynet.typing import Array, FloatArray

if TYPE_CHECKING:
    from mpi4py.MPI import Intracomm

__all__ = [
    "DataParallel",
    "ShardedLoader",
    "fit",
    "launched",
    "quiet_workers",
    "rank",
    "world_size",
]

RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
"""What ``mpiexec`` sets in each process: MPICH's (Hydra) and Open MPI's names."""


def _from_environment(names: Sequence[str], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return default


def world_size() -> int:
    """How many processes ``mpiexec`` started together with this one (1 without MPI;
    read from the environment, mpi4py is not imported): a run's ``world_size``."""
    return _from_environment(SIZE_VARIABLES, 1)


def launched() -> bool:
    """Whether this process is one of several started by ``mpiexec``."""
    return world_size() > 1


def rank() -> int:
    """This process's rank under ``mpiexec`` (0 without MPI): only rank 0 should write."""
    return _from_environment(RANK_VARIABLES, 0)


def quiet_workers(
    options: object, outputs: Sequence[str] = ("save", "metrics_json", "plot")
) -> None:
    """On ranks other than 0 of an ``mpiexec`` launch, set the attributes ``outputs`` of
    ``options`` (a command line's paths to write) to ``None`` and send stdout nowhere:
    rank 0 alone prints and writes. Does nothing otherwise."""
    if launched() and rank() > 0:
        for name in outputs:
            setattr(options, name, None)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  # for the rest of the process


def communicator() -> Intracomm:
    """``MPI.COMM_WORLD``; ``ImportError`` saying how to install mpi4py if it is missing."""
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(
            f"distributed training needs mpi4py and an MPI library, which are missing "
            f"({error}); install them with: pip install tinynet-nn[mpi]"
        ) from None
    return MPI.COMM_WORLD


class ShardedLoader(DataLoader[Array]):
    """The rank's share of each global batch of ``loader``: the same permutation (drawn
    from ``loader.rng``, shared) and batches as ``loader``, each cut into ``size``
    consecutive shares of ``len // size`` or one more rows; share ``rank`` is yielded,
    through the transform (drawn per rank). ``rows`` and ``global_rows`` are the sizes
    of the last share and of its whole batch."""

    def __init__(self, loader: DataLoader[Array], rank: int, size: int) -> None:
        if loader.y is None:
            raise TypeError("fit: a distributed run needs a loader with targets y")
        super().__init__(
            loader.x,
            loader.y,
            batch_size=loader.batch_size,
            shuffle=loader.shuffle,
            drop_last=loader.drop_last,
            rng=loader.rng,
            transform=loader.transform,
            sample_weight=loader.sample_weight,
        )
        self.rank, self.size = rank, size
        self.rows = self.global_rows = 0
        last = self.num_samples % self.batch_size
        smallest = last if last and not self.drop_last else self.batch_size
        if smallest < size:
            raise ValueError(
                f"fit: a batch of {smallest} samples cannot be shared by {size} ranks; use "
                f"a batch_size whose last batch has at least {size} rows (or drop_last)"
            )

    def batches(self) -> Iterator[tuple[Array, Array, FloatArray | None]]:
        """One epoch of this rank's ``(x, y, weights)`` shares (shapes (n_r, ...))."""
        n, step = self.num_samples, self.batch_size
        order = self.rng.permutation(n) if self.shuffle else None
        for start in range(0, len(self) * step, step):
            stop = min(start + step, n)
            total = stop - start
            low = start + total * self.rank // self.size
            high = start + total * (self.rank + 1) // self.size
            pick: slice | Array = slice(low, high) if order is None else order[low:high]
            x, y = self.x[pick], self.y[pick]  # type: ignore[index]
            weights = None if self.sample_weight is None else self.sample_weight[pick]
            if self.transform is not None:
                x = self.transform(x)
            self.rows, self.global_rows = high - low, total
            yield x, y, weights


class DataParallel(Callback):
    """Makes the ranks of ``comm`` one run (see the module docstring); `fit` adds it
    after the caller's callbacks (so after any that restore a checkpoint)."""

    def __init__(self, comm: Intracomm) -> None:
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.blocks: list[ParameterBlock] = []
        self.shard: ShardedLoader | None = None

    def on_train_begin(self, run: Run) -> None:
        if self.rank > 0:
            mute(run.callbacks)
        for array in run.model.state_dict(copy=False).values():
            self.comm.Bcast(array, root=0)
        if self.rank > 0:
            reseed_per_rank(run, self.rank)
        blocks = {id(span.block): span.block for span in run.optimizer.spans}
        self.blocks = list(blocks.values())
        self.shard = ShardedLoader(run.loader, self.rank, self.size)
        run.loader = self.shard

    def on_after_backward(self, run: Run) -> None:
        from mpi4py import MPI

        assert self.shard is not None
        share = self.shard.rows / self.shard.global_rows
        for block in self.blocks:
            block.grad *= share
            self.comm.Allreduce(MPI.IN_PLACE, block.grad, op=MPI.SUM)

    def on_batch_end(self, run: Run) -> None:
        if run.batch != len(run.loader) - 1:
            return
        sums = self.comm.allreduce(np.array([run.loss_sum, run.samples], dtype=np.float64))
        run.loss_sum, run.samples = float(sums[0]), int(sums[1])
        if run.scorer is not None:
            for metric in run.scorer.metrics:
                combine(self.comm, metric)


def reseed_per_rank(run: Run, rank: int) -> None:
    """Give every generator of ``run`` but the loader's (dropout, augmentation) a stream
    of its own on ``rank``, derived from its current state and the rank: repeatable,
    and different from every other rank's."""
    from tinynet.checkpoint import generators

    for name, generator in generators(run):
        if name != "loader":
            entropy = int(generator.integers(2**63))
            seeded = type(generator.bit_generator)(np.random.SeedSequence([entropy, rank]))
            generator.bit_generator.state = seeded.state


def combine(comm: Intracomm, metric: Metric) -> None:
    """Make ``metric`` on every rank hold the counts of all the ranks' batches. A kind
    tinynet does not know takes rank 0's state on every rank (with a warning), so that
    the ranks at least log, and decide, alike."""
    if isinstance(metric, (Accuracy, TopKAccuracy)):
        parts = comm.allgather((metric.hits, metric.count))
        metric.hits, metric.count = sum(p[0] for p in parts), sum(p[1] for p in parts)
    elif isinstance(metric, SummingMetric):
        sums = [s for s in comm.allgather(metric.sums) if s is not None]
        for other in sums[1:]:
            sums[0].add(other)  # the same kind on every rank
        metric.sums = sums[0] if sums else None
    elif isinstance(metric, FunctionMetric):
        true, pred = zip(*comm.allgather((metric.true, metric.pred)), strict=True)
        metric.true, metric.pred = [a for t in true for a in t], [a for p in pred for a in p]
    else:
        warnings.warn(
            f"metric {metric.name}: a {type(metric).__name__} cannot be combined across "
            f"ranks; every rank logs rank 0's share of the batches",
            UserWarning,
            stacklevel=2,
        )
        vars(metric).update(comm.bcast(vars(metric), root=0))


def mute(callbacks: Sequence[Callback]) -> None:
    """Silence the progress bar and stop `tinynet.checkpoint`'s callbacks from writing
    (they still restore a checkpoint): what ranks other than 0 do."""
    from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint

    def nothing(*_: Any) -> None:
        return None

    for callback in callbacks:
        if isinstance(callback, ProgressBar):
            callback.verbose = 0
        elif isinstance(callback, (ModelCheckpoint, BackupAndRestore)):
            vars(callback).update(on_epoch_end=nothing, on_train_end=nothing)


def fit(
    model: Layer,
    x: FloatArray | None = None,
    y: Array | None = None,
    *,
    callbacks: Iterable[Callback] = (),
    **options: Any,
) -> History:
    """`tinynet.train.fit` (the same arguments) on every rank of ``MPI.COMM_WORLD``, as
    one run: ``batch_size`` is the global batch (the module docstring says how). A rank
    that raises prints ``tinynet: rank R of N failed, stopping every rank: ...`` on
    stderr and aborts the job; with one rank this is `tinynet.train.fit`."""
    comm = communicator()
    try:
        return train.fit(model, x, y, callbacks=[*callbacks, DataParallel(comm)], **options)
    except BaseException as error:
        if comm.Get_size() > 1:
            message = " ".join(str(error).split())
            print(
                f"tinynet: rank {comm.Get_rank()} of {comm.Get_size()} failed, stopping "
                f"every rank: {type(error).__name__}: {message}",
                file=sys.stderr,
                flush=True,
            )
            comm.Abort(1)
        raise
