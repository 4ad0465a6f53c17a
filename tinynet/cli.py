"""The ``tinynet`` command (also ``python -m tinynet``): train, evaluate, summarize models.

tinynet train models/mnist_mlp.py --seed 0 --save mlp.npz --metrics-json m.json
tinynet train models/nielsen_30.py --recipe tuned --plot pictures/
tinynet evaluate models/mnist_mlp.py --weights mlp.npz
tinynet predict mlp.npz digit.png
tinynet summary models/mnist_mlp.py
tinynet export mlp.npz mlp.onnx
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint
from tinynet.containers import default_input_shape, first_layer
from tinynet.data import validation_split
from tinynet.datasets import DATASETS, dataset_info, load_dataset, load_idx_folder
from tinynet.datasets.mnist import Split
from tinynet.images import predict_images
from tinynet.inference import evaluate as evaluate_model
from tinynet.inference import forward_in_batches, probabilities
from tinynet.io import load, load_full, save, write_json
from tinynet.layers.base import Layer
from tinynet.modelfile import load_model_file
from tinynet.recipe import Recipe
from tinynet.train import Callback, Run
from tinynet.typing import Array, FloatArray
from tinynet.version import __version__


def read_data(name: str, folder: str | None) -> tuple[Split, Split]:
    """``(x_train, y_train), (x_test, y_test)``, flattened, float32: the named dataset
    (found and verified by its loader), or the IDX files in ``folder`` if given."""
    return load_idx_folder(folder) if folder else load_dataset(name)


def command_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train a model file's network with its recipe, report test metrics, save on request."""
    model_file = load_model_file(args.model_file)
    recipe_name, recipe = model_file.get_recipe(args.recipe)
    if args.plot:
        from tinynet.plots import require_matplotlib

        require_matplotlib()  # fail now, not after training
    if args.epochs is not None:
        recipe = replace(recipe, epochs=args.epochs)
    epochs = recipe.epochs
    dataset = args.dataset or recipe.dataset
    (x_train, y_train), (x_test, y_test) = read_data(dataset, args.data)
    validation = None
    if args.validation_split:
        (x_train, y_train), validation = validation_split(x_train, y_train, args.validation_split)
    model = model_file.build(args.seed)
    print(
        f"tinynet {__version__}: training {model_file.name} (recipe {recipe_name}, "
        f"{model.num_parameters():,} parameters) on {dataset} ({x_train.shape[0]:,} images) "
        f"for {epochs} epochs, seed {args.seed}",
        flush=True,
    )
    run_settings = {
        "recipe": recipe.to_dict(),
        "seed": args.seed,
        "dataset": dataset,
        "validation_split": args.validation_split,
    }
    if args.resume:
        require_same_run(args.resume, run_settings)
    callbacks: list[Callback] = []
    if args.plot and not args.validation_split:  # the curves show the test set instead
        callbacks.append(TestSetMonitor(recipe, x_test, y_test))
    if args.resume:  # continues the run saved there, and keeps checkpointing there
        callbacks.append(
            BackupAndRestore(args.resume, every=args.checkpoint_every, metadata=run_settings)
        )
    elif args.checkpoint:
        callbacks.append(
            ModelCheckpoint(args.checkpoint, every=args.checkpoint_every, metadata=run_settings)
        )
    history = recipe.fit(
        model,
        x_train,
        y_train,
        seed=args.seed,
        verbose=args.verbose,
        callbacks=callbacks,
        validation_data=validation,
    )
    logs = history.history
    seconds = sum(history.history.get("seconds", []))  # training only, across resumes
    scores = recipe.evaluate(model, x_test, y_test)
    metrics = {
        "model": model_file.name,
        "recipe_name": recipe_name,
        "dataset": dataset,
        "seed": args.seed,
        "epochs": len(history.epoch),
        "parameters": model.num_parameters(),
        "test_accuracy": scores.get("accuracy"),
        "test_loss": scores["loss"],
        "train_seconds": seconds,
        "train_samples_per_second": len(history.epoch) * x_train.shape[0] / max(seconds, 1e-9),
        "validation_split": args.validation_split,
        "recipe": recipe.to_dict(),
        "history": logs,
        "tinynet_version": __version__,
        "numpy_version": np.__version__,
    }
    print(
        f"test accuracy {100 * scores.get('accuracy', float('nan')):.2f}% "
        f"(test loss {scores['loss']:.4f}) after {metrics['epochs']} epochs "
        f"in {seconds:.1f} s ({metrics['train_samples_per_second']:,.0f} samples/s)"
    )
    if args.save:
        save(model, args.save, metadata={"recipe": recipe.to_dict(), "test": scores})
        print(f"saved the model to {args.save}")
    if args.metrics_json:
        write_json(args.metrics_json, metrics)
    if args.plot:
        title = f"{model_file.name} ({recipe_name}, seed {args.seed})"
        for path in write_plots(args.plot, model, recipe, dataset, logs, x_test, y_test, title):
            print(f"wrote {path}")
    return metrics


def require_same_run(checkpoint: str, settings: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint written with another recipe, seed or dataset: the
    continued run would silently be neither (a schedule depends on the epoch count)."""
    saved = {key: load_full(checkpoint).metadata.get(key) for key in settings}
    differ = sorted(key for key in settings if json.dumps(saved[key]) != json.dumps(settings[key]))
    if differ:
        details = "; ".join(f"{key}: {saved[key]} there, {settings[key]} here" for key in differ)
        raise ValueError(f"{checkpoint} was written by a different run ({details})")


class TestSetMonitor(Callback):
    """After each epoch, log ``test_loss`` and ``test_accuracy`` (the recipe's loss on the
    test set) for the curves of ``--plot``. Only drawn: nothing chooses by them.

    Runs after the epoch's clock stops, so training seconds exclude it."""

    def __init__(self, recipe: Recipe, x_test: FloatArray, y_test: Array) -> None:
        self.loss = recipe.make_loss()
        self.x = x_test
        self.y: Array | None = None
        self.recipe, self.labels = recipe, y_test

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.y is None:
            self.y = self.recipe.prepare_targets(self.labels, run.model.dtype)
        for name, value in evaluate_model(run.model, self.x, self.y, loss=self.loss).items():
            logs[f"test_{name}"] = value  # for the progress line, printed after this
            run.history.history.setdefault(f"test_{name}", []).append(value)


def write_plots(
    folder: str,
    model: Layer,
    recipe: Recipe,
    dataset: str,
    logs: dict[str, list[float]],
    x_test: FloatArray,
    y_test: Array,
    title: str,
) -> list[Path]:
    """The curves, confusion matrix and worst test mistakes of a run, as PNGs in ``folder``.

    The mistakes are ranked by probability (`tinynet.inference.probabilities` with the
    recipe's loss) or, where the outputs are no probabilities (a regression loss), by
    the raw output."""
    from tinynet.plots import save_run_plots

    outputs = forward_in_batches(model, x_test)
    probs = probabilities(model, outputs, recipe.loss)
    scores = outputs if probs is None else probs
    names = dataset_info(dataset).class_names
    return save_run_plots(
        folder,
        history=logs,
        images=x_test,
        y_true=y_test,
        scores=scores,
        class_names=names if len(names) == scores.shape[1] else None,
        score_name="out" if probs is None else "p",
        title=title,
        xlabel="epoch" if recipe.batch_size else "iteration (epoch of full-batch descent)",
    )


def command_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate saved weights on a dataset's test set, with the model file's recipe loss."""
    model_file = load_model_file(args.model_file)
    _, recipe = model_file.get_recipe(args.recipe)
    model = load(args.weights)
    dataset = args.dataset or recipe.dataset
    _, (x_test, y_test) = read_data(dataset, args.data)
    scores = recipe.evaluate(model, x_test, y_test)
    print(
        f"{args.weights} on {dataset} test: accuracy {100 * scores['accuracy']:.2f}%, "
        f"loss {scores['loss']:.4f}"
    )
    return scores


def command_predict(args: argparse.Namespace) -> dict[str, Any]:
    """Print the predicted class and its probability for each image."""
    loaded = load_full(args.weights)
    recipe = loaded.metadata.get("recipe")
    loss = recipe.get("loss") if isinstance(recipe, dict) else None
    predictions = predict_images(
        loaded.model, args.images, invert=args.invert, loss=loss if isinstance(loss, str) else None
    )
    for p in predictions:
        print(f"{p.source}: {p.label} ({100 * p.probability:.1f}%)")
    return {"predictions": len(predictions)}


def command_summary(args: argparse.Namespace) -> dict[str, Any]:
    """Print the layer table of a model file's network."""
    model_file = load_model_file(args.model_file)
    model = model_file.build(0)
    summary = getattr(model, "summary", None)
    if callable(summary):
        summary()
    else:
        print(repr(model), f"\nTotal params: {model.num_parameters():,}", sep="")
    print(f"Recipe ({model_file.recipe_name}): {model_file.recipe}")
    if len(model_file.recipes) > 1:
        print(f"Recipes (--recipe NAME): {', '.join(model_file.recipes)}")
    return {"parameters": model.num_parameters()}


def command_export(args: argparse.Namespace) -> dict[str, Any]:
    """Write a saved model as an ONNX file (`tinynet.io.export_onnx`)."""
    from tinynet.io import export_onnx

    shape = None
    if args.input_shape is not None:
        try:
            shape = tuple(int(d) for d in args.input_shape.replace("x", ",").split(","))
        except ValueError:
            raise ValueError(
                f"--input-shape: expected one sample's shape like 784 or 1,28,28, "
                f"got {args.input_shape!r}"
            ) from None
    model = load(args.weights)
    if shape is None:
        try:
            shape = default_input_shape(model, "tinynet export")
        except ValueError:
            first = repr(first_layer(model)).split("\n")[0]
            raise ValueError(
                f"cannot tell the input shape of {args.weights} from its first layer, "
                f"{first}: pass --input-shape, one sample's shape, e.g. "
                f"--input-shape 1,28,28"
            ) from None
    export_onnx(model, args.output, shape, opset=args.opset)
    print(f"wrote {args.output} (ONNX opset {args.opset}, input 'input', output 'output')")
    return {"output": args.output}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="tinynet", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a model file on a dataset")
    train.add_argument("model_file", help="a Python file with build(seed) and RECIPE")
    train.add_argument("--dataset", choices=sorted(DATASETS), help="default: the recipe's")
    train.add_argument(
        "--data", metavar="DIR", help="train on the four MNIST-layout IDX files in DIR instead"
    )
    train.add_argument("--recipe", metavar="NAME", help="a variant of the file's RECIPES")
    train.add_argument("--epochs", type=int, help="default: the recipe's")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", metavar="PATH", help="write the trained model here")
    train.add_argument("--metrics-json", metavar="PATH", help="write test metrics as JSON")
    train.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    train.add_argument(
        "--validation-split",
        type=float,
        default=0.0,
        metavar="F",
        help="hold out the last fraction F of the training data and report it per epoch",
    )
    train.add_argument(
        "--plot",
        metavar="DIR",
        help="write curves, confusion matrix and worst test mistakes as PNGs (needs matplotlib)",
    )

    train.add_argument("--checkpoint", metavar="PATH", help="write a resumable checkpoint here")
    train.add_argument("--checkpoint-every", type=int, default=1, metavar="N")
    train.add_argument(
        "--resume", metavar="CHECKPOINT", help="continue the run saved there (and checkpoint there)"
    )
    train.set_defaults(run=command_train)

    evaluate = commands.add_parser("evaluate", help="test saved weights on the test set")
    evaluate.add_argument("model_file")
    evaluate.add_argument("--weights", required=True, metavar="PATH")
    evaluate.add_argument("--recipe", metavar="NAME", help="whose loss to report")
    evaluate.add_argument("--dataset", choices=sorted(DATASETS))
    evaluate.add_argument("--data", metavar="DIR")
    evaluate.set_defaults(run=command_evaluate)

    predict = commands.add_parser(
        "predict",
        help="classify 28x28 images (PNG, PGM or .npy): white digit on black, as MNIST",
    )
    predict.add_argument("weights", help="a model saved with --save or tinynet.save")
    predict.add_argument("images", nargs="+", help="PNG/PGM files or .npy batches")
    predict.add_argument("--invert", action="store_true", help="for black digits on white")
    predict.set_defaults(run=command_predict)

    summary = commands.add_parser("summary", help="print a model file's layers")
    summary.add_argument("model_file")
    summary.set_defaults(run=command_summary)

    from tinynet.io.onnx_export import DEFAULT_OPSET

    export = commands.add_parser("export", help="write a saved model as ONNX (needs onnx)")
    export.add_argument("weights", help="a model saved with --save or tinynet.save")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument(
        "--input-shape",
        metavar="SHAPE",
        help="one sample's shape, e.g. 784 or 1,28,28 (default: the first layer's features; "
        "needed for a model that starts with Conv2d, a pool or a reshape)",
    )
    export.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    export.set_defaults(run=command_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (errors print one line, status 2)."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    # OSError: a failed download, a full disk; ImportError: an optional extra missing
    except (OSError, ImportError, ValueError, TypeError) as error:
        print(f"tinynet {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0
