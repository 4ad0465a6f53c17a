"""The peak-memory table (`benchmarks.suites.memory`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import CASE_LABELS, fmt_mib
from benchmarks.markdown.blocks import table


def memory_markdown(section: dict[str, Any]) -> list[str]:
    """The peak-RSS table."""
    rows = []
    for name, r in section["runs"].items():
        over = (
            None
            if r["peak_rss_training"] is None or r["rss_after_data"] is None
            else r["peak_rss_training"] - r["rss_after_data"]
        )
        rows.append(
            [
                CASE_LABELS.get(name, name),
                str(r["epochs"]),
                f"{r['train_samples']:,}",
                fmt_mib(r["rss_after_imports"]),
                fmt_mib(r["rss_after_data"]),
                fmt_mib(r["peak_rss_training"]),
                fmt_mib(over),
                fmt_mib(r["peak_rss_process"]),
            ]
        )
    return [
        "## Peak memory (RSS, MiB) of a full training run, in a fresh process",
        "",
        *table(
            [
                "framework",
                "epochs",
                "samples",
                "after imports",
                "after data",
                "training peak",
                "training over data",
                "process peak",
            ],
            rows,
        ),
    ]
