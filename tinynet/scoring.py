"""`Scorer`: the metrics of one pass over data, as `tinynet.train.fit` logs them and
`tinynet.inference.evaluate` returns them.

A scorer reads the model's outputs through its `tinynet.heads.Head` (found from the
first batch: the last layer, the loss, the number of output columns), turns outputs and
targets into predictions and labels once per batch, and feeds every metric
(`tinynet.metrics.streaming`). Without ``metrics`` it logs `default_metrics` for the
head: accuracy for a classifier, MAE, RMSE and R2 for a regression.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from tinynet.heads import Head, head_for, require_head
from tinynet.layers.base import Layer
from tinynet.losses import Loss
from tinynet.metrics.streaming import Metric, MetricSpec, default_metrics, make_metric
from tinynet.typing import Array, FloatArray


class Scorer:
    """Accumulates ``metrics`` (names, callables or `Metric` objects, each copied, so
    one list serves training and validation) over batches of ``model``'s outputs.

    ``metrics=None`` means the head's defaults (none for one output unit trained with a
    loss tinynet does not know: a logit and a value look alike); an empty list, none.
    Outputs that are not (N, C) have no head: with default metrics nothing is logged,
    with metrics asked for it is a ``ValueError``.
    """

    def __init__(
        self,
        model: Layer,
        loss: Loss | str | None = None,
        metrics: Sequence[MetricSpec] | None = None,
    ) -> None:
        if metrics is not None and (isinstance(metrics, str) or not isinstance(metrics, Sequence)):
            raise TypeError(f"metrics: expected a list of names or callables, got {metrics!r}")
        self.model, self.loss, self.specs = model, loss, metrics
        self.head: Head | None = None
        self.metrics: list[Metric] = []
        self._unscored = False

    def _start(self, outputs: FloatArray) -> bool:
        """Find the head and make the metrics; ``False`` if the outputs have no head."""
        if outputs.ndim != 2:
            if self.specs:
                raise ValueError(
                    f"metrics {[getattr(m, 'name', m) for m in self.specs]}: expected model "
                    f"outputs of shape (N, C), got {outputs.shape}"
                )
            self._unscored = True
            return False
        self.head = head_for(self.model, self.loss, int(outputs.shape[1]))
        if self.head is None:
            if self.specs:
                require_head(self.model, self.loss, outputs, "metrics")
            self._unscored = True  # no head known: no guess, no metrics
            return False
        specs = default_metrics(self.head.task) if self.specs is None else self.specs
        self.metrics = [copy.deepcopy(make_metric(spec, self.head.task)) for spec in specs]
        names = [metric.name for metric in self.metrics]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates or "loss" in names:
            raise ValueError(f"metrics: each needs its own name; {duplicates or ['loss']} repeat")
        for metric in self.metrics:
            metric.reset()
        return True

    def update(self, outputs: FloatArray, targets: Array) -> None:
        """Add a batch: outputs (N, C) and the targets the loss saw (labels, one-hot rows,
        0/1 columns or values)."""
        if self._unscored or (self.head is None and not self._start(outputs)):
            return
        assert self.head is not None
        if not self.metrics:
            return
        y_pred = self.head.predict(outputs)
        y_true = self.head.labels(targets)
        for metric in self.metrics:
            metric.update(y_true, y_pred, outputs)

    def results(self, *, running: bool = False) -> dict[str, float]:
        """Each metric's value over the batches so far, by name; ``running`` (a progress
        bar's look in the middle of an epoch) leaves out those that are not cheap to
        compute at any time (a user's function, called on all the labels so far)."""
        return {m.name: m.result() for m in self.metrics if m.running or not running}

    def reset(self) -> None:
        """Forget the batches (the head and metrics stay)."""
        for metric in self.metrics:
            metric.reset()
