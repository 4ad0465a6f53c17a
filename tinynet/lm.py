"""Training a language model on text: `TextRecipe`, `train_lm` and `heldout_loss`.

A stand-in for ``fit`` until it takes int64 token inputs: the loop is nanoGPT's, a
fixed number of iterations, each on a fresh batch of random windows
(`tinynet.datasets.text.TextWindows`), with the loss estimated on both splits every
``eval_interval`` iterations. It is short enough to copy and change::

    x, y = batches.sample()                      # (N, T) int64 each
    value = loss.forward(model(x), y)            # logits (N, T, vocab)
    model.backward_params(loss.backward())
    optimizer.step(); optimizer.zero_grad(); schedule.step()
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tinynet import optim
from tinynet.datasets.text import TextSplits, TextWindows
from tinynet.layers.base import Layer
from tinynet.layers.recurrent import kept_states, reset_states
from tinynet.losses import CrossEntropyLoss
from tinynet.optim.optimizer import OPTIMIZERS
from tinynet.optim.schedules import LambdaLR
from tinynet.typing import Array, FloatArray, IntArray

Log = Callable[[str], None]


@dataclass(frozen=True)
class TextRecipe:
    """How a language model is trained on character windows (nanoGPT's settings).

    - ``data``: a text file (``None``: tiny-shakespeare from ``data/``).
    - ``context`` characters a window, ``batch_size`` windows a batch, ``iterations``
      batches in all.
    - ``optimizer`` (a key of `tinynet.recipe.OPTIMIZERS`) with ``optimizer_args``.
    - the learning rate rises linearly over ``warmup`` iterations (nanoGPT's
      ``lr * (t + 1) / (warmup + 1)``), then, with ``min_lr``, follows a cosine down to
      ``min_lr`` at the last iteration; without ``min_lr`` it stays.
    - ``clip_grad_norm`` / ``clip_grad_value``: gradient clipping (``None``: none).
    - ``eval_interval``, ``eval_iters``: every that many iterations (and after the last)
      the loss of each split is estimated on ``eval_iters`` random batches, as nanoGPT's
      ``estimate_loss``.
    - ``sequential``: read the training text in order (`TextWindows` with
      ``sequential=True``) for a ``stateful`` recurrent model, whose state is reset at
      the start of each pass over the text (min-char-rnn's loop); else random windows.
    """

    data: str | None = None
    context: int = 64
    batch_size: int = 12
    iterations: int = 2000
    optimizer: str = "adamw"
    optimizer_args: Mapping[str, Any] = field(default_factory=lambda: {"lr": 1e-3})
    warmup: int = 0
    min_lr: float | None = None
    clip_grad_norm: float | None = None
    clip_grad_value: float | None = None
    eval_interval: int = 250
    eval_iters: int = 20
    sequential: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS.names():
            raise ValueError(
                f"TextRecipe: optimizer must be one of {tuple(OPTIMIZERS.names())}, "
                f"got {self.optimizer!r}"
            )
        counts = {"context": self.context, "batch_size": self.batch_size}
        counts |= {"eval_interval": self.eval_interval, "eval_iters": self.eval_iters}
        for name, value in counts.items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TextRecipe: expected {name} >= 1, got {value!r}")
        if self.iterations < 0 or self.warmup < 0:
            raise ValueError(
                f"TextRecipe: expected iterations and warmup >= 0, got {self.iterations} "
                f"and {self.warmup}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON-ready values."""
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in asdict(self).items()}

    def make_optimizer(self, model: Layer) -> optim.Optimizer:
        """The optimizer over ``model.parameters()``."""
        return OPTIMIZERS.get(self.optimizer)(model.parameters(), **self.optimizer_args)

    def lr_factor(self, t: int) -> float:
        """The learning rate of iteration ``t`` (from 0) over the optimizer's own."""
        if t < self.warmup:
            return (t + 1) / (self.warmup + 1)
        if self.min_lr is None:
            return 1.0
        base = float(self.optimizer_args.get("lr", 1e-3))
        floor = self.min_lr / base
        progress = (t - self.warmup) / max(self.iterations - 1 - self.warmup, 1)
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


@dataclass
class LMResult:
    """What `train_lm` measured: ``history`` rows ``{"iteration", "train_loss",
    "val_loss", "seconds"}`` at each evaluation, every batch's loss in ``losses`` and
    the training time in ``seconds`` (evaluations excluded)."""

    history: list[dict[str, float]]
    losses: list[float]
    seconds: float


def forward_tokens(model: Layer, tokens: IntArray) -> FloatArray:
    """``model(tokens)``: int64 tokens (N, T) -> logits (N, T, vocab). (``Layer.__call__``
    is typed for float input; a model that starts with an `Embedding` takes integers.)"""
    inputs: Array = tokens
    return model(inputs)


def estimate_loss(
    model: Layer, tokens: IntArray, recipe: TextRecipe, rng: np.random.Generator
) -> float:
    """The mean loss of ``model`` on ``recipe.eval_iters`` random batches of ``tokens``
    (nanoGPT's ``estimate_loss``), in inference mode; the model's mode is restored.
    With ``recipe.sequential``, the first ``eval_iters`` batches of ``tokens`` read in
    order instead, the state carried from one to the next, as the model was trained."""
    windows = TextWindows(
        tokens, recipe.context, recipe.batch_size, rng=rng, sequential=recipe.sequential
    )
    loss, was_training = CrossEntropyLoss(), model.training
    model.eval()
    try:
        values = []
        with kept_states(model):
            for _ in range(recipe.eval_iters):
                x, y = windows.sample()
                if not recipe.sequential:
                    reset_states(model)  # independent windows
                values.append(loss.forward(forward_tokens(model, x), y))
    finally:
        model.train(was_training)
    return float(np.mean(values))


def heldout_loss(
    model: Layer, tokens: IntArray, context: int, batch_size: int = 64, *, carry: bool = False
) -> float:
    """The mean loss over every character of ``tokens`` (L,) but the first, each
    predicted once from the consecutive non-overlapping windows of ``context``
    characters (the last one shorter): a deterministic figure for a whole held-out
    split, computed in inference mode (the model's mode is restored). With ``carry``
    (a ``stateful`` recurrent model) the windows are read one at a time, in order, the
    state carried from each to the next: the text as one stream."""
    batch_size = 1 if carry else batch_size
    full = (tokens.size - 1) // context
    x = tokens[: full * context].reshape(full, context)
    y = tokens[1 : full * context + 1].reshape(full, context)
    pieces = [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, full, batch_size)]
    if full * context < tokens.size - 1:
        pieces.append((tokens[None, full * context : -1], tokens[None, full * context + 1 :]))
    loss, was_training = CrossEntropyLoss(), model.training
    model.eval()
    try:
        total = 0.0
        with kept_states(model):
            for xb, yb in pieces:
                if not carry:
                    reset_states(model)  # rows are windows, not streams
                total += loss.forward(forward_tokens(model, xb), yb) * yb.size
    finally:
        model.train(was_training)
    return total / (tokens.size - 1)


def train_lm(
    model: Layer,
    splits: TextSplits,
    recipe: TextRecipe,
    *,
    seed: int = 0,
    log: Log | None = print,
) -> LMResult:
    """Train ``model`` (int64 (N, T) -> logits (N, T, vocab)) on ``splits.train`` for
    ``recipe.iterations`` batches; batches are drawn from a generator seeded with
    ``[seed, 2]``, evaluations from ``[seed, 3]`` (apart from the weights' ``seed``).
    ``log`` receives a line at each evaluation (``None``: silent). Raises
    ``FloatingPointError`` if the loss turns NaN or infinite."""
    loss, optimizer = CrossEntropyLoss(), recipe.make_optimizer(model)
    schedule = LambdaLR(optimizer, recipe.lr_factor)
    rng = np.random.default_rng([seed, 2])
    batches = TextWindows(
        splits.train, recipe.context, recipe.batch_size, rng=rng, sequential=recipe.sequential
    )
    eval_rng = np.random.default_rng([seed, 3])
    history: list[dict[str, float]] = []
    seconds, losses = 0.0, []
    model.train()
    for it in range(recipe.iterations):
        start = time.perf_counter()
        value = _step(model, loss, optimizer, batches, recipe)
        schedule.step()
        seconds += time.perf_counter() - start
        losses.append(value)
        if not math.isfinite(value):
            raise FloatingPointError(f"train_lm: the loss is {value} at iteration {it}")
        if (it + 1) % recipe.eval_interval == 0 or it + 1 == recipe.iterations:
            row = {
                "iteration": float(it + 1),
                "train_loss": estimate_loss(model, splits.train, recipe, eval_rng),
                "val_loss": estimate_loss(model, splits.val, recipe, eval_rng),
                "seconds": seconds,
            }
            history.append(row)
            if log is not None:
                log(
                    f"iter {it + 1}: train loss {row['train_loss']:.4f}, val loss "
                    f"{row['val_loss']:.4f}, {seconds:.1f} s"
                )
    return LMResult(history, losses, seconds)


def _step(
    model: Layer,
    loss: CrossEntropyLoss,
    optimizer: optim.Optimizer,
    batches: TextWindows,
    recipe: TextRecipe,
) -> float:
    """One batch: forward, loss, backward, clipping, update; the batch's loss."""
    if batches.sequential and batches.position == 0:
        reset_states(model)  # the start of the text again
    x, y = batches.sample()
    value = loss.forward(forward_tokens(model, x), y)
    model.backward_params(loss.backward())
    if recipe.clip_grad_norm is not None:
        optim.clip_grad_norm_(model.parameters(), recipe.clip_grad_norm)
    if recipe.clip_grad_value is not None:
        optim.clip_grad_value_(model.parameters(), recipe.clip_grad_value)
    optimizer.step()
    optimizer.zero_grad()
    return value


def text_recipe(module: Any, name: str | None = None) -> TextRecipe | None:
    """The `TextRecipe` a model file module declares (``TEXT_RECIPE``, or ``name`` among
    ``TEXT_RECIPES``); ``None`` for a model file of another kind."""
    if not hasattr(module, "TEXT_RECIPE"):
        return None
    if name is None:
        recipe = module.TEXT_RECIPE
    else:
        recipes = getattr(module, "TEXT_RECIPES", {})
        if name not in recipes:
            raise ValueError(f"no text recipe {name!r}; the file's: {', '.join(recipes)}")
        recipe = recipes[name]
    if not isinstance(recipe, TextRecipe):
        raise TypeError(f"TEXT_RECIPE must be a tinynet.lm.TextRecipe, got {type(recipe).__name__}")
    return recipe


def train_text_model(
    module: Any,
    recipe: TextRecipe,
    *,
    seed: int = 0,
    data: str | None = None,
    save: str | None = None,
    log: Log = print,
) -> dict[str, Any]:
    """Train a text model file (``build(seed, vocab_size)``) with ``recipe`` on ``data``
    (default: the recipe's, tiny-shakespeare), as ``tinynet train`` does: report the
    held-out loss over the whole last 10% (``test_loss``), save the model with its
    vocabulary if asked; return the metrics ``--metrics-json`` writes."""
    from tinynet.datasets.text import load_text
    from tinynet.init import manual_seed
    from tinynet.io import save as save_model

    splits = load_text(data or recipe.data, context=recipe.context)
    manual_seed(seed)
    model = module.build(seed, splits.vocab.size)
    result = train_lm(model, splits, recipe, seed=seed, log=log)
    test_loss = heldout_loss(model, splits.val, recipe.context, carry=recipe.sequential)
    log(f"test loss {test_loss:.4f} after {recipe.iterations} iterations in {result.seconds:.1f} s")
    if save is not None:
        save_model(model, save, metadata={**splits.vocab.to_metadata(), "recipe": recipe.to_dict()})
        log(f"saved the model to {save}")
    return {"test_loss": test_loss, "train_seconds": result.seconds, "seed": seed}
