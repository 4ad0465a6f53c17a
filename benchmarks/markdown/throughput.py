"""The step-throughput, GEMM-ceiling and inference tables (`benchmarks.suites.throughput`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_ms, fmt_percent
from benchmarks.markdown.blocks import rate_cells, ratio_cells, table


def step_markdown(section: dict[str, Any]) -> list[str]:
    """The step-throughput table and the GEMM-ceiling table."""
    rows = []
    for c in section["comparisons"]:
        p = c["params"]
        rows.append(
            [
                p["dtype"],
                str(p["batch"]),
                *rate_cells(c, "tinynet", "torch", "torch_fused", "numpy", "gemm"),
                *ratio_cells(c, "tinynet/torch", "tinynet/torch_fused", "tinynet/numpy"),
            ]
        )
    lines = [
        "## Training step: forward + backward + Adam, samples/s",
        "",
        "The 784-128-64-10 net; each contender's bare step loop over the same pre-shuffled "
        "batches, from the same initial weights. PyTorch = `torch.optim.Adam` with its "
        "defaults; PyTorch fused = `Adam(fused=True)`.",
        "",
        *table(
            [
                "dtype",
                "batch",
                "tinynet",
                "PyTorch",
                "PyTorch fused",
                "NumPy loop",
                "GEMM ceiling",
                "tinynet / PyTorch",
                "tinynet / fused",
                "tinynet / NumPy",
            ],
            rows,
        ),
        "",
        "## The GEMM ceiling",
        "",
        f"One step's matrix products alone ({section['flops_per_sample']:,} FLOPs per sample, "
        "the first layer's input gradient excluded), with `np.matmul(..., out=)` on the same "
        "shapes and threads. Efficiency = GEMM time / tinynet step time.",
        "",
    ]
    rows = [
        [
            row["dtype"],
            str(row["batch"]),
            fmt_ms(row["gemm_seconds_per_step"]),
            fmt_ms(row["tinynet_seconds_per_step"]),
            f"{row['gemm_gflops']:.1f}",
            f"{row['tinynet_gflops']:.1f}",
            fmt_percent(row["efficiency"]),
        ]
        for row in section["gemm_ceiling"]
    ]
    lines += table(
        [
            "dtype",
            "batch",
            "GEMM ms/step",
            "tinynet ms/step",
            "GEMM GFLOP/s",
            "tinynet GFLOP/s",
            "efficiency",
        ],
        rows,
    )
    return lines


def inference_markdown(section: dict[str, Any]) -> list[str]:
    """The inference table."""
    rows = []
    for c in section["comparisons"]:
        rows.append(
            [
                c["params"]["dtype"],
                *rate_cells(c, "tinynet", "tinynet_forward", "torch", "numpy", "sklearn"),
                *ratio_cells(c, "tinynet/torch", "tinynet_forward/torch"),
            ]
        )
    test = section["comparisons"][0]["params"]["test_samples"] if section["comparisons"] else 0
    return [
        f"## Inference: labels for the {test:,} test images, samples/s",
        "",
        "tinynet = `tinynet.train.predict` (batches of 1024, input checks); tinynet forward "
        "= `model.forward(x).argmax(1)` in eval mode; the peers predict all at once.",
        "",
        *table(
            [
                "dtype",
                "tinynet predict",
                "tinynet forward",
                "PyTorch",
                "NumPy loop",
                "scikit-learn",
                "tinynet / PyTorch",
                "forward / PyTorch",
            ],
            rows,
        ),
    ]
