"""The Markdown table of a models run (``python -m benchmarks models``): one row per
model file and recipe, accuracy over the seeds beside the file's reported figure."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_percent, fmt_rate
from benchmarks.markdown.blocks import machine_lines, notes_lines, table


def render_models(results: dict[str, Any]) -> str:
    """The models table: one row per model file and recipe."""
    rows = []
    for m in results["models"]:
        spread = m["test_accuracy_std"]
        accuracy = fmt_percent(m["test_accuracy_mean"], 2)
        if len(m["runs"]) > 1:
            accuracy += f" ± {100 * spread:.2f}"
        rows.append(
            [
                m["name"],
                m.get("recipe_name", "-"),
                f"{m['parameters']:,}",
                m["recipe_summary"],
                str(m["epochs"]),
                f"{m['train_seconds_mean']:.1f}",
                fmt_rate(m["samples_per_second_mean"]),
                accuracy,
                ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in m["runs"]),
                m.get("reported") or "-",
            ]
        )
    s = results["settings"]
    lines = [
        f"# tinynet models: {results['name']}",
        "",
        *machine_lines(results),
        "",
        f"Each model file's `build(seed)` trained with each of its recipes for seeds "
        f"{', '.join(map(str, s['seeds']))}; test accuracy as mean ± standard deviation over "
        "the seeds; time is training only.",
        "",
        *table(
            [
                "model",
                "recipe",
                "parameters",
                "settings",
                "epochs",
                "train s",
                "samples/s",
                "test accuracy",
                "per seed (%)",
                "reported",
            ],
            rows,
            align="llrlrrrrrr",
        ),
    ]
    lines += notes_lines(results)
    return "\n".join(lines) + "\n"
