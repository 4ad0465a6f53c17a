"""`gradcheck`: compare a layer's backward with central finite differences, in float64."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinynet.layers.base import Layer
from tinynet.typing import FloatArray


class GradcheckError(AssertionError):
    """Raised by `gradcheck` when an analytic gradient disagrees with the numeric one."""


@dataclass(frozen=True)
class GradientComparison:
    """How one gradient (of the input or of a parameter) compared."""

    name: str
    relative_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numeric: float

    @property
    def absolute_error(self) -> float:
        """The largest ``|analytic - numeric|`` over the entries checked."""
        return abs(self.analytic - self.numeric)

    def passes(self, tolerance: float, atol: float) -> bool:
        """Within ``tolerance`` relatively, or within ``atol`` absolutely everywhere."""
        return self.relative_error <= tolerance or self.absolute_error <= atol

    def __str__(self) -> str:
        return (
            f"{self.name}: relative error {self.relative_error:.2e}; worst at "
            f"{self.worst_index}: analytic {self.analytic:.8g}, numeric {self.numeric:.8g}"
        )


def relative_error(analytic: FloatArray, numeric: FloatArray) -> float:
    """``||a - n|| / max(||a||, ||n||)`` (0 when both are 0): scale-free and robust
    to individual entries that are near zero."""
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)))
    return float(np.linalg.norm(analytic - numeric)) / scale if scale else 0.0


def gradcheck(
    layer: Layer,
    x: FloatArray,
    *,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
    atol: float = 0.0,
    seed: int = 0,
    max_checks: int | None = None,
    raise_exception: bool = True,
) -> float:
    """Check ``layer.backward`` (input and every parameter) against finite differences.

    The scalar checked is ``L = sum(forward(x) * R)`` for a fixed random ``R`` of the
    output's shape, so ``dL/dy = R`` and every output element takes part. Each entry
    of ``x`` and of every parameter is moved by ``+eps`` and ``-eps`` and
    ``(L+ - L-) / (2 eps)`` is compared with the gradient ``backward(R)`` gave.

    ``layer`` must be float64 (``layer.astype(np.float64)``) and ``x`` a float64 batch
    (N, ...). The layer is run in training mode and left as it was found: its
    parameter values and buffers untouched, its gradients zeroed. ``max_checks`` limits
    how many randomly chosen entries of each array are checked (``None``: all). Returns the
    largest relative error (see `relative_error`). An array passes if its relative error
    is at most ``tolerance``, or if every entry is within ``atol`` of its finite
    difference (for gradients so small, e.g. of a saturated tanh, that the difference's
    rounding noise of about 1e-10 dominates; 0 by default). If an array fails and
    ``raise_exception`` is true, raises `GradcheckError` with a line per array.
    A layer that draws random numbers in ``forward`` (Dropout) must draw the same
    ones every call for the check to mean anything: reseed it before each forward.
    """
    _require_float64(layer, x)
    x = x.copy()  # perturbed in place below; the caller's array stays untouched
    rng = np.random.default_rng([seed, 0x6772])  # not the stream a user draws x from
    was_training = layer.training
    buffers = [(buffer, buffer.copy()) for _, buffer in layer.named_buffers()]
    layer.train()
    try:
        upstream = rng.standard_normal(layer.forward(x).shape)

        def objective() -> float:
            return float(np.sum(layer.forward(x) * upstream))

        results = [
            _compare(name, array, grad, objective, eps, rng, max_checks)
            for name, (array, grad) in _analytic_gradients(layer, x, upstream).items()
        ]
    finally:
        layer.zero_grad()
        layer.train(was_training)
        for buffer, saved in buffers:  # the forwards above moved BatchNorm's running stats
            np.copyto(buffer, saved)
    worst = max(r.relative_error for r in results)
    if raise_exception and not all(r.passes(tolerance, atol) for r in results):
        report = "\n  ".join(str(r) for r in results)
        raise GradcheckError(
            f"gradcheck failed for {layer!r} (tolerance {tolerance:.0e}):\n  {report}"
        )
    return worst


def _analytic_gradients(
    layer: Layer, x: FloatArray, upstream: FloatArray
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """``{"input": (x, dL/dx), name: (p.data, dL/dp), ...}`` from one forward and
    ``backward(upstream)``, the gradients copied."""
    layer.zero_grad()
    layer.forward(x)
    grad_x = layer.backward(upstream)
    if grad_x.shape != x.shape:
        raise GradcheckError(
            f"{layer!r}: backward returned shape {grad_x.shape}, expected the input's {x.shape}"
        )
    found = {"input": (x, grad_x.copy())}
    for name, p in layer.named_parameters():
        found[name] = (p.data, p.grad.copy())
    return found


def _require_float64(layer: Layer, x: FloatArray) -> None:
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
        raise TypeError(f"gradcheck: expected a float64 input, got {got}; use x.astype(np.float64)")
    for name, p in layer.named_parameters():
        if p.dtype != np.float64:
            raise TypeError(
                f"gradcheck: parameter {name} of {layer!r} is {p.dtype}, expected float64; "
                f"use layer.astype(np.float64)"
            )


def _compare(
    name: str,
    array: FloatArray,
    analytic: FloatArray,
    objective: Callable[[], float],
    eps: float,
    rng: np.random.Generator,
    max_checks: int | None,
) -> GradientComparison:
    """Perturb entries of ``array`` in place (restoring each) and compare slopes."""
    flat = array.reshape(-1)
    if not np.shares_memory(flat, array):
        raise TypeError(f"gradcheck: {name} is not contiguous, cannot perturb it in place")
    indices = np.arange(flat.size)
    if max_checks is not None and flat.size > max_checks:
        indices = rng.choice(flat.size, size=max_checks, replace=False)
    numeric = np.zeros(indices.size)
    for k, i in enumerate(indices):
        original = flat[i]
        flat[i] = original + eps
        plus = objective()
        flat[i] = original - eps
        minus = objective()
        flat[i] = original
        numeric[k] = (plus - minus) / (2 * eps)
    chosen = analytic.reshape(-1)[indices]
    error = relative_error(chosen, numeric)
    worst = int(np.argmax(np.abs(chosen - numeric))) if indices.size else 0
    where = np.unravel_index(int(indices[worst]), array.shape) if indices.size else ()
    return GradientComparison(
        name,
        error,
        tuple(int(i) for i in where),
        float(chosen[worst]) if indices.size else 0.0,
        float(numeric[worst]) if indices.size else 0.0,
    )
