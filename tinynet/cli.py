"""The tinynet command (also python -m tinynet): train, evaluate and summarize model files,
predict with saved models and export them to ONNX.

Every error is one line on stderr, ``tinynet COMMAND: error: ...`` naming the file or
option and the problem, and exit status 2; ``--debug`` (or ``TINYNET_DEBUG=1``) shows
the full traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from tinynet.atomic import check_writable
from tinynet.checkpoint import KEY as CHECKPOINT_KEY
from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint
from tinynet.cli_data import (
    check_fits,
    predict_inputs,
    prediction_lines,
    read_inputs,
    read_splits,
    write_prediction_file,
)
from tinynet.containers import default_input_shape, first_layer
from tinynet.data import SPLIT_MODES, validation_split
from tinynet.datasets import DATASETS, DataSplits, model_layout
from tinynet.heads import Head
from tinynet.inference import evaluate as evaluate_model
from tinynet.inference import forward_in_batches
from tinynet.io import load, load_full, save, write_json
from tinynet.io.architecture import describe
from tinynet.layers.base import Layer
from tinynet.modelfile import ModelFileError, import_modules, line_in, load_model_file
from tinynet.recipe import Recipe
from tinynet.train import Callback, Run
from tinynet.typing import Array, FloatArray
from tinynet.version import __version__


def recipe_from_args(recipe: Recipe, args: argparse.Namespace) -> Recipe:
    """The recipe with the command line's overrides (``--epochs``, ``--metrics``,
    ``--class-weight``, ``--clip-grad-norm``)."""
    changes: dict[str, Any] = {}
    if getattr(args, "epochs", None) is not None:
        changes["epochs"] = args.epochs
    if getattr(args, "metrics", None):
        changes["metrics"] = tuple(name.strip() for name in args.metrics.split(",") if name)
    if getattr(args, "class_weight", None):
        changes["class_weight"] = parse_class_weight(args.class_weight)
    if getattr(args, "clip_grad_norm", None) is not None:
        changes["clip_grad_norm"] = args.clip_grad_norm
    return replace(recipe, **changes) if changes else recipe


def parse_class_weight(text: str) -> str | dict[str, float]:
    """``balanced``, or ``0=1,1=5`` as ``{"0": 1.0, "1": 5.0}``."""
    if text == "balanced":
        return text
    table = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        try:
            table[str(int(key))] = float(value)
        except ValueError:
            raise ValueError(
                f"--class-weight: expected 'balanced' or CLASS=WEIGHT,..., got {text!r}"
            ) from None
        if not sep:
            raise ValueError(f"--class-weight: expected CLASS=WEIGHT, got {part!r}")
    return table


def command_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train a model file's network with its recipe, report test metrics, save on request."""
    import_modules(args.imports)
    model_file = load_model_file(args.model_file)
    recipe_name, recipe = model_file.get_recipe(args.recipe)
    if args.plot:
        from tinynet.plots import require_matplotlib

        require_matplotlib()  # fail now, not after training
    recipe = recipe_from_args(recipe, args)
    data = read_splits(args.dataset, args.data, args.test_data, args.target, recipe)
    shape = model_file.input_shape  # (1, 28, 28) for a CNN: images; None: flat rows
    x_train, y_train = model_layout(data.x_train, shape, data.source), data.y_train
    model = model_file.build(args.seed)
    head = check_fits(model, x_train, data, recipe)
    validation = None
    if args.validation_split:
        (x_train, y_train), validation = validation_split(
            x_train, y_train, args.validation_split, mode=args.validation_mode, seed=args.seed
        )
    probe = recipe.evaluate(model, x_train[:2], y_train[:2], num_classes=data.num_classes)
    check_outputs(args, model, list(probe), validation is not None)
    print(
        f"tinynet {__version__}: training {model_file.name} (recipe {recipe_name}, "
        f"{model.num_parameters():,} parameters, {head.describe()}) on {data.source} "
        f"({x_train.shape[0]:,} samples) for {recipe.epochs} epochs, seed {args.seed}",
        flush=True,
    )
    run_settings = {
        "recipe": recipe.to_dict(),
        "seed": args.seed,
        "dataset": data.source,
        "validation_split": args.validation_split,
        "validation_mode": args.validation_mode,
    }
    if args.resume:
        require_same_run(args.resume, run_settings)
    x_test = None if data.x_test is None else model_layout(data.x_test, shape, data.source)
    callbacks: list[Callback] = []
    if args.plot and not args.validation_split and x_test is not None and data.y_test is not None:
        callbacks.append(TestSetMonitor(recipe, x_test, data.y_test, data.num_classes))
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
        num_classes=data.num_classes,
    )
    logs = history.history
    seconds = sum(history.history.get("seconds", []))  # training only, across resumes
    scores: dict[str, float] = {}
    if x_test is not None and data.y_test is not None:
        scores = recipe.evaluate(model, x_test, data.y_test, num_classes=data.num_classes)
    metrics = {
        "model": model_file.name,
        "recipe_name": recipe_name,
        "dataset": data.source,
        "seed": args.seed,
        "epochs": len(history.epoch),
        "parameters": model.num_parameters(),
        "task": head.task,
        "test_accuracy": scores.get("accuracy"),
        "test_loss": scores.get("loss"),
        "test": scores,
        "train_seconds": seconds,
        "train_samples_per_second": len(history.epoch) * x_train.shape[0] / max(seconds, 1e-9),
        "validation_split": args.validation_split,
        "recipe": recipe.to_dict(),
        "history": logs,
        "tinynet_version": __version__,
        "numpy_version": np.__version__,
    }
    print(
        f"{test_line(scores, data)} after {metrics['epochs']} epochs in {seconds:.1f} s "
        f"({metrics['train_samples_per_second']:,.0f} samples/s)"
    )
    if args.save:
        metadata = {
            "recipe": recipe.to_dict(),
            "test": scores,
            "data": data.describe(),
            "input_shape": None if shape is None else list(shape),  # for tinynet predict
        }
        save(model, args.save, metadata=metadata)
        print(f"saved the model to {args.save}")
    if args.metrics_json:
        write_json(args.metrics_json, metrics)
    if args.plot:
        title = f"{model_file.name} ({recipe_name}, seed {args.seed})"
        for path in write_plots(args.plot, model, recipe, data, head, logs, x_test, title):
            print(f"wrote {path}")
    return metrics


def check_outputs(
    args: argparse.Namespace, model: Layer, metrics: list[str], validating: bool
) -> None:
    """Before training, refuse what would fail after it: an output path that cannot be
    written (`tinynet.atomic.check_writable`: a directory, a file as a folder, no
    permission, less free space than the model's arrays take), and a ``--checkpoint``
    template that names a value the run will not log or cannot be formatted
    (`ModelCheckpoint.check_filepath`). ``metrics`` are the names an epoch logs
    (``loss`` and the recipe's metrics: what `Recipe.evaluate` returns). Raises
    ``ValueError``/``OSError`` naming the option."""
    weights = sum(array.nbytes for array in model.state_dict(copy=False).values())
    outputs: list[tuple[str, str | None, int]] = [
        ("--save", args.save, weights),
        ("--metrics-json", args.metrics_json, 0),
        ("--plot", args.plot and str(Path(args.plot) / "curves.png"), 0),
        ("--resume", args.resume, weights),
    ]
    if args.checkpoint and not args.resume:
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


def test_line(scores: dict[str, float], data: DataSplits) -> str:
    """``test accuracy 98.10% (test loss 0.0612)`` or the regression's metrics, or why
    there are none."""
    if data.x_test is None:
        return "no test data (give --test-data for a CSV)"
    if data.y_test is None:
        return (
            "the test data has no labels: no test metrics (tinynet predict MODEL "
            "TEST.csv --out predictions.csv writes its predictions)"
        )
    shown = []
    for name, value in scores.items():
        if name == "loss":
            continue
        text = f"{100 * value:.2f}%" if "accuracy" in name else f"{value:.4f}"
        shown.append(f"{name} {text}")
    return f"test {', '.join(shown) or 'metrics: none'} (test loss {scores['loss']:.4f})"


def settings_difference(saved: Any, here: Any, prefix: str = "") -> Iterator[str]:
    """``key: A there, B here`` for each setting that differs, nested keys dotted."""
    if isinstance(saved, dict) and isinstance(here, dict):
        for key in sorted(set(saved) | set(here)):
            yield from settings_difference(saved.get(key), here.get(key), f"{prefix}{key}.")
    elif json.dumps(saved) != json.dumps(here):
        yield f"{prefix.rstrip('.')}: {json.dumps(saved)} there, {json.dumps(here)} here"


def require_same_run(checkpoint: str, settings: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint written by another run, naming each setting that
    differs: the continued run would silently be neither. A finished run may be
    extended when only its epoch count differs (``--resume CK --epochs N``)."""
    metadata = load_full(checkpoint).metadata
    saved = {key: metadata.get(key) for key in settings}
    differ = list(settings_difference(saved, settings))
    if not differ:
        return
    epochs_only = [line for line in differ if not line.startswith("recipe.epochs:")] == []
    done = metadata.get(CHECKPOINT_KEY, {}).get("epochs_done")
    planned = (saved.get("recipe") or {}).get("epochs")
    wanted = settings["recipe"]["epochs"]
    if epochs_only and isinstance(done, int) and done == planned and wanted > done:
        print(
            f"extending the finished {done}-epoch run in {checkpoint} to {wanted} epochs "
            f"(a schedule continues as that of a {wanted}-epoch run would)",
            flush=True,
        )
        return
    if epochs_only and isinstance(done, int):
        why = (
            f"the run there already did {done} epochs; --epochs {wanted} adds none"
            if wanted <= done
            else f"the run there stopped after {done} of its {planned} epochs: resume it with "
            f"--epochs {planned} to finish it, then extend it"
        )
        raise ValueError(f"{checkpoint}: {why}")
    raise ValueError(f"{checkpoint} was written by a different run: {'; '.join(differ)}")


class TestSetMonitor(Callback):
    """After each epoch, log ``test_loss`` and the test metrics (the recipe's loss on the
    test set) for the curves of ``--plot``. Only drawn: nothing chooses by them.

    Runs after the epoch's clock stops, so training seconds exclude it."""

    def __init__(
        self, recipe: Recipe, x_test: FloatArray, y_test: Array, num_classes: int | None = None
    ) -> None:
        self.loss = recipe.make_loss()
        self.x = x_test
        self.y: Array | None = None
        self.recipe, self.labels, self.num_classes = recipe, y_test, num_classes

    def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
        if self.y is None:
            self.y = self.recipe.prepare_targets(self.labels, run.model.dtype, self.num_classes)
        metrics = self.recipe.metrics or None
        scores = evaluate_model(run.model, self.x, self.y, loss=self.loss, metrics=metrics)
        for name, value in scores.items():
            logs[f"test_{name}"] = value  # for the progress line, printed after this
            run.history.history.setdefault(f"test_{name}", []).append(value)


def write_plots(
    folder: str,
    model: Layer,
    recipe: Recipe,
    data: DataSplits,
    head: Head,
    logs: dict[str, list[float]],
    x_test: FloatArray | None,
    title: str,
) -> list[Path]:
    """The curves of a run and, for a classifier with labeled test data, its confusion
    matrix and (images only) its worst test mistakes, as PNGs in ``folder``.

    The mistakes are ranked by probability (`tinynet.heads`; a binary head's P(1) as two
    columns) or, where the outputs are no probabilities, by the raw output."""
    from tinynet import plots

    titled = f"{title}: "
    xlabel = "epoch" if recipe.batch_size else "iteration (epoch of full-batch descent)"
    metric = "accuracy" if head.is_classifier else "r2"
    paths = [
        plots.plot_history(
            logs,
            Path(folder) / "curves.png",
            title=f"{titled}training curves",
            xlabel=xlabel,
            metric=metric,
        )
    ]
    if x_test is None or data.y_test is None or head.task not in ("multiclass", "binary"):
        return paths
    outputs = forward_in_batches(model, x_test)
    probs = head.probabilities(outputs)
    scores = outputs if probs is None else probs
    if head.task == "binary":
        p = scores[:, :1] if probs is not None else 1 / (1 + np.exp(-scores[:, :1]))
        scores = np.concatenate([1 - p, p], axis=1)
    y_true = head.labels(data.y_test)
    names = data.class_names
    kwargs: dict[str, Any] = {
        "class_names": names if names and len(names) == scores.shape[1] else None
    }
    paths.append(
        plots.plot_confusion_matrix(
            y_true,
            scores.argmax(axis=1),
            Path(folder) / "confusion_matrix.png",
            title=f"{titled}test set",
            **kwargs,
        )
    )
    if data.kind == "images" and data.x_test is not None:
        paths.append(
            plots.plot_most_wrong(
                data.x_test,
                y_true,
                scores,
                Path(folder) / "most_wrong.png",
                score_name="p" if probs is not None else "out",
                title=f"{titled}most confident test mistakes",
                **kwargs,
            )
        )
    return paths


def require_same_architecture(model: Layer, loaded: Layer, weights: str, model_file: str) -> None:
    """``ValueError`` naming the first layer where the saved weights' architecture and
    what the model file builds differ (layer types, their settings, their nesting)."""
    difference = architecture_difference(describe(model), describe(loaded), "model")
    if difference:
        raise ValueError(
            f"{weights} does not fit {model_file}'s architecture: {difference}; were the "
            f"weights trained with another model file (or --recipe)?"
        )


def architecture_difference(built: Any, saved: Any, path: str) -> str | None:
    """Where two `tinynet.io.architecture.describe` trees differ first, or ``None``."""
    if built["type"] != saved["type"] or built["config"] != saved["config"]:
        return (
            f"at {path}, the model file builds {_layer_text(built)}, the weights hold "
            f"{_layer_text(saved)}"
        )
    ours, theirs = built["children"], saved["children"]
    for mine, other in zip(ours, theirs, strict=False):
        found = architecture_difference(mine, other, f"{path}.{mine['name']}")
        if found:
            return found
    if len(ours) != len(theirs):
        return (
            f"at {path}, the model file builds {len(ours)} layers, the weights hold {len(theirs)}"
        )
    return None


def _layer_text(node: dict[str, Any]) -> str:
    settings = ", ".join(f"{key}={value!r}" for key, value in node["config"].items())
    return f"{node['type']}({settings})"


def command_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate saved weights on a dataset's test set, with the model file's recipe loss,
    after checking that they fit the model file's architecture."""
    import_modules(args.imports)
    model_file = load_model_file(args.model_file)
    _, recipe = model_file.get_recipe(args.recipe)
    recipe = recipe_from_args(recipe, args)
    model = load(args.weights)
    require_same_architecture(model_file.build(0), model, args.weights, model_file.path.name)
    data = read_splits(args.dataset, args.data, args.test_data, args.target, recipe, args.weights)
    if data.x_test is None or data.y_test is None:
        raise ValueError(f"{data.source}: no labeled test data to evaluate on")
    x_test = model_layout(data.x_test, model_file.input_shape, data.source)
    check_fits(model, x_test, data, recipe)
    scores = recipe.evaluate(model, x_test, data.y_test, num_classes=data.num_classes)
    shown = ", ".join(
        f"{name} {100 * value:.2f}%" if "accuracy" in name else f"{name} {value:.4f}"
        for name, value in scores.items()
        if name != "loss"
    )
    print(f"{args.weights} on {data.source} test: {shown}, loss {scores['loss']:.4f}")
    return scores


def command_predict(args: argparse.Namespace) -> dict[str, Any]:
    """Predict for each image or CSV row: its class and probability, its labels or its
    values; with ``--out``, write them as a CSV (Kaggle's ``ImageId,Label``)."""
    import_modules(args.imports)
    loaded = load_full(args.weights)
    recipe = loaded.metadata.get("recipe")
    loss = recipe.get("loss") if isinstance(recipe, dict) else None
    data_info = loaded.metadata.get("data")
    info = data_info if isinstance(data_info, dict) else {}
    inputs = read_inputs(args.inputs, args.invert, info)
    shape = loaded.metadata.get("input_shape")
    if shape is not None and not (
        isinstance(shape, list) and all(type(d) is int and d > 0 for d in shape)
    ):
        raise ValueError(
            f"{args.weights}: metadata input_shape must be a list of ints, got {shape}"
        )
    head, predictions, probs = predict_inputs(
        loaded.model,
        inputs,
        loss if isinstance(loss, str) else None,
        args.weights,
        info,
        None if shape is None else tuple(shape),
    )
    if args.out:
        write_prediction_file(args.out, head, inputs, predictions, info)
        print(f"wrote {len(inputs.sources):,} predictions ({head.describe()}) to {args.out}")
    else:
        for line in prediction_lines(head, inputs, predictions, probs, info.get("class_names")):
            print(line)
    return {"predictions": len(inputs.sources)}


def command_summary(args: argparse.Namespace) -> dict[str, Any]:
    """Print the layer table of a model file's network."""
    import_modules(args.imports)
    model_file = load_model_file(args.model_file)
    model = model_file.build(0)
    summary = getattr(model, "summary", None)
    if callable(summary):
        summary(input_shape=args.input_shape or model_file.input_shape)
    else:
        print(repr(model), f"\nTotal params: {model.num_parameters():,}", sep="")
    print(f"Recipe ({model_file.recipe_name}): {model_file.recipe}")
    if len(model_file.recipes) > 1:
        print(f"Recipes (--recipe NAME): {', '.join(model_file.recipes)}")
    return {"parameters": model.num_parameters()}


def command_export(args: argparse.Namespace) -> dict[str, Any]:
    """Write a saved model as an ONNX file (`tinynet.io.export_onnx`)."""
    from tinynet.io import export_onnx

    import_modules(args.imports)
    model = load(args.weights)
    shape = args.input_shape
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


def shape(text: str) -> tuple[int, ...]:
    """``1,28,28`` (or ``1x28x28``) as a shape."""
    try:
        dims = tuple(int(d) for d in text.replace("x", ",").split(",") if d.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a shape such as 784 or 1,28,28, got {text!r}"
        ) from None
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, got {text!r}")
    return dims


TRAIN_EXAMPLES = """examples:
  tinynet train models/mnist_mlp.py --seed 0 --save mlp.npz --metrics-json m.json
  tinynet train models/nielsen_30.py --recipe tuned --validation-split 0.1 --plot plots/
  tinynet train my_model.py --data train.csv --test-data test.csv   # Kaggle digit-recognizer
  tinynet train my_model.py --data digits.npz --metrics accuracy,f1
  tinynet train my_model.py --data houses.csv --target price        # a table; MSE: a regression
  tinynet train my_model.py --data DIR        # MNIST-named IDX files, any image size
  tinynet train my_model.py --checkpoint ck.npz; tinynet train my_model.py --resume ck.npz

--data reads a folder of IDX files, an .npz (x_train, y_train, x_test, y_test) or a CSV
(Kaggle's label,pixel0,... layout, or numeric columns with a --target); the number of
classes and the input shape come from the data and must fit the model file.
"""
EVALUATE_EXAMPLES = """examples:
  tinynet evaluate models/mnist_mlp.py --weights mlp.npz
  tinynet evaluate my_model.py --weights my.npz --data digits.npz --metrics accuracy,f1

The weights must fit the architecture the model file builds.
"""
PREDICT_EXAMPLES = """examples:
  tinynet predict mlp.npz digit.png                 # 28x28, white digit on black, as MNIST
  tinynet predict mlp.npz scan.pgm --invert         # black digit on white
  tinynet predict mlp.npz test.csv --out submission.csv   # Kaggle's ImageId,Label
  tinynet predict --import my_layers.py my.npz batch.npy  # custom layers from a file
"""
SUMMARY_EXAMPLES = """examples:
  tinynet summary models/mnist_mlp.py
  tinynet summary my_cnn.py --input-shape 1,28,28
"""
EXPORT_EXAMPLES = """examples:
  tinynet export mlp.npz mlp.onnx
  tinynet export cnn.npz cnn.onnx --input-shape 1,28,28 --opset 17
"""


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are one line too (the usage: ``--help``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = ArgumentParser(
        prog="tinynet",
        description=(__doc__ or "").split("\n\n")[0].replace("\n", " "),
        epilog="Run tinynet COMMAND --help for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = ArgumentParser(add_help=False)
    common.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE_OR_FILE",
        help="import this module or .py file first, for the custom layers it registers "
        "(repeatable)",
    )

    def command(name: str, help: str, epilog: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=epilog,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    def data_options(sub: argparse.ArgumentParser) -> None:
        source = sub.add_mutually_exclusive_group()
        source.add_argument(
            "--dataset", choices=sorted(DATASETS), help="a named dataset (default: the recipe's)"
        )
        source.add_argument(
            "--data",
            metavar="PATH",
            help="your own data instead: a folder of IDX files, an .npz or a .csv",
        )
        sub.add_argument(
            "--test-data", metavar="CSV", help="the test CSV that goes with a --data CSV"
        )
        sub.add_argument(
            "--target",
            metavar="COLUMN",
            help="the label or value column(s) of a --data table, comma separated (default: label)",
        )
        sub.add_argument(
            "--metrics",
            metavar="NAMES",
            help="comma separated: accuracy, top_k_accuracy, f1, precision, recall, mae, "
            "rmse, r2... (default: the recipe's, else accuracy or MAE/RMSE/R2)",
        )

    train = command("train", "train a model file on a dataset", TRAIN_EXAMPLES)
    train.add_argument("model_file", help="a Python file with build(seed) and RECIPE")
    data_options(train)
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
        help="hold out a fraction F of the training data and report it per epoch",
    )
    train.add_argument(
        "--validation-mode",
        choices=SPLIT_MODES,
        default="last",
        help="which samples --validation-split holds out: the last ones (Keras's rule, the "
        "default), a random fraction, or a random fraction of each class",
    )
    train.add_argument(
        "--class-weight",
        metavar="W",
        help="weight each sample's loss by its class: 'balanced' or CLASS=WEIGHT,...",
    )
    train.add_argument(
        "--clip-grad-norm", type=float, metavar="X", help="clip each batch's gradient norm to X"
    )
    train.add_argument(
        "--plot",
        metavar="DIR",
        help="write curves, confusion matrix and worst test mistakes as PNGs (needs matplotlib)",
    )
    train.add_argument("--checkpoint", metavar="PATH", help="write a resumable checkpoint here")
    train.add_argument("--checkpoint-every", type=int, default=1, metavar="N")
    train.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue the run saved there (and checkpoint there); with a larger --epochs, "
        "extend a finished run",
    )
    train.set_defaults(run=command_train)

    evaluate = command("evaluate", "test saved weights on a test set", EVALUATE_EXAMPLES)
    evaluate.add_argument("model_file", help="the model file the weights were trained with")
    evaluate.add_argument("--weights", required=True, metavar="PATH")
    evaluate.add_argument("--recipe", metavar="NAME", help="whose loss to report")
    data_options(evaluate)
    evaluate.set_defaults(run=command_evaluate)

    predict = command(
        "predict",
        "predict with a saved model: images (PNG, PGM, .npy) or CSV rows",
        PREDICT_EXAMPLES,
    )
    predict.add_argument("weights", help="a model saved with --save or tinynet.save")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="PNG/PGM/.npy/.csv files")
    predict.add_argument("--invert", action="store_true", help="for black digits on white")
    predict.add_argument("--out", metavar="CSV", help="write the predictions here as a CSV")
    predict.set_defaults(run=command_predict)

    summary = command("summary", "print a model file's layers", SUMMARY_EXAMPLES)
    summary.add_argument("model_file")
    summary.add_argument(
        "--input-shape",
        type=shape,
        metavar="SHAPE",
        help="the shape of one sample, e.g. 784 or 1,28,28 (default: from the first layer)",
    )
    summary.set_defaults(run=command_summary)

    from tinynet.io.onnx_export import DEFAULT_OPSET

    export = command("export", "write a saved model as ONNX (needs onnx)", EXPORT_EXAMPLES)
    export.add_argument("weights", help="a model saved with --save or tinynet.save")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument(
        "--input-shape",
        type=shape,
        metavar="SHAPE",
        help="one sample's shape, e.g. 784 or 1,28,28 (default: the first layer's features; "
        "needed for a model that starts with Conv2d, a pool or a reshape)",
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

    def show(message: Warning | str, *_: object, **__: object) -> None:
        print(f"tinynet {args.command}: warning: {message}", file=sys.stderr)

    try:
        # NumPy's overflow warnings would add lines to the one-line error that follows:
        # tinynet checks what matters itself (a non-finite loss, output or weight).
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.showwarning = show
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
