"""The sequence tables (`benchmarks.suites.sequence`): steps, tinynet's profile, memory."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_ms
from benchmarks.markdown.blocks import rate_cells, ratio_cells, step_cells, table
from benchmarks.markdown.cnn import memory_cell

PROFILE_ROWS = 8
"""The slowest (layer class, method) rows shown per model."""


def sequence_markdown(section: dict[str, Any]) -> list[str]:
    """One row per text model for the step and memory, then each model's profile."""
    by_model = {c["params"]["model"]: c for c in section["comparisons"]}
    rows, profiles = [], []
    for model in section["models"]:
        step, loss, runs = by_model[model["name"]], model["first_batch_loss"], model["memory"]
        rows.append(
            [
                model["name"],
                f"{model['parameters']:,}",
                f"{model['batch']} x {model['context']}",
                *rate_cells(step, "tinynet", "torch"),
                *ratio_cells(step, "tinynet/torch"),
                *step_cells(step, "tinynet", "torch"),
                " / ".join(f"{loss[k]:.6f}" for k in ("tinynet", "torch") if k in loss),
                *(memory_cell(runs["runs"].get(k)) for k in ("tinynet", "torch")),
            ]
        )
        profiles += ["", *profile_lines(model)]
    steps = section["models"][0]["memory"]["steps"] if section["models"] else 0
    return [
        "## Sequence models: training step, float32, tokens/s",
        "",
        "Forward + cross-entropy over (N, T, vocab) + backward + AdamW (the recipe's "
        "arguments; no clipping or schedule) on tiny-shakespeare windows; PyTorch runs "
        "`tinynet.io.to_torch` of the same model from the same weights on the same "
        "batches. Loss of the first batch: both compute it before training (the same "
        f"figure: one model). Memory: peak RSS of {steps} training steps in a fresh "
        "process, above the RSS after loading the text (MiB).",
        "",
        *table(
            [
                "model",
                "parameters",
                "batch x context",
                "tinynet",
                "PyTorch",
                "tinynet / PyTorch",
                "tinynet ms/step",
                "PyTorch ms/step",
                "first-batch loss (tinynet / PyTorch)",
                "tinynet training memory",
                "PyTorch training memory",
            ],
            rows,
        ),
        *profiles,
    ]


def profile_lines(model: dict[str, Any]) -> list[str]:
    """Where tinynet's step goes: the parts, then the slowest layer classes' methods."""
    profile = model["profile"]
    parts = ", ".join(f"{name} {fmt_ms(ms / 1000)}" for name, ms in profile["parts"].items())
    step = fmt_ms(profile["step_ms"] / 1000)
    rows = [
        [
            row["layer"],
            row["method"],
            fmt_ms(row["ms"] / 1000),
            f"{row['ms'] / profile['step_ms']:.0%}",
        ]
        for row in profile["layers"][:PROFILE_ROWS]
    ]
    return [
        f"Where {model['name']}'s tinynet step goes ({profile['steps']} timed steps, every "
        f"layer's methods wrapped in a timer; ms per step): step {step}: "
        f"{parts}. A layer's `backward` includes its `backward_params`; attention's "
        "`out_proj` is counted under Dense too.",
        "",
        *table(["layer", "method", "ms/step", "share of the step"], rows, align="llrr"),
    ]
