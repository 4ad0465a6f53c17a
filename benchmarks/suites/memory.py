"""Peak memory (RSS) of a full training run, each framework in its own subprocess.

A fresh interpreter per run (`benchmarks.memory_probe`) so that nothing the suite
allocated is counted. The interesting figure is the peak during training above the
RSS after loading the data: what training itself costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.context import Context
from benchmarks.nets import ROOT

MIB = 1024 * 1024


def probe(
    ctx: Context,
    framework: str,
    epochs: int,
    train: int,
    model_file: Path | None = None,
    extra: Sequence[str] = (),
) -> dict[str, Any] | None:
    """Run the probe on ``model_file`` (default: the run's) with ``extra`` arguments; its
    JSON, or ``None`` (with a note) if it failed."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.memory_probe",
        "--model-file",
        str(model_file or ctx.model_file.path),
        "--framework",
        framework,
        "--epochs",
        str(epochs),
        "--train",
        str(train),
        "--seed",
        str(ctx.settings.seed),
        "--threads",
        str(ctx.threads),
        *extra,
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if done.returncode != 0:
        ctx.note(f"memory: the {framework} probe failed: {done.stderr.strip()[-500:]}")
        return None
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(ctx: Context) -> dict[str, Any]:
    """Peak RSS of training the model file's net with its recipe: tinynet, then torch."""
    settings = ctx.settings
    epochs = settings.memory_epochs or ctx.model_file.recipe.epochs
    train = len(ctx.data.x_train)
    runs = {}
    for framework in ("tinynet", "torch"):
        if framework == "torch" and not (settings.memory_peers and ctx.has("torch")):
            continue
        ctx.log(f"memory: {framework}, {epochs} epoch(s) on {train:,} samples in a subprocess ...")
        result = probe(ctx, framework, epochs, train)
        if result is None:
            continue
        runs[framework] = result
        peak = result["peak_rss_training"]
        extra = (
            f", training peak {peak / MIB:.0f} MiB "
            f"(+{(peak - result['rss_after_data']) / MIB:.0f} MiB over the data)"
            if peak is not None and result["rss_after_data"] is not None
            else ""
        )
        ctx.log(
            f"memory {framework}: after imports {result['rss_after_imports'] / MIB:.0f} MiB, "
            f"after data {result['rss_after_data'] / MIB:.0f} MiB{extra}, "
            f"process peak {result['peak_rss_process'] / MIB:.0f} MiB"
        )
    return {
        "description": "resident set size of a full training run (recipe, float32) in a "
        "fresh process; bytes",
        "epochs": epochs,
        "runs": runs,
    }
