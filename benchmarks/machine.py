"""What the numbers were measured on: CPU, cores, load, NumPy and its BLAS, torch.

`machine_info` collects it as JSON-ready values; `describe` turns it into the lines the
suite prints first. BLAS threads come from threadpoolctl, which reads them from the
loaded library itself (the environment variables only say what was asked for), and
`limit_threads` sets them through it (``--threads``).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux, else `platform`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def core_counts() -> dict[str, int | None]:
    """Logical and physical cores, and the cores this process may run on."""
    physical: int | None = None
    try:
        import psutil

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        pass
    affinity = getattr(os, "sched_getaffinity", None)
    usable = len(affinity(0)) if callable(affinity) else os.cpu_count()
    return {"logical": os.cpu_count(), "physical": physical, "usable": usable}


def load_average() -> list[float] | None:
    """The 1, 5 and 15-minute load averages (``None`` where the OS has none)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def blas_libraries() -> list[dict[str, Any]]:
    """Every BLAS loaded in this process (threadpoolctl's view), NumPy's marked.

    Each entry: ``library`` (internal API, e.g. openblas), ``version``, ``threads``,
    ``architecture`` (the kernel OpenBLAS chose), ``file`` and ``numpy`` (whether NumPy
    uses it). Empty when threadpoolctl is not installed.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    numpy_dir = str(Path(np.__file__).resolve().parent)
    libraries = []
    for entry in threadpool_info():
        if entry.get("user_api") != "blas":
            continue
        path = str(entry.get("filepath", ""))
        libraries.append(
            {
                "library": entry.get("internal_api"),
                "version": entry.get("version"),
                "threads": entry.get("num_threads"),
                "architecture": entry.get("architecture"),
                "threading_layer": entry.get("threading_layer"),
                "file": Path(path).name,
                "numpy": path.startswith(numpy_dir) or "numpy.libs" in path,
            }
        )
    if libraries and not any(lib["numpy"] for lib in libraries):
        libraries[0]["numpy"] = True  # a system BLAS linked outside NumPy's folder
    return libraries


BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNPINNED = "TINYNET_BENCH_UNPINNED"
"""Set by ``python -m benchmarks`` when it ran itself again without `BLAS_OVERRIDES`:
the settings it removed."""


def blas_overrides() -> dict[str, str]:
    """OpenBLAS settings forced through the environment (some machines pin an older
    CPU's kernels to dodge bugs of old OpenBLAS builds), by variable name."""
    return {name: os.environ[name] for name in BLAS_OVERRIDES if name in os.environ}


def override_note(overrides: dict[str, str]) -> str | None:
    """What a reader must know when ``overrides`` were set, or ``None``."""
    if not overrides:
        return None
    settings = ", ".join(f"{k}={v}" for k, v in overrides.items())
    unset = " ".join(f"-u {k}" for k in BLAS_OVERRIDES)
    verb = "were" if len(overrides) > 1 else "was"
    return (
        f"{settings} {verb} set in the environment: NumPy's OpenBLAS ran the kernels named "
        f"there, whatever this CPU supports (PyTorch's MKL is unaffected). To measure the "
        f"CPU's own kernels: env {unset} python -m benchmarks"
    )


def numpy_blas_threads() -> int:
    """The threads NumPy's BLAS uses (1 when it cannot be told)."""
    for library in blas_libraries():
        if library["numpy"] and isinstance(library["threads"], int):
            return library["threads"]
    return 1


def limit_threads(threads: int | None) -> Any:
    """Apply ``--threads`` to every BLAS in the process; return the limiter to keep alive."""
    if threads is None:
        return None
    if threads < 1:
        raise SystemExit(f"benchmarks: --threads must be at least 1, got {threads}")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise SystemExit(
            "benchmarks: --threads needs threadpoolctl (pip install threadpoolctl)"
        ) from None
    return threadpool_limits(limits=threads, user_api="blas")


def numpy_blas_build() -> dict[str, Any]:
    """The BLAS NumPy was built against: name and version from ``np.show_config``."""
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return {"name": blas.get("name"), "version": blas.get("version")}
    except (TypeError, KeyError, AttributeError):
        return {}


def torch_info() -> dict[str, Any] | None:
    """torch's version, threads and BLAS backend, or ``None`` when it is not importable."""
    try:
        import torch
    except ImportError:
        return None
    config = torch.__config__.show()
    backend = "MKL" if "USE_MKL=ON" in config else "other"
    return {
        "version": torch.__version__,
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "blas": backend,
    }


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or ``None``."""
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine_info(dtype: str = "float32", *, with_torch: bool = True) -> dict[str, Any]:
    """Everything about the machine and libraries a result depends on, JSON-ready.

    ``with_torch=False`` leaves torch out (``None``) without importing it.
    """
    return {
        "cpu": cpu_model(),
        "cores": core_counts(),
        "load_average": load_average(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numpy_blas": numpy_blas_build(),
        "blas": blas_libraries(),
        "blas_threads": numpy_blas_threads(),
        "blas_overrides": blas_overrides(),
        "unpinned": os.environ.get(UNPINNED),
        "torch": torch_info() if with_torch else None,
        "scikit_learn": package_version("scikit-learn"),
        "tinynet": package_version("tinynet-nn") or _tinynet_version(),
        "dtype": dtype,
    }


def _tinynet_version() -> str:
    import tinynet

    return tinynet.__version__


def describe(info: dict[str, Any]) -> list[str]:
    """The machine as a few printable lines."""
    cores = info["cores"]
    lines = [
        f"CPU: {info['cpu']} ({cores['physical']} physical / {cores['logical']} logical cores, "
        f"{cores['usable']} usable), load average {info['load_average']}",
        f"Python {info['python']} on {info['platform']}",
    ]
    build = info["numpy_blas"]
    lines.append(
        f"NumPy {info['numpy']} with {build.get('name', '?')} {build.get('version', '')}".rstrip()
    )
    for lib in info["blas"]:
        mark = " (NumPy's)" if lib["numpy"] else ""
        threads = f"{lib['threads']} thread" + ("" if lib["threads"] == 1 else "s")
        lines.append(
            f"  BLAS{mark}: {lib['library']} {lib['version']}, {threads}, "
            f"{lib['architecture']} kernels, {lib['file']}"
        )
    note = override_note(info.get("blas_overrides", {}))
    if note:
        lines.append(f"  warning: {note}")
    if info.get("unpinned"):
        lines.append(
            f"  the CPU's own kernels: {info['unpinned']} removed for this run "
            f"(--keep-blas-pin measures the pinned ones)"
        )
    torch = info["torch"]
    if torch is None:
        lines.append("torch: not installed or not used")
    else:
        threads = f"{torch['threads']} thread" + ("" if torch["threads"] == 1 else "s")
        lines.append(f"torch {torch['version']}: {threads}, {torch['blas']} BLAS")
    lines.append(f"scikit-learn: {info['scikit_learn'] or 'not installed'}")
    lines.append(f"tinynet {info['tinynet']}; default dtype {info['dtype']}")
    return lines
