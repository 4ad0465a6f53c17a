"""The whole-epoch table with the final accuracies (`benchmarks.suites.epochs`)."""

from __future__ import annotations

from typing import Any

from benchmarks.formatting import CASE_LABELS, fmt_percent, fmt_rate, fmt_ratio
from benchmarks.markdown.blocks import case_rate, table


def epochs_markdown(section: dict[str, Any]) -> list[str]:
    """The whole-epoch table with the final accuracies."""
    c = section["comparison"]
    epochs = section["epochs"]
    tiny = case_rate(c, "tinynet")
    rows = []
    for name, case in c["cases"].items():
        rate = case["samples_per_second"]
        accuracy = c["test_accuracy"].get(name)
        agreement = c.get("agreement_with_tinynet", {}).get(name)
        rows.append(
            [
                CASE_LABELS.get(name, name),
                fmt_rate(rate),
                f"{case['median_seconds']:.2f}",
                fmt_ratio(None if tiny is None else tiny / rate),
                fmt_percent(accuracy, 2),
                fmt_percent(agreement, 1),
            ]
        )
    p = c["params"]
    return [
        f"## A training epoch: shuffling, batching, metrics ({p['train_samples']:,} samples, "
        f"batch {p['batch']}, {epochs} epochs)",
        "",
        "tinynet = `fit` with its progress bar; PyTorch = its ordinary epoch loop "
        "(randperm-indexed batches, loss and accuracy kept); scikit-learn = "
        "`MLPClassifier.partial_fit` per epoch; NumPy = a hand-written loop. All train "
        "plain cross-entropy with Adam at the model file's learning rate (no schedule, "
        "label smoothing or augmentation). Test accuracy "
        "after the same epochs on the same data (scikit-learn draws its own initial weights), "
        "and the share of test images each labels as tinynet does.",
        "",
        *table(
            [
                "contender",
                "samples/s",
                "s/epoch",
                "tinynet speed-up",
                "test accuracy",
                "same label as tinynet",
            ],
            rows,
        ),
    ]
