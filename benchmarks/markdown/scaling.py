"""Step time against batch size and against width (`benchmarks.suites.scaling`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_percent
from benchmarks.markdown.blocks import rate_cells, ratio_cells, step_cells, table


def scaling_markdown(section: dict[str, Any]) -> list[str]:
    """Step time against batch size and against width."""
    lines = [
        "## Scaling: step time against batch size and width (float32)",
        "",
        "Time that grows with the FLOPs means the products dominate; time that stays flat "
        "as FLOPs shrink means per-layer overhead does.",
        "",
    ]
    rows = []
    for c in section["by_batch"]:
        p = c["params"]
        rows.append(
            [
                str(p["batch"]),
                f"{p['flops_per_step'] / 1e6:,.2f}",
                *step_cells(c, "tinynet", "torch", "numpy", "gemm"),
                *tinynet_cells(c),
            ]
        )
    lines += table(
        [
            "batch",
            "MFLOP/step",
            "tinynet ms",
            "PyTorch ms",
            "NumPy ms",
            "GEMM ms",
            "tinynet samples/s",
            "efficiency",
            "tinynet / PyTorch",
        ],
        rows,
    )
    rows = []
    for c in section["by_width"]:
        p = c["params"]
        rows.append(
            [
                "-".join(map(str, p["sizes"])),
                f"{p['parameters']:,}",
                f"{p['flops_per_step'] / 1e6:,.2f}",
                *step_cells(c, "tinynet", "torch", "gemm"),
                *tinynet_cells(c),
            ]
        )
    batch = section["by_width"][0]["params"]["batch"] if section["by_width"] else "-"
    lines += [
        "",
        f"Width (batch {batch}):",
        "",
        *table(
            [
                "net",
                "parameters",
                "MFLOP/step",
                "tinynet ms",
                "PyTorch ms",
                "GEMM ms",
                "tinynet samples/s",
                "efficiency",
                "tinynet / PyTorch",
            ],
            rows,
        ),
    ]
    return lines


def tinynet_cells(comparison: dict[str, Any]) -> list[str]:
    """The last three columns of both tables: tinynet's samples/s, its efficiency (GEMM
    time over its step time) and its speed against PyTorch."""
    efficiency = fmt_percent(comparison["ratios"].get("tinynet/gemm"))
    return [
        *rate_cells(comparison, "tinynet"),
        efficiency,
        *ratio_cells(comparison, "tinynet/torch"),
    ]
