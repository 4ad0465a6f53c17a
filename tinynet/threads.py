"""How many threads NumPy's BLAS starts with: tinynet's default, chosen before NumPy loads.

OpenBLAS starts one thread per core and, between products, its threads spin waiting
for each other. On a machine whose cores other processes keep busy, a thread that loses
its core holds up every product: measured on a 2-core machine at a load average of 5,
``tinynet train models/mnist_mlp.py`` took 59-76 s with two BLAS threads and 5-11 s
with one. So `policy` gives OpenBLAS as many threads as the machine has idle cores (its
usable cores less the 1-minute load average, rounded), at least one: all of them on an
idle machine, one on a busy one.

It applies only while NumPy is not yet imported (OpenBLAS reads its thread count when
it loads) and when the user has not chosen: ``OPENBLAS_NUM_THREADS`` or
``OMP_NUM_THREADS`` set, or ``TINYNET_BLAS_THREADS=keep``, leave OpenBLAS as it is
configured. The variable tinynet sets is removed again once NumPy is loaded, so
processes it starts decide for themselves. This module imports nothing but the standard
library, and needs no threadpoolctl.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

CHOICE = "TINYNET_BLAS_THREADS"
"""Set to ``keep`` to leave the BLAS threads as configured (the benchmarks do)."""
USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
"""Variables by which a user chooses OpenBLAS's threads; when either is set, tinynet
does not choose."""

chosen: int | None = None
"""The thread count tinynet gave OpenBLAS at import, or ``None`` if it left it as
configured (the user chose, NumPy was already loaded, or every core was idle)."""


def idle_cores(load: float, cores: int) -> int:
    """``cores`` less the (rounded) ``load`` average, at least 1: e.g. 2 on an idle
    2-core machine, 1 at a load of 0.6 or more there, 1 at a load of 5."""
    return max(1, min(cores, cores - int(load + 0.5)))


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS says)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def policy(environ: Mapping[str, str]) -> int | None:
    """The BLAS threads to start with, or ``None`` to leave the configured default:
    the user chose in ``environ``, the OS gives no load average, or no core is busy."""
    if environ.get(CHOICE) == "keep" or any(name in environ for name in USER_VARIABLES):
        return None
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # no load average (Windows)
        return None
    cores = usable_cores()
    threads = idle_cores(load, cores)
    return threads if threads < cores else None


def load_numpy() -> None:
    """Import NumPy with `policy`'s thread count, if NumPy is not loaded yet; record it
    in `chosen`."""
    global chosen
    if "numpy" in sys.modules:
        return
    threads = policy(os.environ)
    if threads is None:
        return
    os.environ["OPENBLAS_NUM_THREADS"] = str(threads)
    try:
        import numpy  # noqa: F401  (OpenBLAS reads the variable as it loads)
    finally:
        del os.environ["OPENBLAS_NUM_THREADS"]
    chosen = threads


load_numpy()
