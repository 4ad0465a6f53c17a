"""Where results go and how they are written: `RESULTS` and `write_results`.

Both commands (the suite, ``python -m benchmarks``, and the models table, ``python -m
benchmarks models``) write through `write_results`, so their files are named and
written alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks import report

RESULTS = Path(__file__).resolve().parent / "results"
"""The default folder of the results files: ``benchmarks/results``."""


def write_results(results: dict[str, Any], out: Path, name: str, *, plot: bool) -> None:
    """Write ``name``.json and ``name``.md (and ``name``.png for a suite) into ``out``."""
    json_path, md_path = out / f"{name}.json", out / f"{name}.md"
    report.write_json(json_path, results)
    report.write_text(md_path, report.render_markdown(results))
    print(f"\nwrote {json_path}\nwrote {md_path}", flush=True)
    if plot and results.get("kind") == "suite":
        png = out / f"{name}.png"
        if report.plot(results, png):
            print(f"wrote {png}", flush=True)
        else:
            print("no plot (matplotlib missing, or no batch-size data)", flush=True)
