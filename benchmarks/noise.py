"""What a reader must be warned of in a run: a busy machine, cases with noisy rounds.

`iter_comparisons` walks every alternating comparison in a run's sections (as they are
in the JSON), for `noise_notes` and for anything else that checks them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def iter_comparisons(sections: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every alternating comparison in a run's sections, with its section's name."""
    for name, section in sections.items():
        for key in ("comparisons", "by_batch", "by_width"):
            for comparison in section.get(key, []):
                yield name, comparison
        if "comparison" in section:
            yield name, section["comparison"]


NOISY_SPREAD = 0.5
"""Rounds of one case differing by more than this fraction of their median are noisy."""


def noise_notes(
    load_before: list[float] | None,
    load_after: list[float] | None,
    cores: int | None,
    sections: dict[str, Any],
) -> list[str]:
    """Warnings a reader needs: a busy machine, cases whose rounds varied widely."""
    notes = []
    loads = [x[0] for x in (load_before, load_after) if x]
    if cores and loads and max(loads) > 0.75 * cores:
        notes.append(
            f"busy machine: 1-minute load average {max(loads):.2f} on {cores} cores "
            "(other processes compete for the CPU; ratios of alternating rounds are still "
            "fairer than absolute speeds, which are low and noisy; with several BLAS threads "
            "a busy machine can slow every contender many times over: try --threads 1)"
        )
    noisy = [
        (case["spread"], comparison["title"], name)
        for _, comparison in iter_comparisons(sections)
        for name, case in comparison["cases"].items()
        if len(case["seconds"]) > 1 and case["spread"] > NOISY_SPREAD
    ]
    total = sum(len(c["cases"]) for _, c in iter_comparisons(sections))
    if noisy:
        spread, title, name = max(noisy)
        notes.append(
            f"noisy rounds: {len(noisy)} of {total} cases had rounds differing by more than "
            f"{100 * NOISY_SPREAD:.0f}% of their median (worst: {name} in '{title}', "
            f"{100 * spread:.0f}%); the medians absorb some of it"
        )
    return notes
