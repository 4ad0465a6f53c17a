"""Step time against batch size and against width (`benchmarks.suites.scaling`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_ms, fmt_percent, fmt_rate, fmt_ratio
from benchmarks.markdown.blocks import case_rate, case_step, table


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
                fmt_ms(case_step(c, "tinynet")),
                fmt_ms(case_step(c, "torch")),
                fmt_ms(case_step(c, "numpy")),
                fmt_ms(case_step(c, "gemm")),
                fmt_rate(case_rate(c, "tinynet")),
                fmt_percent(c["ratios"].get("tinynet/gemm")),
                fmt_ratio(c["ratios"].get("tinynet/torch")),
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
                fmt_ms(case_step(c, "tinynet")),
                fmt_ms(case_step(c, "torch")),
                fmt_ms(case_step(c, "gemm")),
                fmt_rate(case_rate(c, "tinynet")),
                fmt_percent(c["ratios"].get("tinynet/gemm")),
                fmt_ratio(c["ratios"].get("tinynet/torch")),
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
