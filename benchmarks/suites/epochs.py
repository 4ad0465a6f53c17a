"""Whole training epochs, as each library is ordinarily used, and the accuracy after them.

One alternating round is one epoch of every contender: tinynet's `fit` (its
DataLoader, its metrics, its progress bar drawn to a terminal-like sink), PyTorch's
ordinary epoch loop, scikit-learn's ``partial_fit`` and the plain NumPy loop. tinynet,
torch and NumPy start from the same weights and see the same batches in the same
order; scikit-learn draws its own. After the last round each contender's test
accuracy is measured.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from benchmarks.context import Context
from benchmarks.formatting import summary_line
from benchmarks.nets import dense_weights, layer_sizes
from benchmarks.timing import Case, alternate
from tinynet import CrossEntropyLoss
from tinynet.callbacks import History
from tinynet.data import DataLoader
from tinynet.layers.base import Layer
from tinynet.optim import Adam
from tinynet.train import fit, predict
from tinynet.typing import Array, FloatArray

RATIOS = [("tinynet", "torch"), ("tinynet", "sklearn"), ("tinynet", "numpy")]


class TerminalSink(io.StringIO):
    """A text stream that says it is a terminal, so `fit(verbose=1)` draws its tqdm bar
    (the cost a user at a terminal pays) without cluttering the suite's output."""

    def isatty(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self.seek(0)  # keep nothing: only the cost of producing the text matters
        self.truncate()
        return len(s)


class TinynetEpochs:
    """`tinynet.train.fit`, one epoch per call, resuming its optimizer and DataLoader.

    It trains as the peers do: plain cross-entropy and Adam at ``lr``, no schedule,
    label smoothing or augmentation (the model file's full recipe is what the
    time-to-accuracy section runs). The loader is seeded as `Recipe.fit` seeds it, so
    successive calls train exactly as one ``fit(epochs=E)`` would. An epoch's time is
    fit's own ``seconds`` log (from the first batch drawn to the last step; the one-off
    input check of each call is not charged).
    """

    def __init__(
        self, model: Layer, x: FloatArray, y: Array, *, batch: int, lr: float, seed: int
    ) -> None:
        self.model, self.x, self.y = model, x, y
        self.loss = CrossEntropyLoss()
        self.optimizer = Adam(model.parameters(), lr=lr)
        self.loader = DataLoader(
            x, y, batch_size=batch, shuffle=True, seed=seed, reuse_buffers=True
        )
        self.epochs_done = 0
        self.history: History | None = None

    def epoch(self) -> float:
        """Train one epoch with a progress bar; return fit's seconds for it."""
        sink = TerminalSink()
        with contextlib.redirect_stderr(sink):
            self.history = fit(
                self.model,
                loss=self.loss,
                optimizer=self.optimizer,
                epochs=self.epochs_done + 1,  # Keras: the final epoch, not a count
                loader=self.loader,
                initial_epoch=self.epochs_done,
                verbose=1,
            )
        self.epochs_done += 1
        return float(self.history["seconds"][-1])


def run(ctx: Context) -> dict[str, Any]:
    """The epoch comparison: seconds per epoch of each contender, then test accuracy."""
    settings = ctx.settings
    recipe = ctx.model_file.recipe
    data = ctx.data.head(settings.epoch_subset, None)
    epochs = settings.epoch_rounds or recipe.epochs
    batch = recipe.batch_size or len(data.x_train)
    lr = float(recipe.optimizer_args.get("lr", 1e-3))
    seed = settings.seed
    x, y = data.x_train, data.y_train
    model = ctx.model_file.build(seed)
    weights = dense_weights(model)
    tiny = TinynetEpochs(model, x, y, batch=batch, lr=lr, seed=seed)
    contenders: dict[str, Any] = {"tinynet": tiny}
    if ctx.has("torch"):
        from benchmarks.peers.torch_mlp import TorchEpochs

        contenders["torch"] = TorchEpochs(weights, x, y, batch, seed, lr)
    if ctx.has("sklearn"):
        from benchmarks.peers.sklearn_mlp import SklearnEpochs

        hidden = layer_sizes(model)[1:-1]
        contenders["sklearn"] = SklearnEpochs(
            hidden, x, y, epochs=epochs, batch=batch, seed=seed, lr=lr
        )
    if ctx.has("numpy"):
        from benchmarks.peers.numpy_mlp import NumpyEpochs

        contenders["numpy"] = NumpyEpochs(weights, x, y, batch, seed, lr)
    cases = [Case(name, c.epoch, samples=len(x), steps=1) for name, c in contenders.items()]
    title = f"epoch float32 batch {batch}"
    ctx.log(f"{title}: {epochs} alternating epochs of {len(x):,} samples ...")

    def progress(r: int, seconds: dict[str, float]) -> None:
        times = ", ".join(f"{name} {s:.2f} s" for name, s in seconds.items())
        ctx.log(f"  epoch {r + 1}/{epochs}: {times}")

    comparison = alternate(
        title,
        cases,
        rounds=epochs,
        warmup_rounds=0,
        params={"dtype": "float32", "batch": batch, "epochs": epochs, "train_samples": len(x)},
        on_round=progress,
        settle_seconds=ctx.settle_seconds,
    )
    result = comparison.to_json(RATIOS)
    tiny_labels = predict(model, data.x_test, loss="cross_entropy")
    accuracy = {"tinynet": float(np.mean(tiny_labels == data.y_test))}
    agreement = {"tinynet": 1.0}
    for name, contender in contenders.items():
        if name != "tinynet":
            labels = contender.labels(data.x_test)
            accuracy[name] = float(np.mean(labels == data.y_test))
            agreement[name] = float(np.mean(labels == tiny_labels))
    result["test_accuracy"] = accuracy
    result["agreement_with_tinynet"] = agreement
    ctx.log(summary_line(title, result))
    ctx.log(
        f"  test accuracy after {epochs} epochs: "
        + ", ".join(f"{name} {100 * value:.2f}%" for name, value in accuracy.items())
        + "; same label as tinynet: "
        + ", ".join(f"{name} {100 * value:.1f}%" for name, value in agreement.items())
    )
    return {
        "description": (
            "one round = one training epoch including shuffling, batching and metrics; "
            "tinynet = tinynet.train.fit with its progress bar; torch = an ordinary epoch "
            "loop over randperm-indexed tensors; sklearn = MLPClassifier.partial_fit; "
            "numpy = a hand-written loop"
        ),
        "epochs": epochs,
        "comparison": result,
    }
