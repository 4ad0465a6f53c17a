"""``python -m benchmarks``: see `benchmarks.cli`.

Measures the CPU as it is: where the environment pins OpenBLAS's kernels
(``OPENBLAS_CORETYPE``, ``OPENBLAS_L2_SIZE``, as these machines do, so NumPy runs
AVX2 kernels on an AVX-512 CPU while PyTorch picks its own), the suite runs itself
again without them (`unpinned`). ``--keep-blas-pin`` measures the pinned kernels.
"""

import os
import sys
from collections.abc import Mapping

from benchmarks import run
from benchmarks.machine import BLAS_OVERRIDES, UNPINNED

KEEP_PIN = "--keep-blas-pin"


def unpinned_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """``environ`` without the kernel pins, naming them under ``UNPINNED`` for the
    report; ``None`` when nothing is pinned."""
    pins = {name: environ[name] for name in BLAS_OVERRIDES if name in environ}
    if not pins:
        return None
    env = {k: v for k, v in environ.items() if k not in pins}
    env[UNPINNED] = ", ".join(f"{k}={v}" for k, v in pins.items())
    return env


def unpinned(argv: list[str]) -> None:
    """Re-run this command without the kernel pins; return only if there are none."""
    env = unpinned_environment(os.environ)
    if env is not None:
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks", *argv], env)


if __name__ == "__main__":
    args = sys.argv[1:]
    if KEEP_PIN in args:
        args.remove(KEEP_PIN)
    else:
        unpinned(args)
    sys.exit(run(args))
