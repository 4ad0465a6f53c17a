"""Peak memory of one training run, measured in a fresh process.

    python -m benchmarks.memory_probe --epochs 10 [--framework torch] [--train N]

Prints one JSON object: the resident set size (RSS) after the imports, after loading
MNIST, and at its peak. The peak is taken twice: over the whole process, and over
training alone. On Linux both come from the kernel's high-water mark ``VmHWM``, read
before and after training and reset in between by writing 5 to
``/proc/self/clear_refs`` (the training peak is ``null`` where that is not possible).
``getrusage``'s ``ru_maxrss`` is only a fallback: after ``fork`` it can report the
parent's peak. Run by `benchmarks.suites.memory`, so the suite's own arrays are not
counted.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

STATUS = Path("/proc/self/status")


def rss_bytes() -> int | None:
    """Current resident set size (Linux ``VmRSS``; else psutil; else ``None``)."""
    value = _status_field("VmRSS")
    if value is not None:
        return value
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except ImportError:
        return None


def peak_rss_bytes() -> int:
    """The process's peak RSS so far: ``VmHWM`` on Linux, else ``ru_maxrss`` (KiB on
    Linux, bytes on macOS)."""
    high_water = _status_field("VmHWM")
    if high_water is not None:
        return high_water
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux 4.0+); whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _status_field("VmHWM") is not None


def _status_field(name: str) -> int | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def train_tinynet(
    model_file: str, x: Any, y: Any, epochs: int, seed: int, dtype: str
) -> dict[str, Any]:
    """Train the model file's net with its recipe; return what was trained."""
    from tinynet.datasets import model_layout
    from tinynet.modelfile import load_model_file

    loaded = load_model_file(model_file)
    model = loaded.build(seed).astype(dtype)
    x = model_layout(x.astype(dtype, copy=False), loaded.input_shape)
    history = loaded.recipe.fit(model, x, y, seed=seed, epochs=epochs, verbose=0)
    return {"parameters": model.num_parameters(), "epochs": len(history.epoch)}


def train_torch(
    model_file: str, x: Any, y: Any, epochs: int, seed: int, dtype: str
) -> dict[str, Any]:
    """Train the same net in PyTorch's ordinary epoch loop (same weights, batches; Adam
    at the recipe's learning rate). A model file with an ``INPUT_SHAPE`` is a CNN: its
    layers are rebuilt one by one (`benchmarks.peers.torch_cnn`)."""
    from benchmarks.nets import dense_weights
    from benchmarks.peers.torch_cnn import TorchCNNEpochs
    from benchmarks.peers.torch_mlp import TorchEpochs
    from tinynet.datasets import model_layout
    from tinynet.modelfile import load_model_file

    loaded = load_model_file(model_file)
    model = loaded.build(seed).astype(dtype)
    recipe = loaded.recipe
    lr = float(recipe.optimizer_args.get("lr", 1e-3))
    batch = recipe.batch_size or len(x)
    x = x.astype(dtype, copy=False)
    trainer: TorchEpochs | TorchCNNEpochs
    if loaded.input_shape is not None:
        trainer = TorchCNNEpochs(model, model_layout(x, loaded.input_shape), y, batch, seed, lr)
    else:
        trainer = TorchEpochs(dense_weights(model), x, y, batch, seed, lr)
    for _ in range(epochs):
        trainer.epoch()
    return {"parameters": model.num_parameters(), "epochs": epochs}


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments, train once, print the JSON measurements."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-file", required=True)
    parser.add_argument("--framework", choices=("tinynet", "torch"), default="tinynet")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--train", type=int, default=None, help="first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--data", default=None, help="MNIST folder")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--text-steps", type=int, default=None, help="a text model file: train this many steps"
    )
    args = parser.parse_args(argv)

    from tinynet.datasets import load_mnist

    if args.threads:
        try:
            from threadpoolctl import threadpool_limits

            threadpool_limits(args.threads, user_api="blas")
        except ImportError:
            pass
    if args.framework == "torch":
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
    after_imports = rss_bytes()
    if args.text_steps is not None:
        from benchmarks.suites.sequence import text_steps
        from tinynet.datasets import load_text

        tokens = load_text().train
        samples = tokens.size
        after_data = rss_bytes()
        peak_before_training = peak_rss_bytes()
        reset = reset_peak()
        start = time.perf_counter()
        trained = text_steps(args.model_file, args.framework, args.text_steps, args.seed, tokens)
    else:
        (x, y), _ = load_mnist(args.data)
        samples = len(x)
        if args.train is not None and args.train < len(x):
            x, y = x[: args.train].copy(), y[: args.train].copy()  # a view keeps all alive
            samples = len(x)
        after_data = rss_bytes()
        peak_before_training = peak_rss_bytes()
        reset = reset_peak()
        start = time.perf_counter()
        train = train_tinynet if args.framework == "tinynet" else train_torch
        trained = train(args.model_file, x, y, args.epochs, args.seed, args.dtype)
    seconds = time.perf_counter() - start
    result = {
        "framework": args.framework,
        "dtype": args.dtype,
        "train_samples": samples,
        "seconds": seconds,
        "rss_after_imports": after_imports,
        "rss_after_data": after_data,
        "peak_rss_training": peak_rss_bytes() if reset else None,
        "peak_rss_process": max(peak_before_training, peak_rss_bytes()),
        **trained,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
