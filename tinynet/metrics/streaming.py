"""Metrics accumulated batch by batch, for ``fit(metrics=[...])`` and ``evaluate``.

A `Metric` (Keras's stateful metrics) sees each batch's true labels, predictions and
raw outputs and keeps only sufficient statistics (counts, sums), so a metric over an
epoch stores no predictions and equals the function of the same name over all the data.
`make_metric` turns what a user writes into one:

- ``"accuracy"``; ``"top_k_accuracy"`` (k = 5, Keras's default) or ``"top_3_accuracy"``;
- ``"precision"``, ``"recall"``, ``"f1"``: of class 1 for a binary head, the macro
  average otherwise; ``"f1_micro"``, ``"f1_weighted"``... choose the average;
- ``"mae"``, ``"mse"``, ``"rmse"``, ``"r2"`` for a regression;
- any callable ``fn(y_true, y_pred) -> float`` over labels (N,) (or 0/1 (N, C),
  or values) as `tinynet.heads.Head.predict` gives them, so scikit-learn's functions
  work as they are (``sklearn.metrics.balanced_accuracy_score``); it is logged under
  its ``__name__``. A callable keeps the epoch's labels to call it once at the end.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np

from tinynet.metrics.classification import ClassCounts, top_k_hits
from tinynet.metrics.regression import RegressionSums
from tinynet.typing import Array, FloatArray

MetricFunction: TypeAlias = Callable[[Array, Array], Any]
"""``fn(y_true, y_pred) -> float``."""

CLASSIFICATION = ("multiclass", "binary", "multilabel")
REGRESSION_METRICS = ("mae", "mse", "rmse", "r2")
CLASS_SCORES = ("precision", "recall", "f1")
AVERAGE_SUFFIXES = ("binary", "micro", "macro", "weighted")
DEFAULT_TOP_K = 5


class Metric(ABC):
    """One metric over the batches `update` was given since the last `reset`."""

    name: str
    tasks: tuple[str, ...] = CLASSIFICATION
    """The head tasks (`tinynet.heads.TASKS`) this metric means something for."""
    running: bool = True
    """Whether `result` is cheap at any time (a progress bar asks it mid-epoch)."""

    @abstractmethod
    def reset(self) -> None:
        """Forget every batch."""

    @abstractmethod
    def update(self, y_true: Array, y_pred: Array, outputs: FloatArray) -> None:
        """Add one batch: targets and predictions in `Head.predict`'s form, and the raw
        outputs (N, C) (scores, for the metrics that rank)."""

    @abstractmethod
    def result(self) -> float:
        """The metric over the batches so far (NaN before any)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class Accuracy(Metric):
    """The fraction of samples predicted right (every label right, for multi-label)."""

    def __init__(self, name: str = "accuracy") -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.hits = 0
        self.count = 0

    def update(self, y_true: Array, y_pred: Array, outputs: FloatArray) -> None:
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{self.name}: expected targets of the predictions' shape {y_pred.shape}, "
                f"got {y_true.shape}"
            )
        right = y_true == y_pred
        self.hits += int(np.count_nonzero(right if right.ndim == 1 else right.all(axis=1)))
        self.count += y_pred.shape[0]

    def result(self) -> float:
        return self.hits / self.count if self.count else float("nan")


class TopKAccuracy(Metric):
    """The fraction of samples whose true class is among their ``k`` highest outputs."""

    tasks = ("multiclass",)

    def __init__(self, k: int = DEFAULT_TOP_K, name: str | None = None) -> None:
        self.k = k
        self.name = name or f"top_{k}_accuracy"
        self.reset()

    def reset(self) -> None:
        self.hits = 0
        self.count = 0

    def update(self, y_true: Array, y_pred: Array, outputs: FloatArray) -> None:
        self.hits += top_k_hits(self.name, y_true, outputs, self.k)
        self.count += outputs.shape[0]

    def result(self) -> float:
        return self.hits / self.count if self.count else float("nan")


class SummingMetric(Metric):
    """A metric of sums that add up batch by batch (`ClassCounts`, `RegressionSums`):
    subclasses say how one batch's sums are made and what the result is."""

    sums: ClassCounts | RegressionSums | None

    def reset(self) -> None:
        self.sums = None

    @abstractmethod
    def batch_sums(self, y_true: Array, y_pred: Array) -> ClassCounts | RegressionSums:
        """The sums of one batch."""

    def update(self, y_true: Array, y_pred: Array, outputs: FloatArray) -> None:
        sums = self.batch_sums(y_true, y_pred)
        if self.sums is None:
            self.sums = sums
        else:
            self.sums.add(sums)  # type: ignore[arg-type]  # the same kind, from batch_sums


class ClassScore(SummingMetric):
    """Precision, recall or F1 (``score``) with scikit-learn's ``average``, from counts."""

    def __init__(self, score: str, average: str, name: str | None = None) -> None:
        if score not in CLASS_SCORES:
            raise ValueError(f"ClassScore: score must be one of {CLASS_SCORES}, got {score!r}")
        self.score, self.average = score, average
        self.name = name or score
        self.reset()

    def batch_sums(self, y_true: Array, y_pred: Array) -> ClassCounts:
        return ClassCounts.of(self.name, y_true, y_pred)

    def result(self) -> float:
        if not isinstance(self.sums, ClassCounts):
            return float("nan")
        values = self.sums.scores(self.name, self.average)
        return float(values[CLASS_SCORES.index(self.score)])


class RegressionScore(SummingMetric):
    """MAE, MSE, RMSE or R2 (``score``), averaged over the targets, from running sums."""

    tasks = ("regression",)

    def __init__(self, score: str, name: str | None = None) -> None:
        if score not in REGRESSION_METRICS:
            raise ValueError(
                f"RegressionScore: score must be one of {REGRESSION_METRICS}, got {score!r}"
            )
        self.score = score
        self.name = name or score
        self.reset()

    def batch_sums(self, y_true: Array, y_pred: Array) -> RegressionSums:
        return RegressionSums.of(self.name, y_true, y_pred)

    def result(self) -> float:
        if not isinstance(self.sums, RegressionSums) or self.sums.n == 0:
            return float("nan")
        value = getattr(self.sums, self.score)()
        return float(value)


class FunctionMetric(Metric):
    """A user's ``fn(y_true, y_pred) -> float``, called once on all the batches' labels."""

    tasks = (*CLASSIFICATION, "regression")
    running = False

    def __init__(self, fn: MetricFunction, name: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"FunctionMetric: expected a callable, got {fn!r}")
        self.fn = fn
        given = str(name or getattr(fn, "__name__", ""))
        self.name = given if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", given) else "metric"
        self.reset()

    def reset(self) -> None:
        self.true: list[Array] = []
        self.pred: list[Array] = []

    def update(self, y_true: Array, y_pred: Array, outputs: FloatArray) -> None:
        self.true.append(np.array(y_true))  # copies: a batch buffer is reused
        self.pred.append(np.array(y_pred))

    def result(self) -> float:
        if not self.true:
            return float("nan")
        value = self.fn(np.concatenate(self.true), np.concatenate(self.pred))
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"metric {self.name}: expected the function to return a number, got {value!r}"
            ) from None


MetricSpec: TypeAlias = "str | MetricFunction | Metric"
"""What ``fit(metrics=[...])`` takes: a name, a callable or a `Metric`."""


def make_metric(spec: str | MetricFunction | Metric, task: str) -> Metric:
    """The `Metric` a name, callable or `Metric` stands for, for a head of ``task``.

    Raises ``ValueError`` for an unknown name, listing the known ones, and for a metric
    that means nothing for the task (an accuracy of a regression), naming both.
    """
    if isinstance(spec, Metric):
        metric = spec
    elif isinstance(spec, str):
        metric = _named(spec, task)
    elif callable(spec):
        metric = FunctionMetric(spec)
    else:
        raise TypeError(f"metrics: expected names, callables or Metrics, got {spec!r}")
    if task not in metric.tasks:
        kind = "regression" if task == "regression" else f"{task} classification"
        fits = "classifiers" if metric.tasks == CLASSIFICATION else "/".join(metric.tasks)
        raise ValueError(f"metric {metric.name!r} is for {fits}; this model's head is {kind}")
    return metric


def _named(name: str, task: str) -> Metric:
    if name == "accuracy":
        return Accuracy()
    top_k = re.fullmatch(r"top_(k|[1-9][0-9]*)_accuracy", name)
    if top_k:
        k = DEFAULT_TOP_K if top_k.group(1) == "k" else int(top_k.group(1))
        return TopKAccuracy(k, name)
    score, _, average = name.partition("_")
    if score in CLASS_SCORES and (not average or average in AVERAGE_SUFFIXES):
        return ClassScore(score, average or ("binary" if task == "binary" else "macro"), name)
    if name in REGRESSION_METRICS:
        return RegressionScore(name)
    known = ["accuracy", "top_k_accuracy", "top_<k>_accuracy", *CLASS_SCORES]
    known += [f"f1_{a}" for a in AVERAGE_SUFFIXES] + list(REGRESSION_METRICS)
    raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(known)}, or a callable")


def default_metrics(task: str) -> list[str]:
    """What is logged without ``metrics=``: accuracy for a classifier, MAE, RMSE and R2
    for a regression."""
    return ["mae", "rmse", "r2"] if task == "regression" else ["accuracy"]
