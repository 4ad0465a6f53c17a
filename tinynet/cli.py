"""The ``tinynet`` command (also ``python -m tinynet``): train, evaluate, summarize models.

tinynet train models/mnist_mlp.py --seed 0 --save mlp.npz --metrics-json m.json
tinynet evaluate models/mnist_mlp.py --weights mlp.npz
tinynet summary models/mnist_mlp.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

import tinynet
from tinynet.atomic import atomic_write
from tinynet.datasets import load_fashion_mnist, load_mnist
from tinynet.modelfile import load_model_file
from tinynet.typing import Array, FloatArray

Dataset = tuple[tuple[FloatArray, Array], tuple[FloatArray, Array]]
DATASETS: dict[str, Callable[..., Dataset]] = {
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
}


def load_dataset(name: str, folder: str | None) -> Dataset:
    """``(x_train, y_train), (x_test, y_test)`` of a dataset by name, flattened, float32."""
    return DATASETS[name](folder)


def command_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train a model file's network with its recipe, report test metrics, save on request."""
    model_file = load_model_file(args.model_file)
    recipe = model_file.recipe
    if args.epochs is not None:
        recipe = replace(recipe, epochs=args.epochs)
    epochs = recipe.epochs
    dataset = args.dataset or recipe.dataset
    (x_train, y_train), (x_test, y_test) = load_dataset(dataset, args.data)
    model = model_file.build(args.seed)
    print(
        f"tinynet {tinynet.__version__}: training {model_file.name} "
        f"({model.num_parameters():,} parameters) on {dataset} for {epochs} epochs, "
        f"seed {args.seed}",
        flush=True,
    )
    start = time.perf_counter()
    history = recipe.fit(model, x_train, y_train, seed=args.seed, verbose=args.verbose)
    seconds = time.perf_counter() - start
    scores = recipe.evaluate(model, x_test, y_test)
    metrics = {
        "model": model_file.name,
        "dataset": dataset,
        "seed": args.seed,
        "epochs": len(history.epoch),
        "parameters": model.num_parameters(),
        "test_accuracy": scores.get("accuracy"),
        "test_loss": scores["loss"],
        "train_seconds": seconds,
        "train_samples_per_second": len(history.epoch) * x_train.shape[0] / seconds,
        "recipe": recipe.to_dict(),
        "history": history.history,
        "tinynet_version": tinynet.__version__,
        "numpy_version": np.__version__,
    }
    print(
        f"test accuracy {100 * scores.get('accuracy', float('nan')):.2f}% "
        f"(test loss {scores['loss']:.4f}) after {metrics['epochs']} epochs "
        f"in {seconds:.1f} s ({metrics['train_samples_per_second']:,.0f} samples/s)"
    )
    if args.metrics_json:
        write_json(args.metrics_json, metrics)
    return metrics


def command_summary(args: argparse.Namespace) -> dict[str, Any]:
    """Print the layer table of a model file's network."""
    model_file = load_model_file(args.model_file)
    model = model_file.build(0)
    summary = getattr(model, "summary", None)
    if callable(summary):
        summary()
    else:
        print(repr(model), f"\nTotal params: {model.num_parameters():,}", sep="")
    print(f"Recipe: {model_file.recipe}")
    return {"parameters": model.num_parameters()}


def write_json(path: str | Path, value: Any) -> None:
    """Write ``value`` as indented JSON, atomically."""
    with atomic_write(path) as handle:
        handle.write(json.dumps(value, indent=2).encode() + b"\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="tinynet", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=tinynet.__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model file on a dataset")
    train.add_argument("model_file", help="a Python file with build(seed) and RECIPE")
    train.add_argument("--dataset", choices=sorted(DATASETS), help="default: the recipe's")
    train.add_argument("--data", metavar="DIR", help="a folder holding the four IDX files")
    train.add_argument("--epochs", type=int, help="default: the recipe's")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", metavar="PATH", help="write the trained model here")
    train.add_argument("--metrics-json", metavar="PATH", help="write test metrics as JSON")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    train.set_defaults(run=command_train)

    summary = commands.add_parser("summary", help="print a model file's layers")
    summary.add_argument("model_file")
    summary.set_defaults(run=command_summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (errors print one line, status 2)."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (FileNotFoundError, ValueError, TypeError) as error:
        print(f"tinynet {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
