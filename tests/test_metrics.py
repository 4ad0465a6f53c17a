"""Metrics on small examples worked by hand, and against scikit-learn when it is installed."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    f1_score,
    make_metric,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore,
    precision_score,
    r2_score,
    recall_score,
    root_mean_squared_error,
    top_k_accuracy_score,
)

# Five samples, three classes:   true 0 1 2 2 2
#                           predicted 0 0 2 2 1
TRUE = np.array([0, 1, 2, 2, 2])
PRED = np.array([0, 0, 2, 2, 1])
# Scores whose argmax is PRED.
SCORES = np.array(
    [[2.0, 1.0, 0.0], [0.5, 0.1, -1.0], [0.0, 0.0, 3.0], [-1.0, -2.0, -0.5], [0.0, 9.0, 1.0]]
)


def test_accuracy_by_hand() -> None:
    assert accuracy(TRUE, PRED) == 3 / 5  # samples 0, 2, 3 are right
    assert accuracy(TRUE, SCORES) == 3 / 5
    assert accuracy(TRUE, TRUE) == 1.0
    assert accuracy(np.array([1]), np.array([0])) == 0.0
    assert isinstance(accuracy(TRUE, PRED), float)


def test_confusion_matrix_by_hand() -> None:
    expected = [
        [1, 0, 0],  # the one 0 was predicted 0
        [1, 0, 0],  # the one 1 was predicted 0
        [0, 1, 2],  # of the three 2s, one was predicted 1 and two were 2
    ]
    matrix = confusion_matrix(TRUE, PRED)
    assert matrix.dtype == np.int64
    np.testing.assert_array_equal(matrix, expected)
    np.testing.assert_array_equal(confusion_matrix(TRUE, SCORES), expected)


def test_confusion_matrix_is_not_symmetric_by_accident() -> None:
    # true 0 predicted 1, twice: row 0 (true), column 1 (predicted).
    np.testing.assert_array_equal(
        confusion_matrix(np.array([0, 0]), np.array([1, 1])), [[0, 2], [0, 0]]
    )


def test_confusion_matrix_num_classes() -> None:
    matrix = confusion_matrix(TRUE, PRED, num_classes=5)
    assert matrix.shape == (5, 5)
    np.testing.assert_array_equal(matrix[:3, :3], confusion_matrix(TRUE, PRED))
    assert matrix[3:].sum() == matrix[:, 3:].sum() == 0
    assert confusion_matrix(np.array([0]), np.zeros((1, 4))).shape == (4, 4)  # from C


def test_precision_recall_fscore_by_hand() -> None:
    precision, recall, f1, support = precision_recall_fscore(TRUE, PRED)
    # class 0: TP 1, FP 1 (the 1 predicted as 0), FN 0 -> P 1/2, R 1, F1 2/(2+1) = 2/3
    # class 1: TP 0, FP 1, FN 1                        -> P 0,   R 0, F1 0
    # class 2: TP 2, FP 0, FN 1                        -> P 1,   R 2/3, F1 4/(4+1) = 4/5
    np.testing.assert_allclose(precision, [1 / 2, 0, 1])
    np.testing.assert_allclose(recall, [1, 0, 2 / 3])
    np.testing.assert_allclose(f1, [2 / 3, 0, 4 / 5])
    np.testing.assert_array_equal(support, [1, 1, 3])
    assert precision.dtype == recall.dtype == f1.dtype == np.float64
    assert support.dtype == np.int64


def test_undefined_ratios_are_zero() -> None:
    # Class 1 is never predicted (precision 0/0); class 2 never occurs nor is predicted.
    precision, recall, f1, support = precision_recall_fscore(
        np.array([0, 1]), np.array([0, 0]), num_classes=3
    )
    np.testing.assert_allclose(precision, [1 / 2, 0, 0])
    np.testing.assert_allclose(recall, [1, 0, 0])
    np.testing.assert_allclose(f1, [2 / 3, 0, 0])
    np.testing.assert_array_equal(support, [1, 1, 0])
    assert np.isfinite(precision).all()
    assert np.isfinite(f1).all()


def test_classification_report_by_hand() -> None:
    report = classification_report(TRUE, PRED, target_names=["zero", "one", "two"])
    lines = report.splitlines()
    assert lines[0].split() == ["precision", "recall", "f1-score", "support"]
    assert lines[2].split() == ["zero", "0.50", "1.00", "0.67", "1"]
    assert lines[3].split() == ["one", "0.00", "0.00", "0.00", "1"]
    assert lines[4].split() == ["two", "1.00", "0.67", "0.80", "3"]
    assert lines[6].split() == ["accuracy", "0.60", "5"]
    # macro: (0.5 + 0 + 1) / 3 = 0.5, (1 + 0 + 2/3) / 3 = 0.56, (2/3 + 0 + 0.8) / 3 = 0.49
    assert lines[7].split() == ["macro", "avg", "0.50", "0.56", "0.49", "5"]
    # weighted by support 1, 1, 3: (0.5 + 0 + 3) / 5 = 0.70, (1 + 0 + 2) / 5 = 0.60,
    # (2/3 + 0 + 2.4) / 5 = 0.61
    assert lines[8].split() == ["weighted", "avg", "0.70", "0.60", "0.61", "5"]
    assert len({len(line) for line in lines if line}) == 1  # columns line up
    assert classification_report(TRUE, PRED, digits=4).splitlines()[2].split()[1] == "0.5000"


def test_classification_report_names_must_match() -> None:
    with pytest.raises(ValueError, match="expected 3 target_names, got 2"):
        classification_report(TRUE, PRED, target_names=["a", "b"])


# --- errors -------------------------------------------------------------------------------


def test_mismatched_lengths() -> None:
    for metric in (accuracy, confusion_matrix, precision_recall_fscore):
        with pytest.raises(ValueError, match="same number of samples, got 5 and 4"):
            metric(TRUE, PRED[:4])


def test_non_integer_labels() -> None:
    with pytest.raises(TypeError, match="expected integer y_true labels, got dtype float64"):
        accuracy(TRUE.astype(np.float64), PRED)
    with pytest.raises(TypeError, match="expected integer y_pred labels, got dtype bool"):
        confusion_matrix(TRUE, PRED.astype(bool))
    with pytest.raises(TypeError, match="expected y_true as a numpy array, got a list"):
        accuracy([0, 1], PRED[:2])  # type: ignore[arg-type]


def test_labels_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"expected y_true labels >= 0, got -1"):
        accuracy(np.array([0, -1]), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"expected y_pred labels in \[0, 2\), got 2"):
        confusion_matrix(np.array([0, 1]), np.array([0, 2]), num_classes=2)
    with pytest.raises(ValueError, match=r"expected y_true labels in \[0, 3\), got 3"):
        precision_recall_fscore(np.array([3]), np.zeros((1, 3)))


def test_bad_shapes_and_counts() -> None:
    with pytest.raises(ValueError, match=r"expected y_true as labels \(N,\) or as a multi-label"):
        accuracy(SCORES, PRED)
    with pytest.raises(ValueError, match="expected at least one sample"):
        accuracy(TRUE[:0], PRED[:0])
    with pytest.raises(ValueError, match="cannot infer num_classes from 0 samples"):
        confusion_matrix(TRUE[:0], PRED[:0])
    assert confusion_matrix(TRUE[:0], PRED[:0], num_classes=2).sum() == 0
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        confusion_matrix(TRUE, PRED, num_classes=0)


# --- against scikit-learn -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_agrees_with_scikit_learn(seed: int) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    classes = 6
    y_true = rng.integers(0, classes, 200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, classes - 1, 200))
    labels = list(range(classes))  # class 5 is never predicted: 0/0 precision
    assert accuracy(y_true, y_pred) == sk.accuracy_score(y_true, y_pred)
    np.testing.assert_array_equal(
        confusion_matrix(y_true, y_pred, classes),
        sk.confusion_matrix(y_true, y_pred, labels=labels),
    )
    ours = precision_recall_fscore(y_true, y_pred, classes)
    theirs = sk.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(mine, reference, rtol=1e-12)
    scores = rng.standard_normal((200, classes))
    assert accuracy(y_true, scores) == sk.accuracy_score(y_true, scores.argmax(axis=1))


# --- precision, recall, F1, top-k, regression: scikit-learn's functions ------------------

AVERAGES = ["micro", "macro", "weighted", None]


def _cases(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Binary, multiclass (one class never predicted, one never true) and multi-label."""
    rng = np.random.default_rng(seed)
    y_bin = rng.integers(0, 2, 300)
    p_bin = np.where(rng.random(300) < 0.7, y_bin, 1 - y_bin)
    y_multi = rng.integers(0, 5, 300)  # class 5 only ever predicted
    p_multi = np.where(rng.random(300) < 0.6, y_multi, rng.integers(1, 6, 300))
    y_ml = (rng.random((300, 4)) < 0.4).astype(np.int64)
    p_ml = np.where(rng.random((300, 4)) < 0.8, y_ml, 1 - y_ml)
    return {"binary": (y_bin, p_bin), "multiclass": (y_multi, p_multi), "multilabel": (y_ml, p_ml)}


@pytest.mark.parametrize("seed", range(3))
def test_precision_recall_f1_equal_scikit_learn(seed: int) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    for kind, (y_true, y_pred) in _cases(seed).items():
        averages = ["binary", *AVERAGES] if kind == "binary" else AVERAGES
        for average in averages:
            for ours, theirs in [
                (precision_score, sk.precision_score),
                (recall_score, sk.recall_score),
                (f1_score, sk.f1_score),
            ]:
                expected = theirs(y_true, y_pred, average=average, zero_division=0)
                got = ours(y_true, y_pred, average=average)
                np.testing.assert_allclose(got, expected, rtol=1e-12, err_msg=f"{kind} {average}")
        assert accuracy(y_true, y_pred) == sk.accuracy_score(y_true, y_pred)


def test_binary_average_refuses_multiclass_and_multilabel_targets() -> None:
    cases = _cases(0)
    with pytest.raises(ValueError, match="multiclass, but average='binary'"):
        f1_score(*cases["multiclass"])
    with pytest.raises(ValueError, match="multi-label, but average='binary'"):
        f1_score(*cases["multilabel"])
    with pytest.raises(ValueError, match="average must be one of"):
        f1_score(*cases["binary"], average="samples")


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_accuracy_equals_scikit_learn(k: int) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(k)
    scores = rng.standard_normal((400, 7))
    scores[:20, :3] = 0.5  # ties, broken as scikit-learn breaks them
    y_true = rng.integers(0, 7, 400)
    expected = sk.top_k_accuracy_score(y_true, scores, k=k, labels=range(7))
    assert top_k_accuracy_score(y_true, scores, k=k) == expected


def test_top_k_by_hand() -> None:
    # true 2: scores rank it 2nd (hit for k=2, miss for k=1); true 0: ranked last
    scores = np.array([[0.1, 0.5, 0.3], [0.1, 0.5, 0.4]])
    assert top_k_accuracy_score(np.array([2, 0]), scores, k=1) == 0.0
    assert top_k_accuracy_score(np.array([2, 0]), scores, k=2) == 0.5
    with pytest.raises(ValueError, match="expected labels in"):
        top_k_accuracy_score(np.array([3, 0]), scores)


@pytest.mark.parametrize("targets", [1, 3])
def test_regression_metrics_equal_scikit_learn(targets: int) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(targets)
    shape = (250,) if targets == 1 else (250, targets)
    y_true = rng.standard_normal(shape) * 30 + 150  # far from 0, as diabetes's targets
    y_pred = y_true + rng.standard_normal(shape) * 20
    for ours, theirs in [
        (mean_absolute_error, sk.mean_absolute_error),
        (mean_squared_error, sk.mean_squared_error),
        (root_mean_squared_error, sk.root_mean_squared_error),
        (r2_score, sk.r2_score),
    ]:
        for multioutput in ("uniform_average", "raw_values"):
            np.testing.assert_allclose(
                ours(y_true, y_pred, multioutput=multioutput),
                theirs(y_true, y_pred, multioutput=multioutput),
                rtol=1e-12,
            )
    # (N,) against a column (N, 1) is the same data, never an (N, N) broadcast
    column = y_pred.reshape(250, -1)[:, :1]
    assert r2_score(y_true.reshape(250, -1)[:, 0], column) == pytest.approx(
        sk.r2_score(y_true.reshape(250, -1)[:, 0], column[:, 0]), rel=1e-12
    )


def test_r2_of_a_constant_target_is_scikit_learns() -> None:
    y = np.full(5, 3.0)
    assert r2_score(y, y) == 1.0
    assert r2_score(y, y + 1) == 0.0
    with pytest.raises(ValueError, match="same shape"):
        r2_score(np.zeros(4), np.zeros(5))


@pytest.mark.parametrize(
    ("task", "names"),
    [
        ("binary", ["accuracy", "precision", "recall", "f1", "f1_macro"]),
        ("multiclass", ["accuracy", "f1", "f1_micro", "f1_weighted", "recall", "top_2_accuracy"]),
        ("multilabel", ["accuracy", "f1", "precision_micro"]),
        ("regression", ["mae", "mse", "rmse", "r2"]),
    ],
)
def test_streaming_metrics_over_batches_equal_the_functions(task: str, names: list[str]) -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    if task == "regression":
        y_true = rng.standard_normal((301, 2)) * 5 + 40
        y_pred = y_true + rng.standard_normal((301, 2))
        scores = y_pred
    elif task == "multiclass":
        scores = rng.standard_normal((301, 6))
        y_true = np.where(rng.random(301) < 0.5, scores.argmax(axis=1), rng.integers(0, 6, 301))
        y_pred = scores.argmax(axis=1)
    else:
        y_true, y_pred = _cases(3)[task]
        y_true, y_pred = (
            np.resize(y_true, (301, *y_true.shape[1:])),
            np.resize(y_pred, (301, *y_pred.shape[1:])),
        )
        scores = y_pred.reshape(301, -1).astype(float)
    reference = {
        "accuracy": sk.accuracy_score,
        "precision": sk.precision_score,
        "recall": sk.recall_score,
        "f1": sk.f1_score,
        "mae": sk.mean_absolute_error,
        "mse": sk.mean_squared_error,
        "rmse": sk.root_mean_squared_error,
        "r2": sk.r2_score,
    }
    for name in names:
        metric = make_metric(name, task)
        for start in range(0, 301, 64):  # uneven batches, the last one short
            part = slice(start, start + 64)
            metric.update(y_true[part], y_pred[part], scores[part])
        base, _, average = name.partition("_")
        if base.startswith("top"):
            expected = sk.top_k_accuracy_score(y_true, scores, k=2, labels=range(6))
        elif base in ("precision", "recall", "f1"):
            chosen = average or ("binary" if task == "binary" else "macro")
            expected = reference[base](y_true, y_pred, average=chosen, zero_division=0)
        else:
            expected = reference[name](y_true, y_pred)
        assert metric.result() == pytest.approx(expected, rel=1e-10), name
        metric.reset()
        assert np.isnan(metric.result())


def test_make_metric_names_what_it_knows_and_refuses_mismatched_tasks() -> None:
    with pytest.raises(ValueError, match="unknown metric 'f2'; expected one of accuracy"):
        make_metric("f2", "multiclass")
    with pytest.raises(
        ValueError, match="metric 'accuracy' is for classifiers; this model's head is"
    ):
        make_metric("accuracy", "regression")
    with pytest.raises(ValueError, match="metric 'r2' is for regression"):
        make_metric("r2", "binary")
    assert make_metric("top_k_accuracy", "multiclass").name == "top_k_accuracy"
    sk = pytest.importorskip("sklearn.metrics")
    metric = make_metric(sk.balanced_accuracy_score, "multiclass")
    assert metric.name == "balanced_accuracy_score"
    y = np.array([0, 0, 0, 1])
    metric.update(y, np.array([0, 0, 1, 1]), np.zeros((4, 2)))
    assert metric.result() == sk.balanced_accuracy_score(y, np.array([0, 0, 1, 1]))
