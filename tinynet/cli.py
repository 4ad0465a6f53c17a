"""The ``tinynet`` command (also ``python -m tinynet``): train, evaluate, summarize models.

tinynet train models/mnist_mlp.py --seed 0 --save mlp.npz --metrics-json m.json
tinynet train models/nielsen_30.py --recipe tuned --plot pictures/
tinynet evaluate models/mnist_mlp.py --weights mlp.npz
tinynet predict mlp.npz digit.png
tinynet summary models/mnist_mlp.py
tinynet export mlp.npz mlp.onnx

Every error is one line on stderr, ``tinynet COMMAND: error: ...`` naming the file or
option and the problem, and exit status 2; ``--debug`` (or ``TINYNET_DEBUG=1``) shows
the full traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinynet.atomic import check_writable
from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint
from tinynet.data import validation_split
from tinynet.datasets import DATASETS, dataset_info, load_dataset, load_idx_folder
from tinynet.datasets.mnist import Split
from tinynet.images import predict_images
from tinynet.inference import count_correct, forward_in_batches, probabilities
from tinynet.inference import evaluate as evaluate_model
from tinynet.io import load, load_full, save, write_json
from tinynet.layers.base import Layer
from tinynet.modelfile import ModelFileError, line_in, load_model_file
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
    check_outputs(args, model, recipe, x_train[:2], y_train[:2], validation is not None)
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


def check_outputs(
    args: argparse.Namespace,
    model: Layer,
    recipe: Recipe,
    x_probe: FloatArray,
    y_probe: Array,
    validating: bool,
) -> None:
    """Before training, refuse what would fail after it: an output path that cannot be
    written (`tinynet.atomic.check_writable`: a directory, a file as a folder, no
    permission, less free space than the model's arrays take), and a ``--checkpoint``
    template that names a value the run will not log or cannot be formatted
    (`ModelCheckpoint.check_filepath`, with the names the run will log). ``x_probe`` and
    ``y_probe`` are two training samples: one forward in inference mode tells whether
    the run logs accuracy. Raises ``ValueError``/``OSError`` naming the option."""
    weights = sum(array.nbytes for array in model.state_dict(copy=False).values())
    outputs: list[tuple[str, str | None, int]] = [
        ("--save", args.save, weights),
        ("--metrics-json", args.metrics_json, 0),
        ("--plot", args.plot and str(Path(args.plot) / "curves.png"), 0),
        ("--resume", args.resume, weights),
    ]
    if args.checkpoint and not args.resume:
        outputs_probe = forward_in_batches(model, x_probe)
        classifies = count_correct(outputs_probe, recipe.prepare_targets(y_probe, model.dtype))
        metrics = ["loss", *(["accuracy"] if classifies is not None else [])]
        names = [*metrics, "lr", "seconds", "samples_per_second"]
        if validating:
            names += [f"val_{name}" for name in metrics]
        elif args.plot:
            names += [f"test_{name}" for name in metrics]
        try:
            first = ModelCheckpoint(args.checkpoint).check_filepath(names)
        except ValueError as error:
            message = str(error).removeprefix("ModelCheckpoint: ")
            raise ValueError(f"--checkpoint: {message}") from None
        outputs.append(("--checkpoint", str(first), weights))
    for option, path, size in outputs:
        if path:
            try:
                check_writable(path, size)
            except OSError as error:
                raise type(error)(f"{option}: {error}") from None


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
    export_onnx(load(args.weights), args.output, shape, opset=args.opset)
    print(f"wrote {args.output} (ONNX opset {args.opset}, input 'input', output 'output')")
    return {"output": args.output}


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line too (the usage: ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = ArgumentParser(prog="tinynet", description=__doc__.split("\n")[0])
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
        help="one sample's shape, e.g. 784 or 1,28,28 (default: the first layer's features)",
    )
    export.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    export.set_defaults(run=command_export)
    for sub in (parser, *commands.choices.values()):  # tinynet --debug train, train ... --debug
        sub.add_argument(
            "--debug",
            action="store_true",
            default=False if sub is parser else argparse.SUPPRESS,
            help="on an error, print the full traceback (also: TINYNET_DEBUG=1)",
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status.

    Any error prints one line, ``tinynet COMMAND: error: MESSAGE``, and returns 2: the
    documented ones (``OSError``: a missing or unwritable file, a failed download, a
    full disk; ``ValueError``/``TypeError``: a bad file or argument; ``ImportError``: an
    optional extra missing; ``ArithmeticError``: training diverged) as their message,
    anything else with its type. One raised inside the model file's code names its
    file and line. With ``--debug`` or ``TINYNET_DEBUG=1`` the error is raised instead,
    with its full traceback. Ctrl-C prints ``interrupted`` and returns 130. NumPy's
    floating-point warnings are off: a diverged run is reported by the loss check.
    """
    args = build_parser().parse_args(argv)
    debug = args.debug or os.environ.get("TINYNET_DEBUG", "") not in ("", "0")
    try:
        # NumPy's overflow warnings would add lines to the one-line error that follows:
        # tinynet checks what matters itself (a non-finite loss, output or weight).
        with np.errstate(all="ignore"):
            args.run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"tinynet {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug:
            raise
        print(f"tinynet {args.command}: error: {one_line(error, args)}", file=sys.stderr)
        return 2
    return 0


DOCUMENTED = (OSError, ValueError, TypeError, ImportError, ArithmeticError)
"""The errors whose message says it all; others are shown with their type's name."""


def one_line(error: Exception, args: argparse.Namespace) -> str:
    """``error`` as one line for the terminal: its message on one line, its type's name
    unless it is a documented error, and the model file's line if it came from there."""
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    if isinstance(error, ModelFileError):
        return message
    if not isinstance(error, DOCUMENTED) or not message:
        message = f"{type(error).__name__}: {message}" if message else type(error).__name__
    model_file = getattr(args, "model_file", None)
    line = line_in(error, model_file) if model_file else None
    return f"{model_file}:{line}: {message}" if line is not None else message
