"""Regression metrics, as scikit-learn computes them: MAE, MSE, RMSE and R2.

``y_true`` and ``y_pred`` are values of shape (N,) or (N, K) (K targets); a 1-D array
and an (N, 1) column are the same thing, as in scikit-learn, so ``predict``'s (N,)
meets a target column (N, 1) without broadcasting into (N, N). With K targets each
score is the mean over the targets of its per-target value (``multioutput=
"uniform_average"``), or those values (``"raw_values"``).

Every score is computed from `RegressionSums`, sums that add up batch by batch (the
variance by Chan's pairwise update), so a streaming metric over an epoch and the
function over all the data agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinynet.typing import Array, FloatArray

MULTIOUTPUT = ("uniform_average", "raw_values")


@dataclass
class RegressionSums:
    """Per-target sums over the samples seen, float64 (K,): their number ``n``, the
    targets' ``mean`` and sum of squared deviations ``m2``, and the sums of absolute and
    of squared errors."""

    n: int
    mean: FloatArray
    m2: FloatArray
    abs_error: FloatArray
    sq_error: FloatArray

    @classmethod
    def of(cls, where: str, y_true: Array, y_pred: Array) -> RegressionSums:
        """The sums of one batch: values (N,) or (N, K), validated."""
        true, pred = value_pair(where, y_true, y_pred)
        error = true - pred
        mean = true.mean(axis=0) if true.shape[0] else np.zeros(true.shape[1])
        return cls(
            int(true.shape[0]),
            mean,
            ((true - mean) ** 2).sum(axis=0),
            np.abs(error).sum(axis=0),
            (error**2).sum(axis=0),
        )

    def add(self, other: RegressionSums) -> None:
        """Merge ``other``'s sums into these (Chan et al.'s update of the variance)."""
        if other.mean.shape != self.mean.shape:
            raise ValueError(
                f"regression metrics: expected {self.mean.size} targets per sample, "
                f"got {other.mean.size}"
            )
        n = self.n + other.n
        if n == 0:
            return
        delta = other.mean - self.mean
        self.m2 = self.m2 + other.m2 + delta**2 * (self.n * other.n / n)
        self.mean = self.mean + delta * (other.n / n)
        self.abs_error = self.abs_error + other.abs_error
        self.sq_error = self.sq_error + other.sq_error
        self.n = n

    def _average(self, where: str, values: FloatArray, multioutput: str) -> float | FloatArray:
        if multioutput not in MULTIOUTPUT:
            raise ValueError(f"{where}: multioutput must be one of {MULTIOUTPUT}")
        if self.n == 0:
            raise ValueError(f"{where}: expected at least one sample, got 0")
        return values if multioutput == "raw_values" else float(values.mean())

    def mae(self, multioutput: str = "uniform_average") -> float | FloatArray:
        """Mean absolute error."""
        return self._average("mean_absolute_error", self.abs_error / max(self.n, 1), multioutput)

    def mse(self, multioutput: str = "uniform_average") -> float | FloatArray:
        """Mean squared error."""
        return self._average("mean_squared_error", self.sq_error / max(self.n, 1), multioutput)

    def rmse(self, multioutput: str = "uniform_average") -> float | FloatArray:
        """Root mean squared error (the square root per target, then the mean)."""
        per_target = np.sqrt(self.sq_error / max(self.n, 1))
        return self._average("root_mean_squared_error", per_target, multioutput)

    def r2(self, multioutput: str = "uniform_average") -> float | FloatArray:
        """The coefficient of determination ``1 - SS_res / SS_tot`` per target; a constant
        target (SS_tot = 0) scores 1.0 if predicted exactly, else 0.0 (scikit-learn's
        ``force_finite``)."""
        constant = self.m2 == 0
        scores = 1.0 - self.sq_error / np.where(constant, 1.0, self.m2)
        scores = np.where(constant, np.where(self.sq_error == 0, 1.0, 0.0), scores)
        return self._average("r2_score", scores, multioutput)


def value_pair(where: str, y_true: object, y_pred: object) -> tuple[FloatArray, FloatArray]:
    """Both as float64 (N, K): (N,) becomes (N, 1); shapes must then agree."""
    arrays = []
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if not isinstance(y, np.ndarray) or y.ndim not in (1, 2):
            got = f"shape {y.shape}" if isinstance(y, np.ndarray) else f"a {type(y).__name__}"
            raise ValueError(f"{where}: expected {name} of shape (N,) or (N, K), got {got}")
        if not np.issubdtype(y.dtype, np.number) or np.issubdtype(y.dtype, np.complexfloating):
            raise TypeError(f"{where}: expected real {name} values, got dtype {y.dtype}")
        arrays.append(y.reshape(y.shape[0], -1).astype(np.float64, copy=False))
    true, pred = arrays
    if true.shape != pred.shape:
        raise ValueError(
            f"{where}: expected y_true and y_pred of the same shape, got "
            f"{arrays[0].shape} and {arrays[1].shape} (as (N, K))"
        )
    return true, pred


def mean_absolute_error(
    y_true: Array, y_pred: Array, *, multioutput: str = "uniform_average"
) -> float | FloatArray:
    """``mean(|y_true - y_pred|)``, as ``sklearn.metrics.mean_absolute_error``."""
    return RegressionSums.of("mean_absolute_error", y_true, y_pred).mae(multioutput)


def mean_squared_error(
    y_true: Array, y_pred: Array, *, multioutput: str = "uniform_average"
) -> float | FloatArray:
    """``mean((y_true - y_pred) ** 2)``, as ``sklearn.metrics.mean_squared_error``."""
    return RegressionSums.of("mean_squared_error", y_true, y_pred).mse(multioutput)


def root_mean_squared_error(
    y_true: Array, y_pred: Array, *, multioutput: str = "uniform_average"
) -> float | FloatArray:
    """``sqrt(mean((y_true - y_pred) ** 2))`` per target, as
    ``sklearn.metrics.root_mean_squared_error``."""
    return RegressionSums.of("root_mean_squared_error", y_true, y_pred).rmse(multioutput)


def r2_score(
    y_true: Array, y_pred: Array, *, multioutput: str = "uniform_average"
) -> float | FloatArray:
    """``1 - sum((y - y_pred)^2) / sum((y - mean(y))^2)``, as ``sklearn.metrics.r2_score``."""
    return RegressionSums.of("r2_score", y_true, y_pred).r2(multioutput)
