"""The suite's plot: throughput against batch size, and step time against FLOPs.

Drawn from a run's JSON alone (so an old results file can be plotted again) with
matplotlib, which is optional: without it `plot` draws nothing and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.formatting import CASE_LABELS, plural


def plot(results: dict[str, Any], path: Path) -> bool:
    """Throughput against batch size (and step time against FLOPs when the width sweep
    ran) as a PNG; ``False`` when matplotlib is missing or there is nothing to plot."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        return False
    plain = FuncFormatter(lambda value, _: f"{value:,.0f}" if value >= 1 else f"{value:g}")
    sections = results["sections"]
    by_batch = sections.get("scaling", {}).get("by_batch") or [
        c
        for c in sections.get("step", {}).get("comparisons", [])
        if c["params"]["dtype"] == "float32"
    ]
    by_width = sections.get("scaling", {}).get("by_width", [])
    if not by_batch:
        return False
    panels = 2 if by_width else 1
    figure, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.8), squeeze=False)
    styles = {"tinynet": "o-", "torch": "s--", "numpy": "^-.", "gemm": "k:"}
    left = axes[0][0]
    for name, style in styles.items():
        points = [
            (c["params"]["batch"], c["cases"][name]["samples_per_second"])
            for c in by_batch
            if name in c["cases"]
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            left.plot(xs, ys, style, label=CASE_LABELS[name])
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    batches = sorted({c["params"]["batch"] for c in by_batch})
    left.set_xticks(batches, [str(b) for b in batches])
    left.xaxis.set_minor_formatter(NullFormatter())
    left.yaxis.set_major_formatter(plain)
    left.set_xlabel("batch size")
    left.set_ylabel("training samples/s (forward + backward + Adam)")
    left.set_title("784-128-64-10, float32: step throughput")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    if by_width:
        right = axes[0][1]
        for name, style in styles.items():
            points = [
                (c["params"]["flops_per_step"], c["cases"][name]["seconds_per_step"] * 1e3)
                for c in by_width
                if name in c["cases"]
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                right.plot(xs, ys, style, label=CASE_LABELS[name])
        for c in by_width:
            right.annotate(
                f"W={c['params']['sizes'][1]}",
                (c["params"]["flops_per_step"], c["cases"]["tinynet"]["seconds_per_step"] * 1e3),
                textcoords="offset points",
                xytext=(4, -12),
                fontsize=8,
            )
        batch = by_width[0]["params"]["batch"]
        right.set_xscale("log")
        right.set_yscale("log")
        right.yaxis.set_major_formatter(plain)
        right.yaxis.set_minor_formatter(NullFormatter())
        right.set_xlabel("FLOPs per training step")
        right.set_ylabel("ms per step")
        right.set_title(f"784-W-W/2-10, batch {batch}: step time against FLOPs")
        right.grid(True, which="both", alpha=0.3)
        right.legend()
    machine = results["machine"]
    figure.suptitle(
        f"tinynet benchmarks ({results['settings']['mode']}): {machine['cpu']}, "
        f"{plural(machine['blas_threads'], 'BLAS thread')}",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    figure.savefig(temp, format="png", dpi=110)
    plt.close(figure)
    temp.replace(path)
    return True
