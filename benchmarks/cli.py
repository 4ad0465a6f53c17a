"""The command line: ``python -m benchmarks [--quick | --smoke] ...`` and ``... models``.

python -m benchmarks                      full suite -> benchmarks/results/full.{json,md,png}
python -m benchmarks --quick --threads 1  about a minute
python -m benchmarks --smoke --out DIR    every section at toy sizes (the tests use it)
python -m benchmarks --sections step inference --peers torch
python -m benchmarks models --seeds 0 1 2 [--epochs N]
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import machine, noise
from benchmarks.context import Context
from benchmarks.data import load
from benchmarks.nets import mnist_mlp_file
from benchmarks.output import RESULTS, write_results
from benchmarks.peers import PEERS, available
from benchmarks.settings import settings_for
from benchmarks.suites import RUNNERS, SECTIONS

INSTALL_HINTS = {
    "torch": "pip install torch (or the project's [bench] extra)",
    "sklearn": "pip install scikit-learn (or the project's [bench] extra)",
    "numpy": "numpy is required",
}


def suite_parser() -> argparse.ArgumentParser:
    """Arguments of the suite (the default command)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="tinynet's benchmark suite (run 'python -m benchmarks models -h' for the "
        "models table)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true", help="smaller rounds: about a minute with --threads 1"
    )
    mode.add_argument("--smoke", action="store_true", help="toy sizes, seconds (for tests)")
    mode.add_argument("--full", action="store_true", help="the default: every size, longer")
    parser.add_argument(
        "--out", type=Path, default=RESULTS, metavar="DIR", help=f"default {RESULTS}"
    )
    parser.add_argument("--name", help="results file name (default: the mode)")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        metavar="SECTION",
        help=f"some of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--peers",
        nargs="*",
        choices=PEERS,
        default=list(PEERS),
        metavar="PEER",
        help=f"some of {', '.join(PEERS)} (default: all installed; none with no names)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="limit NumPy's BLAS (and torch) to this many threads (default: as configured)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, help="override the mode's number of rounds")
    parser.add_argument("--data", metavar="DIR", help="folder with the MNIST IDX files")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    return parser


def run_suite(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Measure every selected section, print progress, write JSON, Markdown and PNG.

    ``argv`` is recorded in the results as the command that produced them.
    """
    started = time.perf_counter()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    settings = settings_for(mode, seed=args.seed, rounds=args.rounds)
    limiter = machine.limit_threads(args.threads)
    threads = machine.numpy_blas_threads()
    peers = available(tuple(args.peers))
    if peers.get("torch"):
        from benchmarks.peers import torch_mlp

        torch_mlp.set_threads(threads)
    info = machine.machine_info("float32")
    print(f"tinynet benchmarks, {mode} mode", flush=True)
    for line in machine.describe(info):
        print(line, flush=True)
    load_now, cores = info["load_average"], info["cores"]["usable"]
    if load_now and cores and load_now[0] > 0.75 * cores and threads > 1:
        print(
            f"warning: load average {load_now[0]:.2f} on {cores} cores: {threads} BLAS threads "
            "will fight other processes for the CPU; consider --threads 1",
            flush=True,
        )
    data = load("mnist", args.data, train=settings.train_subset, test=settings.test_subset)
    print(data.describe(), flush=True)
    ctx = Context(settings, data, mnist_mlp_file(), peers, threads)
    override = machine.override_note(info["blas_overrides"])
    if override:
        ctx.note(override)
    for peer in PEERS:
        if peer not in args.peers:
            ctx.note(f"{peer}: left out by --peers")
        elif not peers[peer]:
            ctx.note(f"{peer}: not installed, skipped ({INSTALL_HINTS[peer]})")
    selected = [name for name in SECTIONS if args.sections is None or name in args.sections]
    sections: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name in selected:
        print(f"\n== {name} ==", flush=True)
        start = time.perf_counter()
        sections[name] = RUNNERS[name](ctx)
        timings[name] = time.perf_counter() - start
    load_after = machine.load_average()
    for note in noise.noise_notes(
        info["load_average"], load_after, info["cores"]["usable"], sections
    ):
        ctx.note(note)
    name = args.name or mode
    results = {
        "schema": "tinynet-benchmarks/1",
        "kind": "suite",
        "name": name,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks", *argv]),
        "machine": info,
        "load_average_after": load_after,
        "settings": settings.to_dict(),
        "threads": threads,
        "settle_seconds": ctx.settle_seconds,
        "peers": peers,
        "data": data.describe(),
        "sections": sections,
        "section_seconds": timings,
        "notes": ctx.notes,
        "elapsed_seconds": time.perf_counter() - started,
    }
    write_results(results, args.out, name, plot=not args.no_plot)
    del limiter
    return 0


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv``; return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["models"]:
        from benchmarks import model_files

        return model_files.main(arguments[1:])
    return run_suite(suite_parser().parse_args(arguments), arguments)
