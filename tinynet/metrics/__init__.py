"""Metrics as scikit-learn computes them, and their streaming forms for ``fit``.

Classification (`tinynet.metrics.classification`): `accuracy`, `confusion_matrix`,
`precision_recall_fscore`, `classification_report`, `precision_score`, `recall_score`,
`f1_score`, `top_k_accuracy_score`. Regression (`tinynet.metrics.regression`):
`mean_absolute_error`, `mean_squared_error`, `root_mean_squared_error`, `r2_score`.
Streaming (`tinynet.metrics.streaming`): `Metric` and `make_metric`, what
``fit(metrics=[...])`` logs.
"""

from tinynet.metrics.classification import (
    ClassCounts,
    accuracy,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_recall_fscore,
    precision_score,
    recall_score,
    top_k_accuracy_score,
)
from tinynet.metrics.regression import (
    RegressionSums,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)
from tinynet.metrics.streaming import Metric, MetricSpec, default_metrics, make_metric

__all__ = [
    "ClassCounts",
    "Metric",
    "MetricSpec",
    "RegressionSums",
    "accuracy",
    "classification_report",
    "confusion_matrix",
    "default_metrics",
    "f1_score",
    "make_metric",
    "mean_absolute_error",
    "mean_squared_error",
    "precision_recall_fscore",
    "precision_score",
    "r2_score",
    "recall_score",
    "root_mean_squared_error",
    "top_k_accuracy_score",
]
