"""The CNN tables (`benchmarks.suites.cnn`): steps, the GEMM ceiling, inference, memory."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_mib, fmt_ms, fmt_percent
from benchmarks.markdown.blocks import rate_cells, ratio_cells, table


def cnn_markdown(section: dict[str, Any]) -> list[str]:
    """One row per CNN model file for the step, one for inference and memory."""
    by_kind = {(c["params"]["model"], c["params"]["kind"]): c for c in section["comparisons"]}
    step_rows, other_rows = [], []
    for model in section["models"]:
        name = model["name"]
        step = by_kind[(name, "step")]
        step_rows.append(
            [
                name,
                f"{model['parameters']:,}",
                *rate_cells(step, "tinynet", "torch"),
                *ratio_cells(step, "tinynet/torch"),
                f"{model['flops_per_step'] / section['batch'] / 1e6:.1f}",
                fmt_ms(model["gemm_seconds_per_step"]),
                fmt_ms(model["tinynet_seconds_per_step"]),
                fmt_percent(model["efficiency"]),
            ]
        )
        inference = by_kind[(name, "inference")]
        runs = model["memory"]["runs"]
        other_rows.append(
            [
                name,
                f"{inference['params']['test_samples']:,}",
                *rate_cells(inference, "tinynet", "torch"),
                *ratio_cells(inference, "tinynet/torch"),
                *(memory_cell(runs.get(framework)) for framework in ("tinynet", "torch")),
            ]
        )
    memory = section["models"][0]["memory"] if section["models"] else {"epochs": 0}
    return [
        f"## Convolutional nets: training step, batch {section['batch']}, float32, samples/s",
        "",
        "Forward + backward + Adam (lr 1e-3) on (N, 1, 28, 28) MNIST batches; PyTorch runs "
        "the same layers (`torch.nn` twins built from each layer's arguments) from the same "
        "weights on the same batches. The products alone: the step's im2col and dense "
        "matrix products (`np.matmul` on the same shapes, no first-layer input gradient); "
        "efficiency = their time / tinynet's step time.",
        "",
        *table(
            [
                "model",
                "parameters",
                "tinynet",
                "PyTorch",
                "tinynet / PyTorch",
                "MFLOP/sample",
                "products ms/step",
                "tinynet ms/step",
                "efficiency",
            ],
            step_rows,
        ),
        "",
        "Inference: labels for the test images per call, both in batches of 1,024. Memory: "
        f"peak RSS of {memory['epochs']} epoch(s) of the model file's recipe on "
        f"{memory.get('train_samples', 0):,} training images in a fresh process, above the "
        "RSS after loading the data (MiB).",
        "",
        *table(
            [
                "model",
                "test images",
                "tinynet inference",
                "PyTorch inference",
                "tinynet / PyTorch",
                "tinynet training memory",
                "PyTorch training memory",
            ],
            other_rows,
        ),
    ]


def memory_cell(run: dict[str, Any] | None) -> str:
    """Training peak over the data, MiB (``-`` when not measured)."""
    if run is None or run["peak_rss_training"] is None or run["rss_after_data"] is None:
        return "-"
    return fmt_mib(run["peak_rss_training"] - run["rss_after_data"])
