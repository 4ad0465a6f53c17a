"""The time-to-accuracy table (`benchmarks.suites.time_to_accuracy`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import fmt_percent
from benchmarks.markdown.blocks import table


def time_to_accuracy_markdown(section: dict[str, Any]) -> list[str]:
    """The time-to-accuracy table."""
    rows = [
        [
            fmt_percent(t["target"]),
            "not reached" if not t["reached"] else str(t["epoch"]),
            "-" if not t["reached"] else f"{t['seconds']:.1f}",
        ]
        for t in section["targets"]
    ]
    accuracy = section["history"]["test_accuracy"]
    return [
        f"## Time to accuracy: {section['model']} recipe",
        "",
        f"Training seconds (evaluation excluded) until the test accuracy, evaluated after "
        f"each epoch, first reaches the target; at most {section['max_epochs']} epochs on "
        f"{section['train_samples']:,} samples. Accuracy per epoch: "
        + ", ".join(fmt_percent(a, 2) for a in accuracy)
        + ".",
        "",
        *table(["test accuracy", "reached at epoch", "training seconds"], rows),
    ]
