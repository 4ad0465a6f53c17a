"""`Recipe`: how a model file's network is trained (data, loss, optimizer, schedule...).

A recipe is data, not code: a frozen dataclass whose fields name tinynet's pieces
and their settings, so it can be printed, compared, stored in a metrics file and
overridden from the command line (``--epochs``).
"""

from __future__ import annotations

import bisect
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from tinynet import losses, optim
from tinynet.augment import RandomShift
from tinynet.callbacks import LearningRateScheduler
from tinynet.data import DataLoader, class_sample_weights, one_hot
from tinynet.datasets.catalog import dataset_info
from tinynet.heads import loss_targets
from tinynet.inference import as_model_input, evaluate
from tinynet.layers.base import Layer
from tinynet.optim.schedules import LRScheduler
from tinynet.train import Callback, History, fit
from tinynet.typing import Array, FloatArray
from tinynet.validation import number

LOSSES: dict[str, Callable[..., losses.Loss]] = {
    "cross_entropy": losses.CrossEntropyLoss,
    "mse": losses.MSELoss,
    "bce_with_logits": losses.BCEWithLogitsLoss,
}
OPTIMIZERS: dict[str, Callable[..., optim.Optimizer]] = {
    "sgd": optim.SGD,
    "momentum": optim.Momentum,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": optim.RMSProp,
    "adagrad": optim.Adagrad,
}
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "one_cycle", "plateau", "piecewise")


SCHEDULE_ARGUMENTS: dict[str, tuple[Callable[..., Any] | None, set[str], set[str], set[str]]] = {
    "constant": (None, set(), set(), set()),
    "step": (optim.StepLR, set(), set(), set()),
    "cosine": (optim.CosineAnnealingLR, {"T_max"}, set(), set()),
    "warmup_cosine": (optim.CosineAnnealingLR, {"T_max"}, {"warmup"}, {"start_factor"}),
    "one_cycle": (optim.OneCycleLR, {"total_steps"}, set(), set()),
    "plateau": (optim.ReduceLROnPlateau, set(), set(), {"monitor"}),
    "piecewise": (None, set(), {"milestones", "factors"}, set()),
}
"""Per schedule: the class its ``schedule_args`` go to, the arguments the recipe gives
that class itself, and the recipe's own extra ones, required and optional."""


def _parameters(target: Callable[..., Any] | None, skip: set[str]) -> tuple[set[str], set[str]]:
    """The keyword arguments ``target`` takes, and those of them without a default."""
    takes, needs = set(), set()
    for p in inspect.signature(target).parameters.values() if target else ():
        if p.name not in skip and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            takes.add(p.name)
            if p.default is p.empty:
                needs.add(p.name)
    return takes, needs


def check_arguments(recipe: Recipe) -> None:
    """Each of ``loss_args``, ``optimizer_args`` and ``schedule_args`` names only
    arguments its class takes and every one it needs: a ``ValueError`` naming the field
    when the recipe is made, not a ``KeyError``/``TypeError`` in the first epoch."""
    schedule, given, required, optional = SCHEDULE_ARGUMENTS[recipe.schedule]
    loss, optimizer = LOSSES[recipe.loss], OPTIMIZERS[recipe.optimizer]
    fields: list[tuple[str, str, Mapping[str, Any], tuple[set[str], set[str]]]] = [
        ("loss_args", f"loss {recipe.loss!r}", recipe.loss_args, _parameters(loss, set())),
        (
            "optimizer_args",
            f"optimizer {recipe.optimizer!r}",
            recipe.optimizer_args,
            _parameters(optimizer, {"params"}),
        ),
    ]
    takes, needs = _parameters(schedule, {"optimizer", *given})
    fields.append(
        (
            "schedule_args",
            f"schedule {recipe.schedule!r}",
            recipe.schedule_args,
            (takes | required | optional, needs | required),
        )
    )
    for name, owner, args, (takes, needs) in fields:
        unknown, missing = sorted(set(args) - takes), sorted(needs - set(args))
        if unknown or missing:
            problem = f"unknown {unknown}" if unknown else f"missing {missing}"
            raise ValueError(
                f"Recipe: {name} of {owner}: {problem}; it takes {sorted(takes) or 'none'}, "
                f"got {dict(args)}"
            )
    if "warmup" in recipe.schedule_args:
        number("Recipe", "schedule_args['warmup']", recipe.schedule_args["warmup"])
    if recipe.schedule == "piecewise":
        piecewise_steps(recipe.schedule_args["milestones"], recipe.schedule_args["factors"])


@dataclass(frozen=True)
class Recipe:
    """Everything ``tinynet train`` needs besides the network.

    - ``dataset``: a name in `tinynet.datasets.DATASETS` (``"mnist"``, ``"fashion-mnist"``).
    - ``loss`` (a key of `LOSSES`) with ``loss_args``, e.g. ``{"label_smoothing": 0.1}``;
      ``targets="one_hot"`` feeds one-hot rows instead of labels (a quadratic cost).
    - ``optimizer`` (a key of `OPTIMIZERS`) with ``optimizer_args`` (``lr``...).
    - ``schedule``: ``"constant"``, ``"step"`` (``step_size``, ``gamma``), ``"cosine"``
      (``eta_min``) over all epochs, ``"warmup_cosine"`` (a linear warm-up over
      ``warmup`` epochs (may be fractional) from ``start_factor``, then cosine to
      ``eta_min`` at the end), ``"one_cycle"`` (`OneCycleLR` over all steps: ``max_lr``,
      by default the optimizer's ``lr``, ``pct_start``, ``div_factor``...),
      ``"piecewise"`` (the rate times ``factors[i]`` from epoch ``milestones[i - 1]`` on:
      ``{"milestones": [2, 5], "factors": [1, 0.4, 0.2]}`` is the full rate for two
      epochs, 0.4 of it for three, then 0.2; Keras's ``PiecewiseConstantDecay``) or
      ``"plateau"`` (`ReduceLROnPlateau`: ``factor``, ``patience``..., watching
      ``monitor``, by default ``val_loss`` with validation data, else ``loss``);
      ``schedule_per`` says whether the learning rate changes every ``"epoch"`` or
      every ``"batch"`` (a plateau: every epoch).
    - ``epochs``, ``batch_size`` (``None``: the whole training set, full-batch descent).
    - ``max_shift``: augmentation by random shifts of up to that many pixels (0: none).
    - ``metrics``: names for ``fit(metrics=...)`` (empty: the head's defaults, accuracy
      or MAE/RMSE/R2); ``class_weight``: ``"balanced"`` or ``{"class": weight}``;
      ``clip_grad_norm``: the gradients' largest total norm (``None``: no clipping).
    """

    dataset: str = "mnist"
    loss: str = "cross_entropy"
    loss_args: Mapping[str, Any] = field(default_factory=dict)
    targets: str = "labels"
    optimizer: str = "adam"
    optimizer_args: Mapping[str, Any] = field(default_factory=lambda: {"lr": 1e-3})
    schedule: str = "constant"
    schedule_args: Mapping[str, Any] = field(default_factory=dict)
    schedule_per: str = "epoch"
    epochs: int = 10
    batch_size: int | None = 128
    max_shift: int = 0
    metrics: tuple[str, ...] = ()
    class_weight: str | Mapping[str, float] | None = None
    clip_grad_norm: float | None = None

    def __post_init__(self) -> None:
        dataset_info(self.dataset)  # a ValueError naming the known datasets
        choices = {
            "loss": (self.loss, tuple(LOSSES)),
            "optimizer": (self.optimizer, tuple(OPTIMIZERS)),
            "schedule": (self.schedule, SCHEDULES),
            "schedule_per": (self.schedule_per, ("epoch", "batch")),
            "targets": (self.targets, ("labels", "one_hot")),
        }
        for name, (value, allowed) in choices.items():
            if value not in allowed:
                raise ValueError(f"Recipe: {name} must be one of {allowed}, got {value!r}")
        if self.epochs < 0 or (self.batch_size is not None and self.batch_size < 1):
            raise ValueError(
                f"Recipe: expected epochs >= 0 and batch_size >= 1 or None, "
                f"got {self.epochs} and {self.batch_size}"
            )
        if isinstance(self.metrics, str) or not all(isinstance(m, str) for m in self.metrics):
            raise ValueError(f"Recipe: metrics must be a tuple of names, got {self.metrics!r}")
        object.__setattr__(self, "metrics", tuple(self.metrics))  # a list from JSON, too
        if self.schedule == "plateau" and self.schedule_per != "epoch":
            raise ValueError("Recipe: the plateau schedule changes the learning rate per epoch")
        check_arguments(self)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON-ready values."""
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in asdict(self).items()}

    def make_loss(self) -> losses.Loss:
        """The loss, e.g. ``CrossEntropyLoss(label_smoothing=0.1)``."""
        return LOSSES[self.loss](**self.loss_args)

    def make_optimizer(self, model: Layer) -> optim.Optimizer:
        """The optimizer over ``model.parameters()``."""
        return OPTIMIZERS[self.optimizer](model.parameters(), **self.optimizer_args)

    def make_scheduler(
        self, optimizer: optim.Optimizer, batches: int
    ) -> LRScheduler | optim.ReduceLROnPlateau | None:
        """The schedule (``None`` if constant); ``batches`` is the number per epoch."""
        per_epoch = batches if self.schedule_per == "batch" else 1
        units = self.epochs * per_epoch
        args = dict(self.schedule_args)
        args.pop("monitor", None)  # the plateau's, read by make_callbacks
        if self.schedule == "constant":
            return None
        if self.schedule == "step":
            return optim.StepLR(optimizer, **args)
        if self.schedule == "cosine":
            return optim.CosineAnnealingLR(optimizer, T_max=max(units, 1), **args)
        if self.schedule == "one_cycle":
            args.setdefault("max_lr", optimizer.initial_lr)
            return optim.OneCycleLR(optimizer, total_steps=max(units, 1), **args)
        if self.schedule == "plateau":
            return optim.ReduceLROnPlateau(optimizer, **args)
        if self.schedule == "piecewise":
            return piecewise(optimizer, args["milestones"], args["factors"], per_epoch)
        warmup = round(float(args.pop("warmup")) * per_epoch)
        start = float(args.pop("start_factor", 0.1))
        warm = optim.LinearLR(optimizer, start, 1.0, total_iters=max(warmup, 1))
        cosine = optim.CosineAnnealingLR(optimizer, T_max=max(units - warmup, 1), **args)
        return optim.SequentialLR(optimizer, [warm, cosine], milestones=[warmup])

    def make_callbacks(
        self, optimizer: optim.Optimizer, batches: int, *, validation: bool
    ) -> list[Callback]:
        """The callback that steps the schedule (none for a constant one); a plateau
        watches ``schedule_args["monitor"]``, else ``val_loss`` if there is
        ``validation`` data, else ``loss``."""
        scheduler = self.make_scheduler(optimizer, batches)
        if scheduler is None:
            return []
        monitor = str(self.schedule_args.get("monitor", "val_loss" if validation else "loss"))
        return [LearningRateScheduler(scheduler, per=self.schedule_per, monitor=monitor)]

    def make_transform(self, seed: int) -> Callable[[FloatArray], FloatArray] | None:
        """The augmentation (random shifts), seeded apart from the batch order."""
        if not self.max_shift:
            return None
        rng = np.random.default_rng([seed, 1])
        return RandomShift(self.max_shift, rng=rng)

    def prepare_targets(
        self, y: Array, dtype: Any = np.float32, num_classes: int | None = None
    ) -> Array:
        """Labels as they are, or one-hot rows of ``dtype`` for ``targets="one_hot"``, of
        ``num_classes`` columns (by default the recipe dataset's number of classes)."""
        if self.targets != "one_hot":
            return y
        classes = dataset_info(self.dataset).num_classes if num_classes is None else num_classes
        return one_hot(y, classes, dtype)

    def evaluate(
        self, model: Layer, x: FloatArray, y: Array, *, num_classes: int | None = None
    ) -> dict[str, float]:
        """The loss and the recipe's metrics (by default the head's: accuracy, or MAE,
        RMSE and R2) of ``model`` on (x, y) with this recipe's loss."""
        targets = self.prepare_targets(y, model.dtype, num_classes)
        return evaluate(model, x, targets, loss=self.make_loss(), metrics=self.metrics or None)

    def fit(
        self,
        model: Layer,
        x: FloatArray,
        y: Array,
        *,
        seed: int = 0,
        epochs: int | None = None,
        validation_data: tuple[FloatArray, Array] | None = None,
        callbacks: Iterable[Callback] = (),
        verbose: int = 1,
        num_classes: int | None = None,
    ) -> History:
        """Train ``model`` on (x, y) (labels or targets) with this recipe; ``epochs``
        overrides its own, ``num_classes`` the dataset's (for one-hot targets).

        To resume an interrupted run, pass ``tinynet.checkpoint.BackupAndRestore(path)``
        among ``callbacks`` (with the same recipe, seed and callbacks as the run that
        wrote it)."""
        recipe = self if epochs is None else replace(self, epochs=epochs)
        dtype = model.dtype
        loss = recipe.make_loss()
        targets = loss_targets(loss, recipe.prepare_targets(y, dtype, num_classes), dtype)
        weights = None
        if recipe.class_weight is not None:
            weights = class_sample_weights(recipe.class_weight, targets).astype(dtype)
        loader = DataLoader(
            as_model_input(model, x),
            targets,
            batch_size=recipe.batch_size or x.shape[0],
            shuffle=recipe.batch_size is not None,  # one full batch: order cannot matter
            seed=seed,
            reuse_buffers=True,
            transform=recipe.make_transform(seed),
            sample_weight=weights,
        )
        optimizer = recipe.make_optimizer(model)
        schedule = recipe.make_callbacks(
            optimizer, len(loader), validation=validation_data is not None
        )
        if validation_data is not None:
            x_val, y_val = validation_data
            validation_data = (x_val, recipe.prepare_targets(y_val, dtype, num_classes))
        return fit(
            model,
            loss=loss,
            optimizer=optimizer,
            epochs=recipe.epochs,
            validation_data=validation_data,
            callbacks=[*schedule, *callbacks],
            verbose=verbose,
            loader=loader,
            metrics=recipe.metrics or None,
            clip_grad_norm=recipe.clip_grad_norm,
        )


def piecewise_steps(milestones: object, factors: object) -> tuple[list[float], list[float]]:
    """A ``"piecewise"`` schedule's milestones (epochs, increasing, >= 0) and factors (one
    more, each finite and >= 0) as floats; ``ValueError`` naming what came otherwise."""
    if not isinstance(milestones, (list, tuple)) or not isinstance(factors, (list, tuple)):
        raise ValueError(
            f"Recipe: a piecewise schedule needs lists of milestones and factors, got "
            f"milestones {milestones!r} and factors {factors!r}"
        )
    bounds = [number("Recipe", "a piecewise milestone", m) for m in milestones]
    scales = [number("Recipe", "a piecewise factor", f) for f in factors]
    if len(scales) != len(bounds) + 1 or bounds != sorted(bounds):
        raise ValueError(
            f"Recipe: a piecewise schedule needs increasing milestones and one factor more, "
            f"got milestones {bounds} and factors {scales}"
        )
    return bounds, scales


def piecewise(
    optimizer: optim.Optimizer,
    milestones: Iterable[float],
    factors: Iterable[float],
    per_epoch: int,
) -> LRScheduler:
    """The ``"piecewise"`` schedule: ``factors[i]`` times the rate from epoch
    ``milestones[i - 1]`` (``per_epoch`` steps an epoch) until ``milestones[i]``."""
    epochs, scales = piecewise_steps(list(milestones), list(factors))
    bounds = [round(m * per_epoch) for m in epochs]
    return optim.LambdaLR(optimizer, lambda t: scales[bisect.bisect_right(bounds, t)])
