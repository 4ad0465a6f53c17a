"""tinynet's benchmark suite: speed, accuracy and memory beside reference implementations.

    python -m benchmarks              # full mode (several minutes)
    python -m benchmarks --quick --threads 1   # about a minute
    python -m benchmarks models       # train every models/*.py over seeds: the results table

Every comparison is measured in one process, in alternating rounds (A, B, C, A, B,
C, ...), and reported as a ratio of medians against references timed in the same
run, so a machine that slows down mid-run slows every contender alike. Results go to
``benchmarks/results/<name>.json`` (raw per-round timings included) and ``<name>.md``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

# Leave NumPy's BLAS threads as configured (or as --threads sets them), the same for
# every contender, rather than tinynet's default for a busy machine (`tinynet.threads`).
os.environ.setdefault("TINYNET_BLAS_THREADS", "keep")


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` if None); return the exit status.

    Imported lazily, so ``import benchmarks.timing`` does not load every suite.
    """
    from benchmarks.cli import run as run_cli

    return run_cli(argv)


__all__ = ["run"]
