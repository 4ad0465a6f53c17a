"""The tinynet command (also python -m tinynet): train, evaluate and summarize model files,
predict with saved models and export them to ONNX.

Every error is one line on stderr, ``tinynet COMMAND: error: ...`` naming the file or
option and the problem, and exit status 2; ``--debug`` (or ``TINYNET_DEBUG=1``) shows
the full traceback instead. This module parses and dispatches: what the commands do is
in the library (`tinynet.experiment` trains and evaluates, `tinynet.prediction` predicts).
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, NoReturn

import numpy as np

from tinynet.distributed import quiet_workers
from tinynet.experiment import (
    RunOptions,
    evaluate_model_file,
    summarize_model_file,
    train_model_file,
)
from tinynet.modelfile import ModelFileError, import_modules, line_in
from tinynet.prediction import predict_saved, prediction_lines, write_prediction_file
from tinynet.version import __version__


def run_options(args: argparse.Namespace) -> RunOptions:
    """The options of ``train`` or ``evaluate`` as `tinynet.experiment.RunOptions`."""
    return RunOptions(
        **{f.name: getattr(args, f.name) for f in fields(RunOptions) if hasattr(args, f.name)}
    )


def command_train(args: argparse.Namespace) -> dict[str, Any]:
    """Train a model file's network with its recipe, report test metrics, save on request."""
    quiet_workers(args)  # under mpiexec: only rank 0 prints and writes
    import_modules(args.imports)
    return train_model_file(args.model_file, run_options(args))


def command_evaluate(args: argparse.Namespace) -> dict[str, Any]:
    """Evaluate saved weights on a dataset's test set, with the model file's recipe loss,
    after checking that they fit the model file's architecture."""
    import_modules(args.imports)
    return evaluate_model_file(args.model_file, args.weights, run_options(args))


def command_predict(args: argparse.Namespace) -> dict[str, Any]:
    """Predict for each image or CSV row: its class and probability, its labels or its
    values; with ``--out``, write them as a CSV (Kaggle's ``ImageId,Label``)."""
    import_modules(args.imports)
    found = predict_saved(args.weights, args.inputs, args.invert)
    count = len(found.inputs.sources)
    if args.out:
        write_prediction_file(args.out, found)
        print(f"wrote {count:,} predictions ({found.answers.head.describe()}) to {args.out}")
    else:
        print(*prediction_lines(found), sep="\n")
    return {"predictions": count}


def command_summary(args: argparse.Namespace) -> dict[str, Any]:
    """Print the layer table of a model file's network."""
    import_modules(args.imports)
    return {"parameters": summarize_model_file(args.model_file, args.input_shape)}


def command_generate(args: argparse.Namespace) -> dict[str, Any]:
    """Continue a prompt with a saved character-level model (`tinynet.generate`)."""
    from tinynet.generate import generate, load_language_model

    import_modules(args.imports)
    model, vocab = load_language_model(args.weights)
    options = {"temperature": args.temperature, "top_k": args.top_k, "seed": args.seed}
    print(text := generate(model, vocab, args.prompt, args.tokens, **options))
    return {"characters": len(text)}


def command_export(args: argparse.Namespace) -> dict[str, Any]:
    """Write a saved model as an ONNX file (`tinynet.io.export_onnx`)."""
    from tinynet.io.onnx_export import export_saved

    import_modules(args.imports)
    export_saved(args.weights, args.output, args.input_shape, opset=args.opset)
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

    add_train(command("train", "train a model file on a dataset", TRAIN_EXAMPLES))
    add_evaluate(command("evaluate", "test saved weights on a test set", EVALUATE_EXAMPLES))
    predicting = "predict with a saved model: images (PNG, PGM, .npy) or CSV rows"
    add_predict(command("predict", predicting, PREDICT_EXAMPLES))
    add_summary(command("summary", "print a model file's layers", SUMMARY_EXAMPLES))
    add_generate(command("generate", "continue a prompt with a saved text model", ""))
    exporting = "write a saved model as ONNX (needs onnx)"
    add_export(command("export", exporting, EXPORT_EXAMPLES))
    for sub in (parser, *commands.choices.values()):  # tinynet --debug train, train ... --debug
        sub.add_argument(
            "--debug",
            action="store_true",
            default=False if sub is parser else argparse.SUPPRESS,
            help="on an error, print the full traceback (also: TINYNET_DEBUG=1)",
        )
    return parser


def add_run_options(sub: argparse.ArgumentParser, command: str) -> None:
    """The options of ``command`` that `RunOptions` declares, in its fields' order."""
    groups: dict[str, Any] = {}  # mutually exclusive groups by name
    for option in fields(RunOptions):
        settings = dict(option.metadata)
        if command not in settings.pop("commands"):
            continue
        group = settings.pop("group", None)
        if group and group not in groups:
            groups[group] = sub.add_mutually_exclusive_group()
        target = groups[group] if group else sub
        if settings.get("type") not in (None, int, float):
            settings["type"] = argument_type(settings["type"])
        target.add_argument(
            "--" + option.name.replace("_", "-"), default=option.default, **settings
        )


def argument_type(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """``read``, its ``ValueError`` a usage error with its message."""

    def argument(text: str) -> Any:
        try:
            return read(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    argument.__name__ = read.__name__
    return argument


def add_train(train: argparse.ArgumentParser) -> None:
    """The options of ``tinynet train``."""
    train.add_argument("model_file", help="a Python file with build(seed) and RECIPE")
    add_run_options(train, "train")
    train.set_defaults(run=command_train)


def add_evaluate(evaluate: argparse.ArgumentParser) -> None:
    """The options of ``tinynet evaluate``."""
    evaluate.add_argument("model_file", help="the model file the weights were trained with")
    evaluate.add_argument("--weights", required=True, metavar="PATH")
    add_run_options(evaluate, "evaluate")
    evaluate.set_defaults(run=command_evaluate)


def add_predict(predict: argparse.ArgumentParser) -> None:
    """The options of ``tinynet predict``."""
    predict.add_argument("weights", help="a model saved with --save or tinynet.save")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="PNG/PGM/.npy/.csv files")
    predict.add_argument("--invert", action="store_true", help="for black digits on white")
    predict.add_argument("--out", metavar="CSV", help="write the predictions here as a CSV")
    predict.set_defaults(run=command_predict)


def add_summary(summary: argparse.ArgumentParser) -> None:
    """The options of ``tinynet summary``."""
    summary.add_argument("model_file")
    summary.add_argument(
        "--input-shape",
        type=shape,
        metavar="SHAPE",
        help="the shape of one sample, e.g. 784 or 1,28,28 (default: from the first layer)",
    )
    summary.set_defaults(run=command_summary)


def add_generate(sub: argparse.ArgumentParser) -> None:
    """The options of ``tinynet generate``."""
    sub.add_argument("weights", help="a text model saved with tinynet train --save")
    sub.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    sub.add_argument("--tokens", type=int, default=200, help="characters to add")
    sub.add_argument("--temperature", type=float, default=1.0, help="0: the likeliest always")
    sub.add_argument("--top-k", type=int, default=None, help="draw among the k likeliest")
    sub.add_argument("--seed", type=int, default=None, help="the same seed, the same text")
    sub.set_defaults(run=command_generate)


def add_export(export: argparse.ArgumentParser) -> None:
    """The options of ``tinynet export``."""
    from tinynet.io.onnx_export import DEFAULT_OPSET

    export.add_argument("weights", help="a model saved with --save or tinynet.save")
    export.add_argument("output", help="the .onnx file to write")
    export.add_argument(
        "--input-shape",
        type=shape,
        metavar="SHAPE",
        help="one sample's shape, e.g. 784 or 1,28,28 (default: the one train --save "
        "recorded, the model file's INPUT_SHAPE, else the first layer's features)",
    )
    export.add_argument("--opset", type=int, default=DEFAULT_OPSET, help="ONNX opset version")
    export.set_defaults(run=command_export)


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
