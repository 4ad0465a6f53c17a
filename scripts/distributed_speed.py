"""The step-time model of docs/distributed.md: measured compute, modelled ring allreduce.

    OPENBLAS_NUM_THREADS=1 python scripts/distributed_speed.py            # the table
    OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python scripts/distributed_speed.py allreduce

The first form times one training step (forward, backward, Adam) of
models/mnist_mlp.py on one core at each per-rank batch, then models the step of N
machines: compute at the rank's batch plus a ring allreduce of the float32 gradient
(``2 (N - 1) / N`` of its bytes at ``BANDWIDTH``, ``2 (N - 1)`` messages of ``LATENCY``).
The second times the real ``Allreduce`` of that gradient between two local ranks.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tinynet.layers.base import Layer
from tinynet.losses import CrossEntropyLoss
from tinynet.modelfile import load_model_file
from tinynet.optim import Adam

BANDWIDTH = 10e9 / 8
"""Bytes per second of each link: 10 Gbit/s Ethernet."""
LATENCY = 20e-6
"""Seconds per message (TCP over 10 GbE; InfiniBand is nearer 2 us)."""
GLOBAL_BATCH = 128
MACHINES = (1, 2, 4, 8, 16, 32, 64)


def mlp() -> Layer:
    """models/mnist_mlp.py's network (float32)."""
    return load_model_file(str(Path(__file__).parent.parent / "models" / "mnist_mlp.py")).build(0)


def step_seconds(model: Layer, batch: int, repeats: int = 200) -> float:
    """The fastest of ``repeats`` forward, backward and Adam steps at ``batch`` rows, in
    seconds (the least disturbed by other work on a shared machine)."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    loss, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss.forward(model.forward(x), y)
        optimizer.zero_grad()
        model.backward_params(loss.backward())
        optimizer.step()
        times.append(time.perf_counter() - start)
    return min(times)


def ring_seconds(machines: int, nbytes: int) -> float:
    """A ring allreduce of ``nbytes`` over ``machines`` (reduce-scatter, then allgather)."""
    if machines == 1:
        return 0.0
    steps = 2 * (machines - 1)
    return steps * LATENCY + steps / machines * nbytes / BANDWIDTH


def table() -> None:
    """Print the model for the strong (global batch 128) and weak (128 per machine) cases."""
    model = mlp()
    nbytes = 4 * model.num_parameters()
    compute = {n: step_seconds(model, max(GLOBAL_BATCH // n, 1)) for n in MACHINES}
    full = compute[1]
    print(f"gradient {nbytes:,} bytes; one step at batch {GLOBAL_BATCH}: {1e3 * full:.3f} ms")
    print(
        "| N | rows per rank | compute ms | allreduce ms | step ms | efficiency, "
        "global 128 | efficiency, 128 per rank |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in MACHINES:
        ring = ring_seconds(n, nbytes)
        strong = full / (n * (compute[n] + ring))
        weak = full / (full + ring)
        print(
            f"| {n} | {max(GLOBAL_BATCH // n, 1)} | {1e3 * compute[n]:.3f} | {1e3 * ring:.3f} | "
            f"{1e3 * (compute[n] + ring):.3f} | {100 * strong:.0f}% | {100 * weak:.0f}% |"
        )


def allreduce() -> None:
    """Time the fused ``Allreduce`` of the MLP's float32 gradient between the ranks."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    grad = np.ones(mlp().num_parameters(), dtype=np.float32)
    times = []
    for _ in range(200):
        comm.Barrier()
        start = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
        times.append(time.perf_counter() - start)
    if comm.Get_rank() == 0:
        print(
            f"Allreduce of {grad.nbytes:,} bytes over {comm.Get_size()} ranks: "
            f"median {1e3 * float(np.median(times)):.3f} ms"
        )


if __name__ == "__main__":
    allreduce() if sys.argv[1:] == ["allreduce"] else table()
