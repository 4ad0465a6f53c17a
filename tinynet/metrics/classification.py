"""Classification metrics, as scikit-learn computes them, over integer class labels.

Classes are the integers ``0 .. num_classes - 1``. For `confusion_matrix`,
`precision_recall_fscore` and `classification_report`, ``num_classes`` defaults to the
number of score columns when predictions are scores, else to the largest label seen
plus one (scikit-learn instead uses only the labels present; the two agree whenever
every class occurs). Predictions are labels (N,) or scores/logits/probabilities
(N, C), of which the argmax is taken.

`precision_score`, `recall_score`, `f1_score` and `top_k_accuracy_score` are
scikit-learn's functions of the same names and defaults (``average="binary"``, ``k=2``):
the averages run over the labels present in ``y_true`` or ``y_pred``, as there. They
and `accuracy` also take multi-label indicator matrices (N, C) of 0/1 for both
arguments. Each averaged score is computed from per-class counts (`ClassCounts`), which
the streaming metrics of `tinynet.metrics.streaming` accumulate batch by batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tinynet.typing import Array, FloatArray, IntArray
from tinynet.validation import positive_int


def accuracy(y_true: IntArray, y_pred: Array) -> float:
    """The fraction of samples whose predicted label equals the true one.

    ``y_true``: integer labels (N,). ``y_pred``: integer labels (N,) or scores (N, C).
    For multi-label indicators (both (N, C) of 0/1) a sample counts when every one of
    its C labels is right (scikit-learn's subset accuracy).
    """
    if isinstance(y_true, np.ndarray) and y_true.ndim == 2:
        true_rows, pred_rows = _indicator_pair("accuracy", y_true, y_pred)
        return float(np.all(true_rows == pred_rows, axis=1).mean())
    true, pred = _label_pair("accuracy", y_true, y_pred)
    if true.size == 0:
        raise ValueError("accuracy: expected at least one sample, got 0")
    return float(np.count_nonzero(true == pred) / true.size)


def confusion_matrix(y_true: IntArray, y_pred: Array, num_classes: int | None = None) -> IntArray:
    """``C[i, j]`` = number of samples of true class ``i`` predicted as class ``j``.

    Rows are true classes, columns predicted ones (scikit-learn's layout). Returns an
    int64 array (num_classes, num_classes). ``y_true``: labels (N,); ``y_pred``:
    labels (N,) or scores (N, C).
    """
    true, pred, classes = _checked("confusion_matrix", y_true, y_pred, num_classes)
    counts = np.bincount(true * classes + pred, minlength=classes * classes)
    return counts.astype(np.int64, copy=False).reshape(classes, classes)


def precision_recall_fscore(
    y_true: IntArray, y_pred: Array, num_classes: int | None = None
) -> tuple[FloatArray, FloatArray, FloatArray, IntArray]:
    """Per-class ``(precision, recall, f1, support)``, each of shape (num_classes,).

    As scikit-learn's ``precision_recall_fscore_support(average=None)``: precision =
    TP / (TP + FP), recall = TP / (TP + FN), f1 = 2 TP / (2 TP + FP + FN), each 0.0
    where its denominator is 0 (a class never predicted, or absent); float64.
    ``support``: the number of true samples of each class, int64.
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    support = matrix.sum(axis=1)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * tp, predicted + support)
    return precision, recall, f1, support


AVERAGES = ("binary", "micro", "macro", "weighted", None)
"""The ``average`` values of `precision_score`, `recall_score` and `f1_score`."""


@dataclass
class ClassCounts:
    """Per-class counts from which precision, recall and F1 follow, all float64 (L,):
    ``tp`` (true positives), ``predicted`` (TP + FP) and ``actual`` (TP + FN, the
    support). ``multilabel`` tells indicator columns from class labels. Counts add up:
    `add` merges another batch's, so a metric over an epoch costs no stored predictions.
    """

    tp: FloatArray
    predicted: FloatArray
    actual: FloatArray
    multilabel: bool = False

    @classmethod
    def of(cls, where: str, y_true: Array, y_pred: Array) -> ClassCounts:
        """The counts of labels (N,) or of indicator matrices (N, C), validated."""
        if isinstance(y_true, np.ndarray) and y_true.ndim == 2:
            true_rows, pred_rows = _indicator_pair(where, y_true, y_pred)
            tp = np.count_nonzero(true_rows & pred_rows, axis=0)
            predicted = np.count_nonzero(pred_rows, axis=0)
            actual = np.count_nonzero(true_rows, axis=0)
            tp_, predicted_, actual_ = (np.asarray(c, np.float64) for c in (tp, predicted, actual))
            return cls(tp_, predicted_, actual_, multilabel=True)
        true, pred = _label_pair(where, y_true, y_pred)
        size = int(max(true.max(initial=-1), pred.max(initial=-1))) + 1
        hits = np.bincount(true[true == pred], minlength=size)
        return cls(
            hits.astype(np.float64),
            np.bincount(pred, minlength=size).astype(np.float64),
            np.bincount(true, minlength=size).astype(np.float64),
        )

    def add(self, other: ClassCounts) -> None:
        """Add ``other``'s counts to these (growing to the larger number of classes)."""
        size = max(self.tp.size, other.tp.size)
        for name in ("tp", "predicted", "actual"):
            mine, theirs = getattr(self, name), getattr(other, name)
            total = np.zeros(size)
            total[: mine.size] += mine
            total[: theirs.size] += theirs
            setattr(self, name, total)
        self.multilabel = self.multilabel or other.multilabel

    def scores(
        self, where: str, average: str | None = "binary", pos_label: int = 1
    ) -> tuple[float | FloatArray, float | FloatArray, float | FloatArray]:
        """``(precision, recall, f1)`` averaged as scikit-learn's ``average`` says.

        ``"binary"``: of class ``pos_label`` (labels must be 0 and 1); ``"micro"``: of
        the summed counts; ``"macro"``: the unweighted mean over the labels present in
        either argument (every column for multi-label); ``"weighted"``: weighted by
        support; ``None``: one value per present label. A zero denominator gives 0.0
        (scikit-learn's ``zero_division`` default, without its warning).
        """
        if average not in AVERAGES:
            raise ValueError(f"{where}: average must be one of {AVERAGES}, got {average!r}")
        present = (
            np.arange(self.tp.size)
            if self.multilabel
            else np.flatnonzero((self.predicted + self.actual) > 0)
        )
        tp, predicted, actual = self.tp[present], self.predicted[present], self.actual[present]
        if average == "binary":
            if self.multilabel or (present.size and int(present.max()) > 1):
                kind = "multi-label" if self.multilabel else "multiclass"
                raise ValueError(
                    f"{where}: the targets are {kind}, but average='binary'; choose one of "
                    f"'micro', 'macro', 'weighted' or None"
                )
            chosen = present == pos_label
            tp, predicted, actual = tp[chosen], predicted[chosen], actual[chosen]
        if average in ("binary", "micro"):
            p, r, f = _prf(tp.sum(), predicted.sum(), actual.sum())
            return float(p[0]), float(r[0]), float(f[0])
        precision, recall, f1 = (np.asarray(v, np.float64) for v in _prf(tp, predicted, actual))
        if average is None:
            return precision, recall, f1
        if average == "macro":
            weights = np.full(present.size, 1.0 / max(present.size, 1))
        else:
            total = actual.sum()
            weights = actual / total if total else np.zeros(present.size)
        return float(precision @ weights), float(recall @ weights), float(f1 @ weights)


def _prf(
    tp: object, predicted: object, actual: object
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision, recall and F1 from counts (scalars or arrays), 0.0 where undefined."""
    tp_, pred_, act_ = (np.atleast_1d(np.asarray(v, np.float64)) for v in (tp, predicted, actual))
    return _ratio(tp_, pred_), _ratio(tp_, act_), _ratio(2 * tp_, pred_ + act_)


def precision_score(
    y_true: Array, y_pred: Array, *, average: str | None = "binary", pos_label: int = 1
) -> float | FloatArray:
    """TP / (TP + FP), as ``sklearn.metrics.precision_score`` (see `ClassCounts.scores`).

    ``y_true`` and ``y_pred``: labels (N,) (``y_pred`` may be scores (N, C)), or 0/1
    indicator matrices (N, C) for multi-label data.
    """
    counts = ClassCounts.of("precision_score", y_true, y_pred)
    return counts.scores("precision_score", average, pos_label)[0]


def recall_score(
    y_true: Array, y_pred: Array, *, average: str | None = "binary", pos_label: int = 1
) -> float | FloatArray:
    """TP / (TP + FN), as ``sklearn.metrics.recall_score`` (arguments as `precision_score`)."""
    counts = ClassCounts.of("recall_score", y_true, y_pred)
    return counts.scores("recall_score", average, pos_label)[1]


def f1_score(
    y_true: Array, y_pred: Array, *, average: str | None = "binary", pos_label: int = 1
) -> float | FloatArray:
    """2 TP / (2 TP + FP + FN), as ``sklearn.metrics.f1_score`` (arguments as
    `precision_score`)."""
    counts = ClassCounts.of("f1_score", y_true, y_pred)
    return counts.scores("f1_score", average, pos_label)[2]


def top_k_hits(where: str, y_true: Array, y_score: Array, k: int) -> int:
    """How many rows of ``y_score`` (N, C) have their true label among their ``k``
    highest scores (ties broken as scikit-learn breaks them: the later column first)."""
    positive_int(where, "k", k)
    if not isinstance(y_score, np.ndarray) or y_score.ndim != 2 or y_score.shape[1] < 2:
        raise ValueError(
            f"{where}: expected y_score of shape (N, C) with C >= 2, got {_shape_of(y_score)}"
        )
    true = _labels(where, "y_true", y_true, scores_allowed=False)
    if true.shape[0] != y_score.shape[0]:
        raise ValueError(
            f"{where}: expected y_true and y_score with the same number of samples, "
            f"got {true.shape[0]} and {y_score.shape[0]}"
        )
    if true.size and int(true.max()) >= y_score.shape[1]:
        raise ValueError(
            f"{where}: expected labels in [0, {y_score.shape[1]}), got {int(true.max())}"
        )
    ranked = np.argsort(y_score, axis=1, kind="mergesort")[:, ::-1][:, :k]
    return int(np.count_nonzero((ranked == true[:, np.newaxis]).any(axis=1)))


def top_k_accuracy_score(y_true: IntArray, y_score: FloatArray, *, k: int = 2) -> float:
    """The fraction of samples whose true label is among the ``k`` highest of its scores
    (N, C): ``sklearn.metrics.top_k_accuracy_score`` for C >= 2 classes, labels 0..C-1."""
    hits = top_k_hits("top_k_accuracy_score", y_true, y_score, k)
    if y_score.shape[0] == 0:
        raise ValueError("top_k_accuracy_score: expected at least one sample, got 0")
    return hits / int(y_score.shape[0])


def classification_report(
    y_true: IntArray,
    y_pred: Array,
    num_classes: int | None = None,
    *,
    target_names: Sequence[str] | None = None,
    digits: int = 2,
) -> str:
    """A text table of per-class precision, recall, f1 and support, then accuracy and the
    macro and support-weighted averages (scikit-learn's ``classification_report``).

    ``target_names`` name the classes (default: their numbers); ``digits`` is the number
    of decimals shown.
    """
    precision, recall, f1, support = precision_recall_fscore(y_true, y_pred, num_classes)
    classes = len(support)
    names = [str(c) for c in range(classes)] if target_names is None else list(target_names)
    if len(names) != classes:
        raise ValueError(
            f"classification_report: expected {classes} target_names, got {len(names)}"
        )
    total = int(support.sum())
    weights = support / total if total else np.zeros(classes)
    width = max(len("weighted avg"), *(len(name) for name in names))
    column = max(len("precision"), digits + 2)

    def line(name: str, *values: float | None, count: str) -> str:
        cells = ["" if v is None else f"{v:.{digits}f}" for v in values] + [count]
        return f"{name:>{width}}" + "".join(f" {cell:>{column}}" for cell in cells)

    header = " " * width + "".join(
        f" {title:>{column}}" for title in ("precision", "recall", "f1-score", "support")
    )
    per_class = [
        line(names[c], precision[c], recall[c], f1[c], count=str(support[c]))
        for c in range(classes)
    ]
    macro = [float(v.mean()) for v in (precision, recall, f1)]
    weighted = [float(v @ weights) for v in (precision, recall, f1)]
    summary = [
        line("accuracy", None, None, accuracy(y_true, y_pred), count=str(total)),
        line("macro avg", *macro, count=str(total)),
        line("weighted avg", *weighted, count=str(total)),
    ]
    return "\n".join([header, "", *per_class, "", *summary]) + "\n"


def _ratio(numerator: Array, denominator: Array) -> FloatArray:
    """numerator / denominator, 0.0 where the denominator is 0."""
    out = np.zeros(numerator.shape, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _checked(
    where: str, y_true: object, y_pred: object, num_classes: int | None
) -> tuple[IntArray, IntArray, int]:
    """Labels of both arrays as intp, and the number of classes, all validated."""
    true, pred = _label_pair(where, y_true, y_pred)
    if num_classes is None:
        if isinstance(y_pred, np.ndarray) and y_pred.ndim == 2:
            num_classes = y_pred.shape[1]
        else:
            num_classes = int(max(true.max(initial=-1), pred.max(initial=-1))) + 1
            if num_classes == 0:
                raise ValueError(f"{where}: cannot infer num_classes from 0 samples; pass it")
    else:
        positive_int(where, "num_classes", num_classes)
    for name, labels in (("y_true", true), ("y_pred", pred)):
        if labels.size and int(labels.max()) >= num_classes:
            raise ValueError(
                f"{where}: expected {name} labels in [0, {num_classes}), got {int(labels.max())}"
            )
    return true, pred, num_classes


def _label_pair(where: str, y_true: object, y_pred: object) -> tuple[IntArray, IntArray]:
    """``y_true`` and ``y_pred`` as non-negative intp labels of equal length (N,)."""
    true = _labels(where, "y_true", y_true, scores_allowed=False)
    pred = _labels(where, "y_pred", y_pred, scores_allowed=True)
    if true.shape != pred.shape:
        raise ValueError(
            f"{where}: expected y_true and y_pred with the same number of samples, "
            f"got {true.shape[0]} and {pred.shape[0]}"
        )
    return true, pred


def _indicator_pair(where: str, y_true: object, y_pred: object) -> tuple[Array, Array]:
    """Multi-label indicators: both (N, C) of 0/1 values, as boolean arrays."""
    rows = []
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not isinstance(y, np.ndarray) or y.ndim != 2:
            raise ValueError(
                f"{where}: expected {name} as a multi-label indicator matrix (N, C) of 0/1, "
                f"got {_shape_of(y)}"
            )
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"{where}: expected {name} as labels (N,) or as a multi-label indicator "
                f"matrix (N, C) of 0/1, got shape {y.shape} with other values"
            )
        rows.append(y.astype(bool))
    if rows[0].shape != rows[1].shape:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same shape, "
            f"got {rows[0].shape} and {rows[1].shape}"
        )
    return rows[0], rows[1]


def _shape_of(y: object) -> str:
    return f"shape {y.shape}" if isinstance(y, np.ndarray) else f"a {type(y).__name__}"


def _labels(where: str, name: str, y: object, *, scores_allowed: bool) -> IntArray:
    """Integer labels (N,), from labels or (if allowed) the argmax of scores (N, C)."""
    if not isinstance(y, np.ndarray):
        raise TypeError(f"{where}: expected {name} as a numpy array, got a {type(y).__name__}")
    if scores_allowed and y.ndim == 2:
        if y.shape[1] == 0:
            raise ValueError(f"{where}: expected {name} scores (N, C) with C >= 1, got {y.shape}")
        argmax: IntArray = y.argmax(axis=1)
        return argmax
    if y.ndim != 1:
        shapes = "(N,) labels or (N, C) scores" if scores_allowed else "(N,) labels"
        raise ValueError(f"{where}: expected {name} as {shapes}, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{where}: expected integer {name} labels, got dtype {y.dtype}")
    if y.size and int(y.min()) < 0:
        raise ValueError(f"{where}: expected {name} labels >= 0, got {int(y.min())}")
    return y.astype(np.intp, copy=False)
