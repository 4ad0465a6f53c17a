"""Numbers as text: the formats every table, plot and progress line of the suite shares.

Each ``fmt_*`` takes a figure as the JSON holds it (``None`` when it was not measured,
shown as ``-``); `summary_line` is the progress line a comparison prints.
"""

from __future__ import annotations

from typing import Any

CASE_LABELS = {
    "tinynet": "tinynet",
    "tinynet_forward": "tinynet forward",
    "torch": "PyTorch",
    "torch_fused": "PyTorch fused Adam",
    "sklearn": "scikit-learn",
    "numpy": "NumPy loop",
    "gemm": "GEMM ceiling",
}
"""Display names of the cases (contenders) of a comparison, by their JSON name."""


def plural(count: int, noun: str) -> str:
    """``1 thread``, ``2 threads``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def fmt_rate(value: float | None) -> str:
    """Samples per second: ``95,123``; ``-`` for a missing value."""
    return "-" if value is None else f"{value:,.0f}"


def fmt_ms(seconds: float | None) -> str:
    """Seconds as milliseconds with 3 significant digits: ``1.23``, ``0.0456``."""
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 1000 else f"{ms:,.0f}"


def fmt_ratio(value: float | None) -> str:
    """A speed ratio: ``1.19x``."""
    return "-" if value is None else f"{value:.2f}x"


def fmt_percent(value: float | None, digits: int = 0) -> str:
    """A fraction as a percentage: ``63%``."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def fmt_mib(value: float | None) -> str:
    """Bytes as MiB: ``212``."""
    return "-" if value is None else f"{value / 2**20:,.0f}"


def summary_line(title: str, result: dict[str, Any], efficiency_of: str | None = None) -> str:
    """One progress line for a comparison: every case's speed and the ratios."""
    cases = ", ".join(
        f"{name} {fmt_rate(case['samples_per_second'])}/s" for name, case in result["cases"].items()
    )
    ratios = []
    for name, value in result["ratios"].items():
        if efficiency_of is not None and name.endswith("/" + efficiency_of):
            ratios.append(f"efficiency {fmt_percent(value)}")
        else:
            ratios.append(f"{name} {fmt_ratio(value)}")
    return f"{title}: {cases}" + (f" | {', '.join(ratios)}" if ratios else "")
