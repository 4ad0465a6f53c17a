"""Results as files: JSON (everything, raw rounds included), a Markdown table, a plot.

The Markdown and the plot are rendered from the JSON alone, so an old results file
can be re-rendered (`render_markdown`, `plot`). Files are written atomically.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from tinynet.atomic import atomic_write

CASE_LABELS = {
    "tinynet": "tinynet",
    "tinynet_forward": "tinynet forward",
    "torch": "PyTorch",
    "torch_fused": "PyTorch fused Adam",
    "sklearn": "scikit-learn",
    "numpy": "NumPy loop",
    "gemm": "GEMM ceiling",
}


# --- numbers as text -------------------------------------------------------------------


def plural(count: int, noun: str) -> str:
    """``1 thread``, ``2 threads``."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def fmt_rate(value: float | None) -> str:
    """Samples per second: ``95,123``; ``-`` for a missing value."""
    return "-" if value is None else f"{value:,.0f}"


def fmt_ms(seconds: float | None) -> str:
    """Seconds as milliseconds with 3 significant digits: ``1.23``, ``0.0456``."""
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    return f"{ms:.3g}" if ms < 1000 else f"{ms:,.0f}"


def fmt_ratio(value: float | None) -> str:
    """A speed ratio: ``1.19x``."""
    return "-" if value is None else f"{value:.2f}x"


def fmt_percent(value: float | None, digits: int = 0) -> str:
    """A fraction as a percentage: ``63%``."""
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def fmt_mib(value: float | None) -> str:
    """Bytes as MiB: ``212``."""
    return "-" if value is None else f"{value / 2**20:,.0f}"


def summary_line(title: str, result: dict[str, Any], efficiency_of: str | None = None) -> str:
    """One progress line for a comparison: every case's speed and the ratios."""
    cases = ", ".join(
        f"{name} {fmt_rate(case['samples_per_second'])}/s" for name, case in result["cases"].items()
    )
    ratios = []
    for name, value in result["ratios"].items():
        if efficiency_of is not None and name.endswith("/" + efficiency_of):
            ratios.append(f"efficiency {fmt_percent(value)}")
        else:
            ratios.append(f"{name} {fmt_ratio(value)}")
    return f"{title}: {cases}" + (f" | {', '.join(ratios)}" if ratios else "")


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


# --- files ---------------------------------------------------------------------------


def finite_json(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None`` (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_write(path) as handle:
        handle.write(text.encode("utf-8"))


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Write ``value`` as indented JSON, atomically."""
    write_text(path, json.dumps(finite_json(value), indent=2, allow_nan=False) + "\n")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A Markdown table; ``align`` has one letter per column (``l`` or ``r``; default r
    but the first column l)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def case_rate(comparison: dict[str, Any], name: str) -> float | None:
    """Samples per second of one case of a comparison's JSON, if it ran."""
    case = comparison["cases"].get(name)
    return None if case is None else float(case["samples_per_second"])


def case_step(comparison: dict[str, Any], name: str) -> float | None:
    """Seconds per step of one case of a comparison's JSON, if it ran."""
    case = comparison["cases"].get(name)
    return None if case is None else case.get("seconds_per_step")


# --- Markdown ----------------------------------------------------------------------------


def render_markdown(results: dict[str, Any]) -> str:
    """The whole report of a suite run (``kind == "suite"``) or a models run."""
    if results.get("kind") == "models":
        return render_models_markdown(results)
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
    renderers = [
        ("step", step_markdown),
        ("inference", inference_markdown),
        ("epochs", epochs_markdown),
        ("time_to_accuracy", time_to_accuracy_markdown),
        ("scaling", scaling_markdown),
        ("memory", memory_markdown),
        ("dtypes", dtypes_markdown),
    ]
    for key, render in renderers:
        if key in sections:
            lines += ["", *render(sections[key])]
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


def machine_lines(results: dict[str, Any]) -> list[str]:
    """The machine and libraries, as a bullet list."""
    m = results["machine"]
    cores = m["cores"]
    numpy_blas = next((b for b in m["blas"] if b["numpy"]), None)
    blas = (
        f"{numpy_blas['library']} {numpy_blas['version']} ({numpy_blas['architecture']} "
        f"kernels), {plural(numpy_blas['threads'], 'thread')}"
        if numpy_blas
        else "unknown BLAS"
    )
    torch = m["torch"]
    torch_text = (
        "not installed or not used"
        if torch is None
        else f"{torch['version']}, {plural(torch['threads'], 'thread')} ({torch['blas']} BLAS)"
    )
    after = results.get("load_average_after")
    return [
        f"- Machine: {m['cpu']}, {cores['physical']} physical / {cores['logical']} logical "
        f"cores; load average {m['load_average']} at the start, {after} at the end",
        f"- Python {m['python']}, NumPy {m['numpy']} with {blas}",
        f"- PyTorch {torch_text}; scikit-learn {m['scikit_learn'] or 'not installed'}; "
        f"tinynet {m['tinynet']}",
        f"- Data: {results['data']}; the run took {results['elapsed_seconds']:.0f} s, "
        f"started {results['created']}",
    ]


def step_markdown(section: dict[str, Any]) -> list[str]:
    """The step-throughput table and the GEMM-ceiling table."""
    rows = []
    for c in section["comparisons"]:
        p, r = c["params"], c["ratios"]
        rows.append(
            [
                p["dtype"],
                str(p["batch"]),
                fmt_rate(case_rate(c, "tinynet")),
                fmt_rate(case_rate(c, "torch")),
                fmt_rate(case_rate(c, "torch_fused")),
                fmt_rate(case_rate(c, "numpy")),
                fmt_rate(case_rate(c, "gemm")),
                fmt_ratio(r.get("tinynet/torch")),
                fmt_ratio(r.get("tinynet/torch_fused")),
                fmt_ratio(r.get("tinynet/numpy")),
            ]
        )
    lines = [
        "## Training step: forward + backward + Adam, samples/s",
        "",
        "The 784-128-64-10 net; each contender's bare step loop over the same pre-shuffled "
        "batches, from the same initial weights. PyTorch = `torch.optim.Adam` with its "
        "defaults; PyTorch fused = `Adam(fused=True)`.",
        "",
        *table(
            [
                "dtype",
                "batch",
                "tinynet",
                "PyTorch",
                "PyTorch fused",
                "NumPy loop",
                "GEMM ceiling",
                "tinynet / PyTorch",
                "tinynet / fused",
                "tinynet / NumPy",
            ],
            rows,
        ),
        "",
        "## The GEMM ceiling",
        "",
        f"One step's matrix products alone ({section['flops_per_sample']:,} FLOPs per sample, "
        "the first layer's input gradient excluded), with `np.matmul(..., out=)` on the same "
        "shapes and threads. Efficiency = GEMM time / tinynet step time.",
        "",
    ]
    rows = [
        [
            row["dtype"],
            str(row["batch"]),
            fmt_ms(row["gemm_seconds_per_step"]),
            fmt_ms(row["tinynet_seconds_per_step"]),
            f"{row['gemm_gflops']:.1f}",
            f"{row['tinynet_gflops']:.1f}",
            fmt_percent(row["efficiency"]),
        ]
        for row in section["gemm_ceiling"]
    ]
    lines += table(
        [
            "dtype",
            "batch",
            "GEMM ms/step",
            "tinynet ms/step",
            "GEMM GFLOP/s",
            "tinynet GFLOP/s",
            "efficiency",
        ],
        rows,
    )
    return lines


def inference_markdown(section: dict[str, Any]) -> list[str]:
    """The inference table."""
    rows = []
    for c in section["comparisons"]:
        r = c["ratios"]
        rows.append(
            [
                c["params"]["dtype"],
                fmt_rate(case_rate(c, "tinynet")),
                fmt_rate(case_rate(c, "tinynet_forward")),
                fmt_rate(case_rate(c, "torch")),
                fmt_rate(case_rate(c, "numpy")),
                fmt_rate(case_rate(c, "sklearn")),
                fmt_ratio(r.get("tinynet/torch")),
                fmt_ratio(r.get("tinynet_forward/torch")),
            ]
        )
    test = section["comparisons"][0]["params"]["test_samples"] if section["comparisons"] else 0
    return [
        f"## Inference: labels for the {test:,} test images, samples/s",
        "",
        "tinynet = `tinynet.train.predict` (batches of 1024, input checks); tinynet forward "
        "= `model.forward(x).argmax(1)` in eval mode; the peers predict all at once.",
        "",
        *table(
            [
                "dtype",
                "tinynet predict",
                "tinynet forward",
                "PyTorch",
                "NumPy loop",
                "scikit-learn",
                "tinynet / PyTorch",
                "forward / PyTorch",
            ],
            rows,
        ),
    ]


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


def scaling_markdown(section: dict[str, Any]) -> list[str]:
    """Step time against batch size and against width."""
    lines = [
        "## Scaling: step time against batch size and width (float32)",
        "",
        "Time that grows with the FLOPs means the products dominate; time that stays flat "
        "as FLOPs shrink means per-layer overhead does.",
        "",
    ]
    rows = []
    for c in section["by_batch"]:
        p = c["params"]
        rows.append(
            [
                str(p["batch"]),
                f"{p['flops_per_step'] / 1e6:,.2f}",
                fmt_ms(case_step(c, "tinynet")),
                fmt_ms(case_step(c, "torch")),
                fmt_ms(case_step(c, "numpy")),
                fmt_ms(case_step(c, "gemm")),
                fmt_rate(case_rate(c, "tinynet")),
                fmt_percent(c["ratios"].get("tinynet/gemm")),
                fmt_ratio(c["ratios"].get("tinynet/torch")),
            ]
        )
    lines += table(
        [
            "batch",
            "MFLOP/step",
            "tinynet ms",
            "PyTorch ms",
            "NumPy ms",
            "GEMM ms",
            "tinynet samples/s",
            "efficiency",
            "tinynet / PyTorch",
        ],
        rows,
    )
    rows = []
    for c in section["by_width"]:
        p = c["params"]
        rows.append(
            [
                "-".join(map(str, p["sizes"])),
                f"{p['parameters']:,}",
                f"{p['flops_per_step'] / 1e6:,.2f}",
                fmt_ms(case_step(c, "tinynet")),
                fmt_ms(case_step(c, "torch")),
                fmt_ms(case_step(c, "gemm")),
                fmt_rate(case_rate(c, "tinynet")),
                fmt_percent(c["ratios"].get("tinynet/gemm")),
                fmt_ratio(c["ratios"].get("tinynet/torch")),
            ]
        )
    batch = section["by_width"][0]["params"]["batch"] if section["by_width"] else "-"
    lines += [
        "",
        f"Width (batch {batch}):",
        "",
        *table(
            [
                "net",
                "parameters",
                "MFLOP/step",
                "tinynet ms",
                "PyTorch ms",
                "GEMM ms",
                "tinynet samples/s",
                "efficiency",
                "tinynet / PyTorch",
            ],
            rows,
        ),
    ]
    return lines


def memory_markdown(section: dict[str, Any]) -> list[str]:
    """The peak-RSS table."""
    rows = []
    for name, r in section["runs"].items():
        over = (
            None
            if r["peak_rss_training"] is None or r["rss_after_data"] is None
            else r["peak_rss_training"] - r["rss_after_data"]
        )
        rows.append(
            [
                CASE_LABELS.get(name, name),
                str(r["epochs"]),
                f"{r['train_samples']:,}",
                fmt_mib(r["rss_after_imports"]),
                fmt_mib(r["rss_after_data"]),
                fmt_mib(r["peak_rss_training"]),
                fmt_mib(over),
                fmt_mib(r["peak_rss_process"]),
            ]
        )
    return [
        "## Peak memory (RSS, MiB) of a full training run, in a fresh process",
        "",
        *table(
            [
                "framework",
                "epochs",
                "samples",
                "after imports",
                "after data",
                "training peak",
                "training over data",
                "process peak",
            ],
            rows,
        ),
    ]


def dtypes_markdown(section: dict[str, Any]) -> list[str]:
    """float32 against float64."""
    rows = [
        [
            r["dtype"],
            str(r["epochs"]),
            fmt_percent(r["test_accuracy"], 2),
            f"{r['test_loss']:.4f}",
            f"{r['median_epoch_seconds']:.2f}",
            fmt_rate(r["samples_per_second"]),
        ]
        for r in section["runs"]
    ]
    return [
        "## float32 against float64: the recipe in each dtype",
        "",
        *table(["dtype", "epochs", "test accuracy", "test loss", "s/epoch", "samples/s"], rows),
    ]


def settle_sentence(seconds: float) -> str:
    """The report's words for the untimed pause before each round, if there was one."""
    if not seconds:
        return ""
    return (
        f" Each round starts after an untimed {seconds:g} s pause, so the thread pool of "
        "the case before (OpenBLAS's, PyTorch's) has stopped spinning and left the cores."
    )


def render_models_markdown(results: dict[str, Any]) -> str:
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
    if results.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in results["notes"]]
    return "\n".join(lines) + "\n"


# --- plot ------------------------------------------------------------------------------


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
