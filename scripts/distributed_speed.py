"""docs/distributed.md's speed figures: measured epochs and steps, a modelled ring allreduce.

    python scripts/distributed_speed.py epochs DIR...                      # measured epochs
    OPENBLAS_NUM_THREADS=1 mpiexec -n 2 python scripts/distributed_speed.py allreduce
    OPENBLAS_NUM_THREADS=1 python scripts/distributed_speed.py model       # N machines

``epochs`` reads the ``--metrics-json`` files scripts/distributed_epochs.sh wrote in each
DIR and prints seconds per epoch and samples per second of each setup, with the
per-round ratios. ``allreduce`` times, on each of the ranks at once, a training step
(forward, backward, Adam) at its share of a batch of ``GLOBAL_BATCH`` and the fused
``Allreduce`` of the model's float32 gradient, and prints the allreduce's share of the
step. ``model`` times a step on one core at each per-rank batch, then models the step
of N machines: compute at the rank's batch plus a ring allreduce of the gradient
(``2 (N - 1) / N`` of its bytes at ``BANDWIDTH``, ``2 (N - 1)`` messages of
``LATENCY``). The last two take model files (default: ``MODELS``).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

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
MODELS = ("models/mnist_mlp.py", "models/lenet5.py", "models/mnist_cnn.py")
"""Relative to the repository root."""
SETUPS = {
    "p2": "1 process, 2 BLAS threads",
    "r2": "2 ranks, 1 BLAS thread each",
    "p1": "1 process, 1 BLAS thread",
}
"""scripts/distributed_epochs.sh's file prefixes."""


def network(path: str) -> tuple[Layer, tuple[int, ...]]:
    """The model file's network (float32) and one sample's shape (784 features if the file
    names no ``INPUT_SHAPE``)."""
    file = load_model_file(Path(__file__).parent.parent / path)
    return file.build(0), tuple(file.input_shape or (784,))


def step_times(
    model: Layer, shape: tuple[int, ...], batch: int, budget: float = 1.0
) -> list[float]:
    """Seconds of forward, backward and Adam steps at ``batch`` rows of ``shape``: 10 to
    200 of them, as many as ``budget`` seconds allow, after ``budget`` seconds of untimed
    ones (a fresh LeNet-5 steps 1.5x slower for its first second, likely while the
    allocator still hands its large buffers back to the system)."""
    rng = np.random.default_rng(0)
    x = rng.random((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    loss, optimizer = CrossEntropyLoss(), Adam(model.parameters(), lr=1e-3)

    def step() -> float:
        start = time.perf_counter()
        loss.forward(model.forward(x), y)
        optimizer.zero_grad()
        model.backward_params(loss.backward())
        optimizer.step()
        return time.perf_counter() - start

    warm_up = time.perf_counter() + budget
    while time.perf_counter() < warm_up:
        step()
    times: list[float] = []
    while len(times) < 10 or (sum(times) < budget and len(times) < 200):
        times.append(step())
    return times


def ring_seconds(machines: int, nbytes: int) -> float:
    """A ring allreduce of ``nbytes`` over ``machines`` (reduce-scatter, then allgather)."""
    if machines == 1:
        return 0.0
    steps = 2 * (machines - 1)
    return steps * LATENCY + steps / machines * nbytes / BANDWIDTH


def first_under_half(efficiency: dict[int, float]) -> str:
    """The first N whose efficiency is under 50%, or that none of them is."""
    under = [n for n, e in efficiency.items() if e < 0.5]
    return f"N = {under[0]}" if under else f"not by N = {max(efficiency)}"


def model_table(path: str) -> tuple[str, str, str]:
    """Print the N-machine model of one network for the strong (global batch 128) and weak
    (128 rows per machine) cases; returns where each falls under 50%."""
    net, shape = network(path)
    nbytes = 4 * net.num_parameters()
    rows = {n: max(GLOBAL_BATCH // n, 1) for n in MACHINES}
    # the fastest step, the one least disturbed by other work on a shared machine, over two
    # passes through the batch sizes: LeNet-5's 128-row step takes 15 ms before the smaller
    # batches have run and 10 ms after (the allocator's state, not the load)
    compute = {n: min(step_times(net, shape, rows[n])) for n in MACHINES}
    compute = {n: min(compute[n], *step_times(net, shape, rows[n])) for n in MACHINES}
    full = compute[1]
    strong = {n: full / (n * (compute[n] + ring_seconds(n, nbytes))) for n in MACHINES}
    weak = {n: full / (full + ring_seconds(n, nbytes)) for n in MACHINES}
    print(
        f"\n{path}: gradient {nbytes:,} bytes; a step of {GLOBAL_BATCH} rows {1e3 * full:.3f} ms\n"
    )
    print(
        "| N | rows per rank | compute ms | allreduce ms | step ms | efficiency, "
        f"global batch {GLOBAL_BATCH} | efficiency, {GLOBAL_BATCH} rows per rank |"
    )
    print("|---|---|---|---|---|---|---|")
    for n in MACHINES:
        ring = ring_seconds(n, nbytes)
        print(
            f"| {n} | {rows[n]} | {1e3 * compute[n]:.3f} | {1e3 * ring:.3f} | "
            f"{1e3 * (compute[n] + ring):.3f} | {100 * strong[n]:.0f}% | {100 * weak[n]:.0f}% |"
        )
    return f"{1e3 * full:.2f}", first_under_half(strong), first_under_half(weak)


def model(paths: list[str]) -> None:
    """Print each network's N-machine table, then where each falls under 50%."""
    print(
        f"Ring allreduce at {BANDWIDTH * 8 / 1e9:g} Gbit/s and {1e6 * LATENCY:g} us a message; "
        "compute: the fastest measured step on one core at the rank's rows."
    )
    summary = {path: model_table(path) for path in paths}
    print(
        "\n| network | step ms at 128 rows, 1 core | global batch 128: under 50% at | "
        "128 rows per rank: under 50% at |"
    )
    print("|---|---|---|---|")
    for path, (full, strong, weak) in summary.items():
        print(f"| {Path(path).stem} | {full} | {strong} | {weak} |")


def allreduce(paths: list[str]) -> None:
    """Time each network's step at its share of the batch and its gradient's ``Allreduce``
    on every rank at once; rank 0 prints the medians and the allreduce's share."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    size = comm.Get_size()
    for path in paths:
        net, shape = network(path)
        steps = step_times(net, shape, GLOBAL_BATCH // size, budget=3.0)
        grad = np.ones(net.num_parameters(), dtype=np.float32)
        times = []
        for _ in range(200):
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, grad, op=MPI.SUM)
            times.append(time.perf_counter() - start)
        step, reduce = float(np.median(steps)), float(np.median(times))
        if comm.Get_rank() == 0:
            print(
                f"{path}: Allreduce of {grad.nbytes:,} bytes over {size} ranks: median "
                f"{1e3 * reduce:.3f} ms; step at {GLOBAL_BATCH // size} rows: median "
                f"{1e3 * step:.3f} ms; the allreduce's share {100 * reduce / (step + reduce):.0f}%"
            )


def read_rounds(folder: str) -> tuple[dict[str, dict[int, float]], dict[str, Any]]:
    """Seconds per epoch (the mean over a run's epochs) of each setup in each complete
    round of a scripts/distributed_epochs.sh folder, and one run's ``--metrics-json``."""
    runs = {
        p: {int(f.stem.split("-")[1]): f for f in Path(folder).glob(f"{p}-*.json")} for p in SETUPS
    }
    complete = sorted(set.intersection(*(set(r) for r in runs.values())))
    seconds = {
        p: {
            r: float(np.mean(json.loads(runs[p][r].read_text())["history"]["seconds"]))
            for r in complete
        }
        for p in SETUPS
    }
    return seconds, json.loads(runs["p1"][complete[0]].read_text())


def epochs(folders: list[str]) -> None:
    """Print the measured table of scripts/distributed_epochs.sh's folders (per setup: the
    median and range of seconds per epoch over the rounds, samples/s, milliseconds per
    step and the median of the per-round ratios of the other setups' epoch to this one's),
    then every round's epoch times beside the load average before it."""
    print(
        "| model | setup | rounds | s/epoch, median (range) | samples/s | ms/step | "
        "speed vs 1 process x 2 threads | vs 1 process x 1 thread |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rounds = []
    for folder in folders:
        seconds, run = read_rounds(folder)
        samples = run["train_samples_per_second"] * run["train_seconds"] / run["epochs"]
        steps = -(-round(samples) // run["recipe"]["batch_size"])
        for p, label in SETUPS.items():
            times = list(seconds[p].values())
            median = statistics.median(times)
            vs = [
                statistics.median(seconds[q][r] / seconds[p][r] for r in seconds[p])
                for q in ("p2", "p1")
            ]
            print(
                f"| {run['model']} | {label} | {len(times)} | {median:.2f} "
                f"({min(times):.2f} - {max(times):.2f}) | {samples / median:,.0f} | "
                f"{1e3 * median / steps:.2f} | {vs[0]:.2f}x | {vs[1]:.2f}x |"
            )
        loads = dict(
            line.split(": ", 1) for line in (Path(folder) / "uptime.txt").read_text().splitlines()
        )
        for r in seconds["p1"]:
            load = loads[f"round {r}"].split("load average: ")[1]
            rounds.append(
                f"| {run['model']} | {r} | {load} | "
                + " | ".join(f"{seconds[p][r]:.2f}" for p in SETUPS)
                + " |"
            )
    print(
        "\n| model | round | load average before it | "
        + " | ".join(f"{label}, s/epoch" for label in SETUPS.values())
        + " |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rounds))


if __name__ == "__main__":
    command, *arguments = sys.argv[1:] or ["model"]
    if command == "epochs":
        epochs(arguments)
    else:
        {"allreduce": allreduce, "model": model}[command](arguments or list(MODELS))
