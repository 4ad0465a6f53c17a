"""Where results go and how they are written: `RESULTS` and `write_results`.

Both commands (the suite, ``python -m benchmarks``, and the models table, ``python -m
benchmarks models``) write through `write_results`: the JSON (everything, raw rounds
included) with `tinynet.io.write_json`, then the Markdown and the plot rendered from
it. Every file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.markdown import render_markdown
from benchmarks.plot import plot as plot_results
from tinynet.atomic import atomic_write
from tinynet.io import write_json

RESULTS = Path(__file__).resolve().parent / "results"
"""The default folder of the results files: ``benchmarks/results``."""


def write_results(results: dict[str, Any], out: Path, name: str, *, plot: bool) -> None:
    """Write ``name``.json and ``name``.md (and ``name``.png for a suite) into ``out``."""
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    write_json(json_path, results)  # NaN as null: strict JSON
    write_text(md_path, render_markdown(results))
    print(f"\nwrote {json_path}\nwrote {md_path}", flush=True)
    if plot and results.get("kind") == "suite":
        png = out / f"{name}.png"
        if plot_results(results, png):
            print(f"wrote {png}", flush=True)
        else:
            print("no plot (matplotlib missing, or no batch-size data)", flush=True)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))
