"""A model file trained or evaluated on a dataset, as ``tinynet train`` and ``tinynet
evaluate`` run it, callable from Python::

    from tinynet.experiment import RunOptions, train_model_file
    metrics = train_model_file("models/mnist_mlp.py", RunOptions(seed=0, save="mlp.npz"))

What could fail after training is checked before it (`prepare_training`): the model
saves and loads back (`tinynet.io.savable.check_savable`), the data fits it
(`tinynet.model_data.check_fits`), every output path can be written and a checkpoint
template names what the run logs (`check_outputs`), a checkpoint to resume is of this
run (`tinynet.checkpoint.require_same_run`). Progress goes to a ``report`` function
(``print`` by default), one line at a time.
"""

from __future__ import annotations

import errno
import math
import os
import resource
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from tinynet.atomic import check_writable
from tinynet.callbacks import TestSetMonitor
from tinynet.checkpoint import BackupAndRestore, ModelCheckpoint, require_same_run
from tinynet.data import SPLIT_MODES, validation_split
from tinynet.datasets import DATASETS, DataSplits, model_layout
from tinynet.distributed import world_size
from tinynet.heads import Head
from tinynet.inference import forward_in_batches
from tinynet.init import manual_seed
from tinynet.io import load, save, write_json
from tinynet.io.architecture import describe
from tinynet.io.savable import architecture_difference, check_savable
from tinynet.layers.base import Layer
from tinynet.lm import TextRecipe, text_recipe, train_text_model
from tinynet.model_data import check_fits, check_test_targets, read_splits
from tinynet.modelfile import ModelFile, import_path, load_model_file
from tinynet.plots import require_matplotlib, save_run_plots
from tinynet.recipe import Recipe
from tinynet.train import Callback, History
from tinynet.typing import Array, FloatArray
from tinynet.version import __version__

Report = Callable[[str], None]
"""Where progress lines go: ``print`` by default."""


def _say(line: str) -> None:
    print(line, flush=True)


def read_metric_names(text: str) -> tuple[str, ...] | None:
    """``accuracy,f1`` as ``("accuracy", "f1")``; ``None`` for none (the recipe's)."""
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    return names or None


def read_class_weight(text: str) -> str | dict[str, float]:
    """``balanced``, or ``0=1,1=5`` as ``{"0": 1.0, "1": 5.0}``; ``ValueError`` otherwise."""
    if text == "balanced":
        return text
    table = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        try:
            table[str(int(key))] = float(value)
        except ValueError:
            raise ValueError(f"expected 'balanced' or CLASS=WEIGHT,..., got {text!r}") from None
        if not sep:
            raise ValueError(f"expected CLASS=WEIGHT, got {part!r}")
    return table


def read_batch_size(text: str) -> int:
    """``--batch-size``: a positive integer; ``ValueError`` naming ``text`` otherwise."""
    return int(_positive(text, int, "integer batch size"))


def read_lr(text: str) -> float:
    """``--lr``: a positive finite float; ``ValueError`` naming ``text`` otherwise."""
    return _positive(text, float, "finite learning rate")


def _positive(text: str, kind: Callable[[str], float], what: str) -> float:
    try:
        value = kind(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected a positive {what}, got {text!r}")
    return value


BOTH = ("train", "evaluate")


def _option(default: Any, help: str, commands: tuple[str, ...] = ("train",), **cli: Any) -> Any:
    """A `RunOptions` field: its default, what it means, and its command-line option
    (``--name-with-dashes``) in ``commands``, read with argparse's settings ``cli``."""
    return field(default=default, metadata={"help": help, "commands": commands, **cli})


@dataclass(frozen=True)
class RunOptions:
    """What ``tinynet train`` and ``tinynet evaluate`` take besides the model file, each
    declared once: the command line's options are these fields (``--test-data`` is
    ``test_data``), built from their metadata by `tinynet.cli`. ``epochs``, ``batch_size``,
    ``metrics``, ``class_weight`` and ``clip_grad_norm`` replace the recipe's when not
    ``None``, ``lr`` its ``optimizer_args["lr"]`` (so --metrics-json and a checkpoint's
    recipe record the values used)."""

    dataset: str | None = _option(
        None,
        "a named dataset (default: the recipe's)",
        BOTH,
        choices=sorted(DATASETS),
        group="source",
    )
    data: str | None = _option(
        None,
        "your own data instead: a folder of IDX files, an .npz or a .csv",
        BOTH,
        metavar="PATH",
        group="source",
    )
    test_data: str | None = _option(
        None,
        "the test CSV that goes with a --data CSV (evaluate: alone, a labeled CSV to score)",
        BOTH,
        metavar="CSV",
    )
    target: str | None = _option(
        None,
        "the label or value column(s) of a --data table, comma separated (default: label)",
        BOTH,
        metavar="COLUMN",
    )
    metrics: tuple[str, ...] | None = _option(
        None,
        "comma separated: accuracy, top_k_accuracy, f1, precision, recall, mae, rmse, "
        "r2... (default: the recipe's, else accuracy or MAE/RMSE/R2)",
        BOTH,
        type=read_metric_names,
        metavar="NAMES",
    )
    recipe: str | None = _option(
        None,
        "a variant of the file's RECIPES (evaluate: whose loss to report)",
        BOTH,
        metavar="NAME",
    )
    epochs: int | None = _option(None, "default: the recipe's", type=int)
    batch_size: int | None = _option(
        None, "samples per batch (default: the recipe's)", type=read_batch_size, metavar="N"
    )
    lr: float | None = _option(
        None, "the optimizer's learning rate (default: the recipe's)", type=read_lr, metavar="LR"
    )
    seed: int = _option(0, "the seed of the weights, batch order and augmentation", type=int)
    save: str | None = _option(None, "write the trained model here", metavar="PATH")
    metrics_json: str | None = _option(None, "write test metrics as JSON", metavar="PATH")
    verbose: int = _option(
        1,
        "0 silent, 1 a progress bar (epoch lines if not a terminal), 2 epoch lines",
        type=int,
        choices=(0, 1, 2),
    )
    validation_split: float = _option(
        0.0,
        "hold out a fraction F of the training data and report it per epoch",
        type=float,
        metavar="F",
    )
    validation_mode: str = _option(
        "last",
        "which samples --validation-split holds out: the last ones (Keras's rule, "
        "the default), a random fraction, or a random fraction of each class",
        choices=SPLIT_MODES,
    )
    class_weight: str | Mapping[str, float] | None = _option(
        None,
        "weight each sample's loss by its class: 'balanced' or CLASS=WEIGHT,...",
        type=read_class_weight,
        metavar="W",
    )
    clip_grad_norm: float | None = _option(
        None, "clip each batch's gradient norm to X", type=float, metavar="X"
    )
    plot: str | None = _option(
        None,
        "write curves, confusion matrix and worst test mistakes as PNGs (needs matplotlib)",
        metavar="DIR",
    )
    checkpoint: str | None = _option(None, "write a resumable checkpoint here", metavar="PATH")
    checkpoint_every: int = _option(1, "checkpoint every N epochs", type=int, metavar="N")
    resume: str | None = _option(
        None,
        "continue the run saved there (and checkpoint there, and to --checkpoint if "
        "given); with a larger --epochs, extend a finished run",
        metavar="CHECKPOINT",
    )

    def recipe_of(self, model_file: ModelFile) -> tuple[str, Recipe]:
        """The model file's recipe called ``recipe`` (its default for ``None``) and its
        name, with the fields these options replace."""
        name, recipe = model_file.get_recipe(self.recipe)
        changes = {key: getattr(self, key) for key in RECIPE_FIELDS}
        given = {key: value for key, value in changes.items() if value is not None}
        if self.lr is not None:
            given["optimizer_args"] = {**recipe.optimizer_args, "lr": self.lr}
        return name, replace(recipe, **given) if given else recipe


RECIPE_FIELDS = ("epochs", "batch_size", "metrics", "class_weight", "clip_grad_norm")
"""The `RunOptions` that replace a field of the model file's recipe."""


class Setup(NamedTuple):
    """A run ready to train (`prepare_training`): the model file, the recipe (overrides
    applied) and its name, the model built with the run's seed, the data and the
    model's head for it, the training and validation samples as the model takes them,
    and the test samples so (``None`` without test data)."""

    model_file: ModelFile
    recipe_name: str
    recipe: Recipe
    model: Layer
    data: DataSplits
    head: Head
    train: tuple[FloatArray, Array]
    validation: tuple[FloatArray, Array] | None
    x_test: FloatArray | None


def train_model_file(
    path: str | Path, options: RunOptions | None = None, report: Report = _say
) -> dict[str, Any]:
    """Train the network of the model file at ``path`` with its recipe, as ``tinynet
    train`` does: check everything first (`prepare_training`), train (`Recipe.fit`),
    then report the test metrics and write what ``options`` ask for (``save``,
    ``metrics_json``, ``plot``). Returns the metrics ``metrics_json`` holds."""
    options = options or RunOptions()
    module = import_path(path)
    text = text_recipe(module, options.recipe)
    if text is not None:  # a character-level language model (tinynet.lm)
        return train_text_file(module, text, options, report)
    setup = prepare_training(path, options)
    settings = {
        "recipe": setup.recipe.to_dict(),
        "seed": options.seed,
        "dataset": setup.data.source,
        "validation_split": options.validation_split,
        "validation_mode": options.validation_mode,
    }
    report(start_line(setup, options))
    if options.resume:
        note = require_same_run(options.resume, settings)
        if note:
            report(note)
    (x, y), data = setup.train, setup.data
    history = setup.recipe.fit(
        setup.model,
        x,
        y,
        seed=options.seed,
        verbose=options.verbose,
        callbacks=training_callbacks(setup, options, settings),
        validation_data=setup.validation,
        num_classes=data.num_classes,
    )
    return finish_training(setup, options, history, report)


def train_text_file(
    module: ModuleType, recipe: TextRecipe, options: RunOptions, report: Report
) -> dict[str, Any]:
    """`train_model_file` for a text model file: `tinynet.lm.train_text_model`."""
    metrics = train_text_model(
        module,
        recipe,
        seed=options.seed,
        data=options.data,
        save=options.save,
        log=report,
    )
    if options.metrics_json:
        write_json(options.metrics_json, metrics)
    return metrics


def prepare_training(path: str | Path, options: RunOptions) -> Setup:
    """Load the model file, build its network and read the data, checking before any
    training all that could fail after it: matplotlib for ``plot``, the model's
    savability, the data's fit with it, the output paths."""
    model_file = load_model_file(path)
    recipe_name, recipe = options.recipe_of(model_file)
    if options.plot:
        require_matplotlib()
    manual_seed(options.seed)  # unseeded Dropout and weights follow --seed too
    model = model_file.build(options.seed)
    check_savable(model, model_file.path.name)
    data = read_splits(options.dataset, options.data, options.test_data, options.target, recipe)
    shape = model_file.input_shape  # (1, 28, 28) for a CNN: images; None: flat rows
    x_train, y_train = model_layout(data.x_train, shape, data.source), data.y_train
    head = check_fits(model, x_train, data, recipe)
    check_test_targets(data, recipe, options.test_data or f"{data.source} (y_test)")
    validation = None
    if options.validation_split:
        (x_train, y_train), validation = validation_split(
            x_train,
            y_train,
            options.validation_split,
            mode=options.validation_mode,
            seed=options.seed,
        )
    logged = recipe.evaluate(model, x_train[:2], y_train[:2], num_classes=data.num_classes)
    check_outputs(model, list(logged), options, validation is not None, recipe)
    x_test = None if data.x_test is None else model_layout(data.x_test, shape, data.source)
    train = (x_train, y_train)
    return Setup(model_file, recipe_name, recipe, model, data, head, train, validation, x_test)


def check_outputs(
    model: Layer, metrics: Sequence[str], options: RunOptions, validating: bool, recipe: Recipe
) -> None:
    """Before training, refuse what would fail after it: an output path that cannot be
    written (`tinynet.atomic.check_writable`: a directory, a file as a folder, no
    permission, less free space than will be written there), a file-size limit
    (``ulimit -f``) below that size, two outputs naming one file (the later write would
    destroy the earlier: ``--save`` over the checkpoint), and a ``checkpoint`` template
    that names a value the run will not log or cannot be formatted
    (`ModelCheckpoint.check_filepath`). ``metrics`` are the names an epoch logs (``loss``
    and the recipe's metrics: what `Recipe.evaluate` returns). The sizes are lower
    bounds: a model's arrays, and a checkpoint's with the optimizer's state (Adam's two
    moments per parameter). Raises ``ValueError``/``OSError`` naming the option."""
    weights = sum(array.nbytes for array in model.state_dict(copy=False).values())
    checkpoint = weights + optimizer_state_bytes(model, recipe)
    outputs: list[tuple[str, str | None, int]] = [
        ("--save", options.save, weights),
        ("--metrics-json", options.metrics_json, 0),
        ("--plot", options.plot and str(Path(options.plot) / "curves.png"), 0),
        ("--resume", options.resume, checkpoint),
    ]
    if options.checkpoint:
        first = _first_checkpoint(options.checkpoint, metrics, options, validating)
        outputs.append(("--checkpoint", str(first), checkpoint))
    for option, output, size in outputs:
        if output:
            try:
                check_writable(output, size)
                _require_file_size_limit(output, size)
            except OSError as error:
                raise type(error)(f"{option}: {error}") from None
    _require_distinct([(option, output) for option, output, _ in outputs if output])


def optimizer_state_bytes(model: Layer, recipe: Recipe) -> int:
    """The bytes of the recipe's optimizer state over ``model``'s trainable parameters
    once it has stepped (a buffer per state name per parameter: Adam's two moments,
    SGD's momentum buffer), as a checkpoint stores it."""
    optimizer = recipe.make_optimizer(model)
    return sum(
        len(optimizer.state_names(group))
        * sum(p.data.nbytes for p in group["params"] if p.requires_grad)
        for group in optimizer.param_groups
    )


def _first_checkpoint(
    template: str, metrics: Sequence[str], options: RunOptions, validating: bool
) -> Path:
    """The file ``--checkpoint``'s template names first; ``ValueError`` if it cannot."""
    names = [*metrics, "lr", "seconds", "samples_per_second"]
    if validating:
        names += [f"val_{name}" for name in metrics]
    elif options.plot:
        names += [f"test_{name}" for name in metrics]
    try:
        return ModelCheckpoint(template).check_filepath(names)
    except ValueError as error:
        message = str(error).removeprefix("ModelCheckpoint: ")
        raise ValueError(f"--checkpoint: {message}") from None


def _require_file_size_limit(path: str, size: int) -> None:
    """``OSError`` (``EFBIG``) if the process may not write a file of ``size`` bytes
    (``RLIMIT_FSIZE``, ``ulimit -f``)."""
    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and size > limit:
        raise OSError(
            errno.EFBIG,
            f"File too large: at least {size:,} bytes to write, but the file-size limit "
            f"(ulimit -f) is {limit:,} bytes",
            path,
        )


def _same_file(path: str, other: str | None) -> bool:
    return other is not None and os.path.realpath(path) == os.path.realpath(other)


def _require_distinct(outputs: list[tuple[str, str]]) -> None:
    """``ValueError`` naming two options whose outputs are one file."""
    seen: dict[str, str] = {}
    for option, output in outputs:
        key = os.path.realpath(output)
        if key in seen and not {seen[key], option} <= {"--resume", "--checkpoint"}:
            raise ValueError(
                f"{seen[key]} and {option} both name {output}: the later write would "
                f"destroy the earlier; give each its own file"
            )
        seen.setdefault(key, option)


def start_line(setup: Setup, options: RunOptions) -> str:
    """``tinynet 0.1.0: training mnist_mlp (recipe default, 109,386 parameters, ...)``."""
    return (
        f"tinynet {__version__}: training {setup.model_file.name} (recipe "
        f"{setup.recipe_name}, {setup.model.num_parameters():,} parameters, "
        f"{setup.head.describe()}) on {setup.data.source} ({setup.train[0].shape[0]:,} "
        f"samples) for {setup.recipe.epochs} epochs, seed {options.seed}"
    )


def training_callbacks(
    setup: Setup, options: RunOptions, settings: dict[str, Any]
) -> list[Callback]:
    """The test-set curves for ``plot`` (without a validation split) and the checkpoint
    callbacks: ``resume`` continues the run saved there and keeps checkpointing there;
    ``checkpoint`` (also with ``resume``) writes checkpoints to its template too."""
    callbacks: list[Callback] = []
    recipe, data, model = setup.recipe, setup.data, setup.model
    monitor = options.plot and not options.validation_split
    if monitor and setup.x_test is not None and data.y_test is not None:
        y = recipe.prepare_targets(data.y_test, model.dtype, data.num_classes)
        loss, metrics = recipe.make_loss(), recipe.metrics or None
        callbacks.append(TestSetMonitor(setup.x_test, y, loss=loss, metrics=metrics))
    every = options.checkpoint_every
    if options.resume:
        callbacks.append(BackupAndRestore(options.resume, every=every, metadata=settings))
    if options.checkpoint and not _same_file(options.checkpoint, options.resume):
        callbacks.append(ModelCheckpoint(options.checkpoint, every=every, metadata=settings))
    return callbacks


def finish_training(
    setup: Setup, options: RunOptions, history: History, report: Report
) -> dict[str, Any]:
    """Score the trained model on the test data, report it, and write the model, the
    metrics and the plots the options ask for; return the metrics."""
    model, recipe, data = setup.model, setup.recipe, setup.data
    scores: dict[str, float] = {}
    if setup.x_test is not None and data.y_test is not None:
        scores = recipe.evaluate(model, setup.x_test, data.y_test, num_classes=data.num_classes)
    metrics = run_metrics(setup, options, history, scores)
    report(
        f"{scores_line(scores, data)} after {metrics['epochs']} epochs in "
        f"{metrics['train_seconds']:.1f} s ({metrics['train_samples_per_second']:,.0f} samples/s)"
    )
    if options.save:
        shape = setup.model_file.input_shape
        metadata = {
            "recipe": recipe.to_dict(),
            "test": scores,
            "data": data.describe(),
            "input_shape": None if shape is None else list(shape),  # for tinynet predict
        }
        save(model, options.save, metadata=metadata)
        report(f"saved the model to {options.save}")
    if options.metrics_json:
        write_json(options.metrics_json, metrics)
    if options.plot:
        for path in plot_run(setup, options.plot, history.history, options.seed):
            report(f"wrote {path}")
    return metrics


def run_metrics(
    setup: Setup, options: RunOptions, history: History, scores: dict[str, float]
) -> dict[str, Any]:
    """What ``--metrics-json`` writes: the run's settings, test scores, speed, history."""
    seconds = sum(history.history.get("seconds", []))  # training only, across resumes
    samples = setup.train[0].shape[0]
    return {
        "model": setup.model_file.name,
        "recipe_name": setup.recipe_name,
        "dataset": setup.data.source,
        "seed": options.seed,
        "world_size": world_size(),  # processes under mpiexec, 1 without
        "epochs": len(history.epoch),
        "parameters": setup.model.num_parameters(),
        "task": setup.head.task,
        "test_accuracy": scores.get("accuracy"),
        "test_loss": scores.get("loss"),
        "test": scores,
        "train_seconds": seconds,
        "train_samples_per_second": len(history.epoch) * samples / max(seconds, 1e-9),
        "validation_split": options.validation_split,
        "recipe": setup.recipe.to_dict(),
        "history": history.history,
        "tinynet_version": __version__,
        "numpy_version": np.__version__,
    }


def scores_line(scores: dict[str, float], data: DataSplits) -> str:
    """``test accuracy 98.10% (test loss 0.0612)`` or the regression's metrics, or why
    there are none."""
    if data.x_test is None:
        if Path(data.source).suffix.lower() == ".npz":
            return "no test data: the .npz has no test split (add x_test and y_test to it)"
        return "no test data (give --test-data for a CSV)"
    if data.y_test is None:
        return (
            "the test data has no labels: no test metrics (tinynet predict MODEL "
            "TEST.csv --out predictions.csv writes its predictions)"
        )
    return f"test {scores_text(scores) or 'metrics: none'} (test loss {scores['loss']:.4f})"


def scores_text(scores: dict[str, float]) -> str:
    """``accuracy 98.10%, f1 0.9805``: every score but the loss."""
    return ", ".join(
        f"{name} {100 * value:.2f}%" if "accuracy" in name else f"{name} {value:.4f}"
        for name, value in scores.items()
        if name != "loss"
    )


def plot_run(setup: Setup, folder: str, logs: dict[str, list[float]], seed: int) -> list[Path]:
    """The run's curves and, for a classifier with labeled test data, its confusion
    matrix and (images only) its worst test mistakes (`tinynet.plots.save_run_plots`),
    ranked by the probability of each class (`class_scores`)."""
    head, data, recipe = setup.head, setup.data, setup.recipe
    classified: dict[str, Any] = {}
    if setup.x_test is not None and data.y_test is not None and head.task in CLASSES:
        classified = {
            "y_true": head.labels(data.y_test),
            "scores": class_scores(setup.model, setup.x_test, head),
            "images": data.x_test if data.kind == "images" else None,
            "class_names": data.class_names,
        }
    return save_run_plots(
        folder,
        history=logs,
        title=f"{setup.model_file.name} ({setup.recipe_name}, seed {seed})",
        xlabel="epoch" if recipe.batch_size else "iteration (epoch of full-batch descent)",
        metric="accuracy" if head.is_classifier else "r2",
        **classified,
    )


CLASSES = ("multiclass", "binary")
"""The tasks with one class per sample, whose mistakes can be drawn."""


def class_scores(model: Layer, x: FloatArray, head: Head) -> FloatArray:
    """The probability (N, C) of each class for ``x`` (N, ...) by ``model``'s ``head``
    (`tinynet.heads`), a binary head's P(1) as two columns, 1 - P(1) and P(1)."""
    probs = head.probabilities(forward_in_batches(model, x))
    if probs is None or head.task not in CLASSES:
        raise ValueError(f"class_scores: a {head.task} head gives no class probabilities")
    if head.task == "binary":
        p = probs[:, :1]
        return np.concatenate([1 - p, p], axis=1)
    return probs


def evaluate_model_file(
    path: str | Path, weights: str, options: RunOptions | None = None, report: Report = _say
) -> dict[str, float]:
    """Evaluate the model saved at ``weights`` on the test set of the data ``options``
    name (``test_data`` alone: that labeled CSV, read by the columns the weights
    recorded, `tinynet.model_data.read_test_split`), with the recipe loss of the model
    file at ``path``, after checking that the weights are of the architecture it builds
    (a ``ValueError`` naming the first layer that differs); report and return the scores."""
    options = options or RunOptions()
    model_file = load_model_file(path)
    _, recipe = options.recipe_of(model_file)
    model = load(weights)
    difference = architecture_difference(describe(model_file.build(0)), describe(model))
    if difference:
        raise ValueError(
            f"{weights} does not fit {model_file.path.name}'s architecture: {difference}; "
            f"were the weights trained with another model file (or --recipe)?"
        )
    data = read_splits(
        options.dataset, options.data, options.test_data, options.target, recipe, str(weights)
    )
    if data.x_test is None or data.y_test is None:
        raise ValueError(
            f"{data.source}: no labeled test data to evaluate on (a labeled test CSV alone: "
            f"--test-data CSV, without --data)"
        )
    x_test = model_layout(data.x_test, model_file.input_shape, data.source)
    classes, head = data.num_classes, model.head
    if options.data is None and options.test_data and head and head.task == "multiclass":
        classes = head.columns  # a test CSV alone need not hold every class
    check_fits(model, x_test, data, recipe, classes)
    scores = recipe.evaluate(model, x_test, data.y_test, num_classes=classes)
    report(f"{weights} on {data.source} test: {scores_text(scores)}, loss {scores['loss']:.4f}")
    return scores


def summarize_model_file(
    path: str | Path, input_shape: Sequence[int] | None = None, report: Report = _say
) -> int:
    """Report the layer table of the network the model file at ``path`` builds (one
    sample of ``input_shape``, by default the file's ``INPUT_SHAPE`` or the first
    layer's), and its recipes; return its number of parameters."""
    model_file = load_model_file(path)
    model = model_file.build(0)
    summary = getattr(model, "summary", None)
    if callable(summary):
        summary(input_shape=input_shape or model_file.input_shape, print_fn=report)
    else:
        report(f"{model!r}\nTotal params: {model.num_parameters():,}")
    report(f"Recipe ({model_file.recipe_name}): {model_file.recipe}")
    if len(model_file.recipes) > 1:
        report(f"Recipes (--recipe NAME): {', '.join(model_file.recipes)}")
    return model.num_parameters()
