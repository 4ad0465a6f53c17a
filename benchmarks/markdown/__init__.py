"""Results as Markdown, rendered from a run's JSON alone (so an old file can be again).

`render_markdown` picks the document by the run's kind: a suite run's report
(`benchmarks.markdown.suite`, each section's tables in the module of the section's
name) or the models table (`benchmarks.markdown.models`).
"""

from __future__ import annotations

from typing import Any

from benchmarks.markdown.models import render_models
from benchmarks.markdown.suite import render_suite


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report of a suite run (``kind == "suite"``) or a models run."""
    return render_models(results) if results.get("kind") == "models" else render_suite(results)


__all__ = ["render_markdown"]
