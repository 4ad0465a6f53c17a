"""`Recipe`: how a model file's network is trained (data, loss, optimizer, schedule...).

A recipe is data, not code: a frozen dataclass whose fields name tinynet's pieces
and their settings, so it can be printed, compared, stored in a metrics file and
overridden from the command line (``--epochs``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from tinynet import losses, optim
from tinynet.augment import RandomShift
from tinynet.callbacks import LearningRateScheduler
from tinynet.data import batch_count, one_hot
from tinynet.datasets.catalog import dataset_info
from tinynet.distributed import fit as distributed_fit
from tinynet.distributed import launched
from tinynet.inference import evaluate
from tinynet.io.savable import check_savable
from tinynet.layers.base import Layer
from tinynet.optim.optimizer import OPTIMIZERS
from tinynet.optim.registry import SCHEDULES, keyword_arguments
from tinynet.optim.schedules import LRScheduler
from tinynet.train import Callback, History, fit
from tinynet.typing import Array, FloatArray


def check_arguments(recipe: Recipe) -> None:
    """Each of ``loss_args``, ``optimizer_args`` and ``schedule_args`` names only
    arguments its class takes and every one it needs: a ``ValueError`` naming the field
    when the recipe is made, not a ``KeyError``/``TypeError`` in the first epoch."""
    loss, optimizer = losses.LOSSES.get(recipe.loss), OPTIMIZERS.get(recipe.optimizer)
    schedule = SCHEDULES[recipe.schedule]
    fields: list[tuple[str, str, Mapping[str, Any], tuple[set[str], set[str]]]] = [
        ("loss_args", f"loss {recipe.loss!r}", recipe.loss_args, keyword_arguments(loss, set())),
        (
            "optimizer_args",
            f"optimizer {recipe.optimizer!r}",
            recipe.optimizer_args,
            keyword_arguments(optimizer, {"params"}),
        ),
        (
            "schedule_args",
            f"schedule {recipe.schedule!r}",
            recipe.schedule_args,
            schedule.arguments(),
        ),
    ]
    for name, owner, args, (takes, needs) in fields:
        unknown, missing = sorted(set(args) - takes), sorted(needs - set(args))
        if unknown or missing:
            problem = f"unknown {unknown}" if unknown else f"missing {missing}"
            raise ValueError(
                f"Recipe: {name} of {owner}: {problem}; it takes {sorted(takes) or 'none'}, "
                f"got {dict(args)}"
            )
    try:
        if schedule.check is not None:
            schedule.check(recipe.schedule_args)
    except ValueError as error:
        raise ValueError(
            f"Recipe: schedule_args of schedule {recipe.schedule!r}: {error}"
        ) from None


@dataclass(frozen=True)
class Recipe:
    """Everything ``tinynet train`` needs besides the network.

    - ``dataset``: a name in `tinynet.datasets.DATASETS` (``"mnist"``, ``"fashion-mnist"``).
    - ``loss`` (a name in `tinynet.losses.LOSSES`) with ``loss_args``, e.g.
      ``{"label_smoothing": 0.1}``;
      ``targets="one_hot"`` feeds one-hot rows instead of labels (a quadratic cost).
    - ``optimizer`` (a name in `tinynet.optim.OPTIMIZERS`: ``"adam"``...) with
      ``optimizer_args`` (``lr``...).
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
            "loss": (self.loss, tuple(losses.LOSSES.names())),
            "optimizer": (self.optimizer, tuple(OPTIMIZERS.names())),
            "schedule": (self.schedule, tuple(SCHEDULES)),
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

    @property
    def class_labels(self) -> bool:
        """Whether the loss takes class labels 0..C-1 (a cross-entropy, or one-hot rows
        made from labels); a regression's targets may be any numbers."""
        return self.loss == "cross_entropy" or self.targets == "one_hot"

    def to_dict(self) -> dict[str, Any]:
        """The recipe as JSON-ready values."""
        return {k: dict(v) if isinstance(v, Mapping) else v for k, v in asdict(self).items()}

    def make_loss(self) -> losses.Loss:
        """The loss, e.g. ``CrossEntropyLoss(label_smoothing=0.1)``."""
        return losses.LOSSES.get(self.loss)(**self.loss_args)

    def make_optimizer(self, model: Layer) -> optim.Optimizer:
        """The optimizer over ``model.parameters()``."""
        return OPTIMIZERS.get(self.optimizer)(model.parameters(), **self.optimizer_args)

    def make_scheduler(
        self, optimizer: optim.Optimizer, batches: int
    ) -> LRScheduler | optim.ReduceLROnPlateau | None:
        """The schedule (``None`` if constant; `tinynet.optim.SCHEDULES` makes it);
        ``batches`` is the number per epoch."""
        per_epoch = batches if self.schedule_per == "batch" else 1
        steps = self.epochs * per_epoch
        build = SCHEDULES[self.schedule].build
        return build(optimizer, steps, per_epoch, **self.schedule_args)

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
        distributed: bool | None = None,
    ) -> History:
        """Train ``model`` on (x, y) (labels or targets) with this recipe; ``epochs``
        overrides its own, ``num_classes`` the dataset's (for one-hot targets).
        ``distributed`` (`tinynet.distributed`): by default, whenever ``mpiexec`` started
        this process among others (``mpiexec -n 2 tinynet train ...``).

        Builds the loss, optimizer, schedule and augmentation and hands them, with the
        data, to `tinynet.train.fit`, which checks the data and batches it (once). First,
        the model is checked to save and load back (`tinynet.io.savable.check_savable`),
        so a layer a checkpoint or ``save`` would refuse is refused before the first epoch
        (`tinynet.train.fit` itself trains any model, savable or not).

        To resume an interrupted run, pass ``tinynet.checkpoint.BackupAndRestore(path)``
        among ``callbacks`` (with the same recipe, seed and callbacks as the run that
        wrote it)."""
        recipe = self if epochs is None else replace(self, epochs=epochs)
        check_savable(model, "Recipe.fit")  # before the run, not at its first checkpoint
        optimizer = recipe.make_optimizer(model)
        n = x.shape[0] if isinstance(x, np.ndarray) and x.ndim else 0  # fit checks x
        batch_size = recipe.batch_size or max(n, 1)  # None: one full batch
        schedule = recipe.make_callbacks(
            optimizer, batch_count(n, batch_size), validation=validation_data is not None
        )
        if validation_data is not None:
            x_val, y_val = validation_data
            validation_data = (x_val, recipe.prepare_targets(y_val, model.dtype, num_classes))
        train = distributed_fit if (launched() if distributed is None else distributed) else fit
        return train(
            model,
            x,
            recipe.prepare_targets(y, model.dtype, num_classes),
            loss=recipe.make_loss(),
            optimizer=optimizer,
            epochs=recipe.epochs,
            batch_size=batch_size,
            shuffle=recipe.batch_size is not None,  # one full batch: order cannot matter
            seed=seed,
            transform=recipe.make_transform(seed),
            class_weight=recipe.class_weight,
            validation_data=validation_data,
            callbacks=[*schedule, *callbacks],
            verbose=verbose,
            metrics=recipe.metrics or None,
            clip_grad_norm=recipe.clip_grad_norm,
        )
