"""The float32 against float64 table (`benchmarks.suites.dtypes`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_percent, fmt_rate
from benchmarks.markdown.blocks import table


def dtypes_markdown(section: dict[str, Any]) -> list[str]:
    """float32 against float64."""
    rows = [
        [
            r["dtype"],
            str(r["epochs"]),
            fmt_percent(r["test_accuracy"], 2),
            f"{r['test_loss']:.4f}",
            f"{r['median_epoch_seconds']:.2f}",
            fmt_rate(r["samples_per_second"]),
        ]
        for r in section["runs"]
    ]
    return [
        "## float32 against float64: the recipe in each dtype",
        "",
        *table(["dtype", "epochs", "test accuracy", "test loss", "s/epoch", "samples/s"], rows),
    ]
