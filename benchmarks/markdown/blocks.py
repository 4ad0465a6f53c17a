"""What every Markdown report is built of: tables, a case's figures, the machine, notes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from benchmarks.formatting import fmt_ms, fmt_rate, fmt_ratio, plural


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has one letter per column (``l`` or ``r``; default r
    but the first column l)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def case_rate(comparison: dict[str, Any], name: str) -> float | None:
    """Samples per second of one case of a comparison's JSON, if it ran."""
    case = comparison["cases"].get(name)
    return None if case is None else float(case["samples_per_second"])


def case_step(comparison: dict[str, Any], name: str) -> float | None:
    """Seconds per step of one case of a comparison's JSON, if it ran."""
    case = comparison["cases"].get(name)
    return None if case is None else case.get("seconds_per_step")


def rate_cells(comparison: dict[str, Any], *names: str) -> list[str]:
    """The samples per second of each named case, formatted (``-`` where it did not run)."""
    return [fmt_rate(case_rate(comparison, name)) for name in names]


def step_cells(comparison: dict[str, Any], *names: str) -> list[str]:
    """The milliseconds per step of each named case, formatted (``-`` where it did not run)."""
    return [fmt_ms(case_step(comparison, name)) for name in names]


def ratio_cells(comparison: dict[str, Any], *names: str) -> list[str]:
    """Each named ratio (``"tinynet/torch"``), formatted (``-`` where a case did not run)."""
    return [fmt_ratio(comparison["ratios"].get(name)) for name in names]


def machine_lines(results: dict[str, Any]) -> list[str]:
    """The machine and libraries, as a bullet list."""
    m = results["machine"]
    cores = m["cores"]
    numpy_blas = next((b for b in m["blas"] if b["numpy"]), None)
    blas = (
        f"{numpy_blas['library']} {numpy_blas['version']} ({numpy_blas['architecture']} "
        f"kernels), {plural(numpy_blas['threads'], 'thread')}"
        if numpy_blas
        else "unknown BLAS"
    )
    torch = m["torch"]
    torch_text = (
        "not installed or not used"
        if torch is None
        else f"{torch['version']}, {plural(torch['threads'], 'thread')} ({torch['blas']} BLAS)"
    )
    after = results.get("load_average_after")
    return [
        f"- Machine: {m['cpu']}, {cores['physical']} physical / {cores['logical']} logical "
        f"cores; load average {m['load_average']} at the start, {after} at the end",
        f"- Python {m['python']}, NumPy {m['numpy']} with {blas}",
        f"- PyTorch {torch_text}; scikit-learn {m['scikit_learn'] or 'not installed'}; "
        f"tinynet {m['tinynet']}",
        f"- Data: {results['data']}; the run took {results['elapsed_seconds']:.0f} s, "
        f"started {results['created']}",
    ]


def notes_lines(results: dict[str, Any]) -> list[str]:
    """The run's notes as a ``## Notes`` list, after a blank line (none without notes)."""
    if not results.get("notes"):
        return []
    return ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
