"""Classification metrics, as scikit-learn computes them, over integer class labels.

Classes are the integers ``0 .. num_classes - 1``. ``num_classes`` defaults to the
number of score columns when predictions are scores, else to the largest label seen
plus one (scikit-learn instead uses only the labels present; the two agree whenever
every class occurs). Predictions are labels (N,) or scores/logits/probabilities
(N, C), of which the argmax is taken.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tinynet.typing import Array, FloatArray, IntArray


def accuracy(y_true: IntArray, y_pred: Array) -> float:
    """The fraction of samples whose predicted label equals the true one.

    ``y_true``: integer labels (N,). ``y_pred``: integer labels (N,) or scores (N, C).
    """
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


def _ratio(numerator: FloatArray, denominator: IntArray) -> FloatArray:
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
    elif isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{where}: expected a positive int num_classes, got {num_classes!r}")
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
