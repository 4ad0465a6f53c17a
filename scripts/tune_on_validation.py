"""Choose a model file's training settings on a validation split, never on the test set.

Trains the file's network on the first 50,000 MNIST training images with every
combination of the recipe fields given in ``--grid`` (applied over the ``--base``
recipe) and scores each on the last 10,000 training images. The test set is not loaded.

    python scripts/tune_on_validation.py models/mlp_10_10.py --base tuned \\
        --grid '{"optimizer_args": [{"lr": 0.001}, {"lr": 0.003}], "epochs": [10, 20]}' \\
        --seeds 0 1 --out tune.json

Prints one line per combination, best mean validation accuracy first, and appends
every run to ``--out`` (JSON lines) when given.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from dataclasses import replace
from typing import Any

from tinynet.data import validation_split
from tinynet.datasets import load_mnist
from tinynet.modelfile import load_model_file
from tinynet.recipe import Recipe

VALIDATION = 10_000


def combinations(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every assignment of one value to each field of ``grid`` (its cartesian product)."""
    keys = list(grid)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model_file")
    parser.add_argument("--base", help="the recipe the grid changes (default: the file's)")
    parser.add_argument("--grid", default="{}", help="JSON: recipe field -> list of values")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", help="append each run as a JSON line here")
    args = parser.parse_args()

    model_file = load_model_file(args.model_file)
    base_name, base = model_file.get_recipe(args.base)
    (x, y), _ = load_mnist()  # the test set is dropped here, unseen
    (x_train, y_train), (x_val, y_val) = validation_split(x, y, VALIDATION / x.shape[0])
    print(f"{model_file.name}: {x_train.shape[0]:,} training, {x_val.shape[0]:,} validation images")
    rows = []
    for change in combinations(json.loads(args.grid)):
        recipe: Recipe = replace(base, **change)
        accuracies, seconds = [], []
        for seed in args.seeds:
            model = model_file.build(seed)
            history = recipe.fit(model, x_train, y_train, seed=seed, verbose=0)
            scores = recipe.evaluate(model, x_val, y_val)
            accuracies.append(scores["accuracy"])
            seconds.append(sum(history["seconds"]))
            run = {
                "model": model_file.name,
                "base": base_name,
                "change": change,
                "seed": seed,
                "val_accuracy": scores["accuracy"],
                "val_loss": scores["loss"],
                "train_seconds": seconds[-1],
                "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            }
            if args.out:
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(run) + "\n")
        mean = statistics.fmean(accuracies)
        rows.append((mean, change, accuracies, statistics.fmean(seconds)))
        print(
            f"val {100 * mean:.2f}% {[round(100 * a, 2) for a in accuracies]} "
            f"{statistics.fmean(seconds):.1f}s {json.dumps(change)}",
            flush=True,
        )
    print("best first:")
    for mean, change, _, secs in sorted(rows, key=lambda row: -row[0]):
        print(f"  val {100 * mean:.2f}%  {secs:6.1f}s  {json.dumps(change)}")


if __name__ == "__main__":
    main()
