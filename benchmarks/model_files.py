"""``python -m benchmarks models``: train every model file over seeds, tabulate the results.

Each ``*.py`` in models/ (or the files and folders given) is loaded with
`tinynet.modelfile.load_model_file`; for every recipe of the file (its ``RECIPES``, or
its ``RECIPE``) and every seed, its ``build(seed)`` is trained (``Recipe.fit``) and
evaluated on the test set: one table row per file and recipe. A file may define
``REPORTED = "95.42%"``, the published figure of the network it reproduces, shown
beside the measured one on the row of its original recipe.

The results are rewritten after every row, so a long run stopped half-way keeps the
rows it finished.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from benchmarks import machine
from benchmarks.data import Data, load
from benchmarks.nets import MODELS
from benchmarks.output import RESULTS, write_results
from tinynet.datasets import model_layout
from tinynet.modelfile import DEFAULT_RECIPE_NAME, ModelFile, load_model_file
from tinynet.recipe import Recipe


def parser() -> argparse.ArgumentParser:
    """Arguments of the models command."""
    p = argparse.ArgumentParser(
        prog="python -m benchmarks models",
        description="Train every model file for each seed; write a Markdown table and JSON.",
    )
    p.add_argument(
        "paths", nargs="*", type=Path, help=f"model files or folders (default: {MODELS})"
    )
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument(
        "--recipes",
        nargs="+",
        metavar="NAME",
        help="only these recipes of each file (e.g. tuned); default: every one",
    )
    p.add_argument("--epochs", type=int, help="override every recipe's epochs")
    p.add_argument("--subset", type=int, help="train on the first N training images only")
    p.add_argument("--test-subset", type=int, help="evaluate on the first N test images only")
    p.add_argument("--data", metavar="DIR", help="folder with the dataset's IDX files")
    p.add_argument("--threads", type=int, help="limit NumPy's BLAS to this many threads")
    p.add_argument("--out", type=Path, default=RESULTS, metavar="DIR", help=f"default {RESULTS}")
    p.add_argument("--name", default="models", help="results file name (default: models)")
    return p


def model_paths(paths: Sequence[Path]) -> list[Path]:
    """The model files named, with folders expanded to their ``*.py`` (sorted, no ``_*``,
    no text models: a file with a ``TEXT_RECIPE`` trains on characters, not images)."""
    found: list[Path] = []
    for path in paths or [MODELS]:
        if path.is_dir():
            found += sorted(
                p
                for p in path.glob("*.py")
                if not p.name.startswith("_") and "TEXT_RECIPE" not in p.read_text()
            )
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"benchmarks models: no such file or folder: {path}")
    if not found:
        raise FileNotFoundError(f"benchmarks models: no model files in {list(paths)}")
    return found


def recipe_summary(recipe: Recipe) -> str:
    """A short human description: ``adam lr=0.001, batch 128, cross_entropy``."""
    args = ", ".join(f"{k}={v}" for k, v in recipe.optimizer_args.items())
    parts = [f"{recipe.optimizer} {args}".strip()]
    parts.append(f"batch {recipe.batch_size}" if recipe.batch_size else "full batch")
    loss_args = ", ".join(f"{k}={v}" for k, v in recipe.loss_args.items())
    parts.append(recipe.loss + (f" ({loss_args})" if loss_args else ""))
    if recipe.targets != "labels":
        parts.append(f"{recipe.targets} targets")
    if recipe.schedule != "constant":
        schedule_args = ", ".join(f"{k}={v}" for k, v in recipe.schedule_args.items())
        parts.append(
            f"{recipe.schedule} schedule per {recipe.schedule_per}"
            + (f" ({schedule_args})" if schedule_args else "")
        )
    if recipe.max_shift:
        parts.append(f"shifts up to {recipe.max_shift} px")
    return ", ".join(parts)


REPORTED_RECIPES = ("original", DEFAULT_RECIPE_NAME)
"""The recipes a file's ``REPORTED`` figure belongs to: the original network's."""


def reported_figure(model_file: ModelFile, recipe_name: str) -> str | None:
    """The file's ``REPORTED`` string for the row of ``recipe_name``: set only on the
    original (or only) recipe's row, since a tuned variant is not what was published."""
    return model_file.reported if recipe_name in REPORTED_RECIPES else None


def selected_recipes(model_file: ModelFile, names: Sequence[str] | None) -> dict[str, Recipe]:
    """The file's recipes by name (every one, or those of ``names`` it has)."""
    recipes = model_file.named_recipes()
    return {k: v for k, v in recipes.items() if names is None or k in names}


def train_model(
    model_file: ModelFile,
    recipe_name: str,
    recipe: Recipe,
    data: Data,
    seeds: Sequence[int],
    epochs: int | None,
) -> dict[str, Any]:
    """Train ``model_file`` with ``recipe`` once per seed; its row with every run."""
    recipe = recipe if epochs is None else replace(recipe, epochs=epochs)
    runs = []
    parameters = 0
    x_train = model_layout(data.x_train, model_file.input_shape)  # a view: images for a CNN
    x_test = model_layout(data.x_test, model_file.input_shape)
    for seed in seeds:
        model = model_file.build(seed)
        parameters = model.num_parameters()
        start = time.perf_counter()
        history = recipe.fit(model, x_train, data.y_train, seed=seed, verbose=0)
        wall = time.perf_counter() - start
        scores = recipe.evaluate(model, x_test, data.y_test)
        seconds = float(sum(history["seconds"]))
        run: dict[str, Any] = {
            "seed": seed,
            "epochs": len(history.epoch),
            "train_seconds": seconds,
            "wall_seconds": wall,
            "samples_per_second": len(history.epoch) * len(data.x_train) / seconds,
            "test_accuracy": scores["accuracy"],
            "test_loss": scores["loss"],
            "train_accuracy_last_epoch": history.history.get("accuracy", [None])[-1],
        }
        runs.append(run)
        print(
            f"{model_file.name} ({recipe_name}) seed {seed}: "
            f"test accuracy {100 * run['test_accuracy']:.2f}% after {run['epochs']} epochs, "
            f"{seconds:.1f} s ({run['samples_per_second']:,.0f} samples/s)",
            flush=True,
        )
    accuracies = [float(r["test_accuracy"]) for r in runs]
    return {
        "name": model_file.name,
        "recipe_name": recipe_name,
        "path": str(model_file.path),
        "parameters": parameters,
        "recipe": recipe.to_dict(),
        "recipe_summary": recipe_summary(recipe),
        "dataset": recipe.dataset,
        "epochs": recipe.epochs,
        "train_samples": len(data.x_train),
        "test_samples": len(data.x_test),
        "runs": runs,
        "test_accuracy_mean": statistics.fmean(accuracies),
        "test_accuracy_std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "test_accuracy_min": min(accuracies),
        "test_accuracy_max": max(accuracies),
        "train_seconds_mean": statistics.fmean(float(r["train_seconds"]) for r in runs),
        "samples_per_second_mean": statistics.fmean(float(r["samples_per_second"]) for r in runs),
        "reported": reported_figure(model_file, recipe_name),
    }


def main(argv: Sequence[str]) -> int:
    """Run the models command; return the exit status."""
    args = parser().parse_args(list(argv))
    started = time.perf_counter()
    limiter = machine.limit_threads(args.threads)
    files = [load_model_file(path) for path in model_paths(args.paths)]
    info = machine.machine_info("float32", with_torch=False)
    for line in machine.describe(info):
        print(line, flush=True)
    jobs = [(f, k, r) for f in files for k, r in selected_recipes(f, args.recipes).items()]
    if not jobs:
        raise ValueError(f"benchmarks models: no recipe named {args.recipes} in these files")
    datasets: dict[str, Data] = {}
    models: list[dict[str, Any]] = []
    notes: list[str] = []
    if args.subset or args.test_subset:
        notes.append(
            f"data subset: the first {args.subset or 'all'} training and "
            f"{args.test_subset or 'all'} test images"
        )
    if args.epochs is not None:
        notes.append(f"every recipe's epochs overridden to {args.epochs}")
    results: dict[str, Any] = {
        "schema": "tinynet-benchmarks/1",
        "kind": "models",
        "name": args.name,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": info,
        "load_average_after": machine.load_average(),
        "settings": {
            "seeds": list(args.seeds),
            "epochs": args.epochs,
            "subset": args.subset,
            "test_subset": args.test_subset,
        },
        "models": models,
        "notes": notes,
    }
    for model_file, recipe_name, recipe in jobs:
        if recipe.dataset not in datasets:
            data = load(recipe.dataset, args.data, train=args.subset, test=args.test_subset)
            datasets[recipe.dataset] = data
            print(data.describe(), flush=True)
        data = datasets[recipe.dataset]
        models.append(train_model(model_file, recipe_name, recipe, data, args.seeds, args.epochs))
        results["data"] = "; ".join(d.describe() for d in datasets.values())
        results["load_average_after"] = machine.load_average()
        results["elapsed_seconds"] = time.perf_counter() - started
        write_results(results, args.out, args.name, plot=False)
    del limiter
    return 0
