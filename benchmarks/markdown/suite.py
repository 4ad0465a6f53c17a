"""The Markdown report of a suite run: a header, then each section's tables, then notes.

`RENDERERS` names the renderer of each section, one module each beside this one, as
`benchmarks.suites.RUNNERS` names the function that measures it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.markdown.blocks import machine_lines, notes_lines
from benchmarks.markdown.cnn import cnn_markdown
from benchmarks.markdown.dtypes import dtypes_markdown
from benchmarks.markdown.epochs import epochs_markdown
from benchmarks.markdown.memory import memory_markdown
from benchmarks.markdown.scaling import scaling_markdown
from benchmarks.markdown.sequence import sequence_markdown
from benchmarks.markdown.throughput import inference_markdown, step_markdown
from benchmarks.markdown.time_to_accuracy import time_to_accuracy_markdown

RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "step": step_markdown,
    "inference": inference_markdown,
    "epochs": epochs_markdown,
    "time_to_accuracy": time_to_accuracy_markdown,
    "scaling": scaling_markdown,
    "memory": memory_markdown,
    "dtypes": dtypes_markdown,
    "cnn": cnn_markdown,
    "sequence": sequence_markdown,
}
"""Each section's name -> its Markdown lines from the section's JSON, in report order."""


def render_suite(results: dict[str, Any]) -> str:
    """The whole report of a suite run (``kind == "suite"``)."""
    sections = results["sections"]
    lines = [f"# tinynet benchmarks: {results['name']} ({results['settings']['mode']} mode)", ""]
    lines += machine_lines(results)
    lines += [
        "",
        f"Seed {results['settings']['seed']}. "
        f"Speeds are samples per second over the median of {results['settings']['rounds']} "
        "alternating rounds (A, B, C, A, B, C, ...); every ratio is a quotient of two such "
        "medians measured in the same run. Raw per-round times are in the JSON file."
        + settle_sentence(results.get("settle_seconds", 0.0)),
    ]
    for key, render in RENDERERS.items():
        if key in sections:
            lines += ["", *render(sections[key])]
    lines += notes_lines(results)
    return "\n".join(lines) + "\n"


def settle_sentence(seconds: float) -> str:
    """The report's words for the untimed pause before each round, if there was one."""
    if not seconds:
        return ""
    return (
        f" Each round starts after an untimed {seconds:g} s pause, so the thread pool of "
        "the case before (OpenBLAS's, PyTorch's) has stopped spinning and left the cores."
    )
