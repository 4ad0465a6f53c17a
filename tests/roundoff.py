"""How far two float32 computations of one model may differ, from the error analysis.

Any summation order of K products (a BLAS kernel's blocking, FMA or not, pairwise or
not) computes a dot product within ``gamma_K * sum|w_i x_i|`` of the exact one, with
``gamma_K = K u / (1 - K u)`` and ``u = 2**-24`` (Higham, *Accuracy and Stability of
Numerical Algorithms*, 3.1). That worst case needs every rounding error to have the
same sign; the probabilistic analysis of Higham and Mary (SIAM J. Sci. Comput. 41,
2019, theorem 2.4) replaces ``K u`` by ``LAMBDA sqrt(K) u`` for rounding errors that are
independent and of mean zero, failing with probability under ``2 K exp(-LAMBDA**2/2)``
(1e-11 for K = 785 with LAMBDA = 8), whatever the summation order, so whatever the
kernel. An input error ``e_j`` carried through weights ``w_j`` is, the same way, within
``LAMBDA sqrt(sum w_j**2 e_j**2)`` (Hoeffding), and always within ``sum |w_j| e_j``.

`bound` carries, layer by layer and in float64, two arrays of the activation's shape:
``h``, the exact value (the model run in float64 from the same float32 weights and
input, exact to float32's eyes), and ``e``, a bound on how far a float32 implementation
may be from it. Each layer adds its own rounding, relative to the magnitudes it
actually sums, ``|x| <= |h| + e``: for Dense and Conv2d ``e' = min(|W| e, LAMBDA
sqrt(W**2 e**2)) + g_K (|W| (|h| + e) + |b|)`` with ``g_K = min(gamma_K, LAMBDA sqrt(K)
u)``; ``L e + c u |x|`` for an elementwise function of Lipschitz constant ``L`` (``c``
ulps for its own rounding, 8 for a libm-style function). Two implementations each
within ``e`` of the exact result are within ``2 e`` of each other: that is the
tolerance `assert_float32_close` uses.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from tinynet import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dense,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    MaxPool2d,
    Parallel,
    ReLU,
    Reshape,
    Residual,
    Sequential,
    Sigmoid,
    SiLU,
    Softmax,
    Tanh,
    Unflatten,
)

U = 2.0**-24
"""The unit roundoff of float32 (half its machine epsilon)."""
LIBM_ULPS = 8
LIPSCHITZ = {GELU: 1.13, SiLU: 1.1}
"""Largest slope of each activation: GELU's is 1.129 at x = 1.41, SiLU's 1.0998 at 2.4."""
Bound = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]
RULES: dict[type[Layer], Callable[[Layer, Any, Any], Bound]] = {}
"""Rules for custom layers (a test's own): ``RULES[Scale] = lambda layer, h, e: ...``."""


LAMBDA = 8.0


def gamma(k: int) -> float:
    """The relative error bound of a sum of ``k`` float32 terms, in any order."""
    return min(k * U / (1 - k * U), LAMBDA * np.sqrt(k) * U)


def bound(layer: Layer, h: Any, e: Any) -> Bound:
    """(exact value, error bound) of ``layer``'s output in inference mode, from those of
    its input (float64 arrays of the input's shape)."""
    if type(layer) in RULES:
        return RULES[type(layer)](layer, h, e)
    if isinstance(layer, Sequential):
        for child in layer:
            h, e = bound(child, h, e)
        return h, e
    if isinstance(layer, (Dense, Conv2d)):
        return _linear(layer, h, e)
    if isinstance(layer, (BatchNorm1d, BatchNorm2d)):
        return _batchnorm(layer, h, e)
    if isinstance(layer, Residual):
        hb, eb = bound(layer.block, h, e)
        return h + hb, e + eb + U * (np.abs(h) + np.abs(hb) + e + eb)
    if isinstance(layer, Parallel):
        parts = [bound(branch, h, e) for branch in layer.branches]
        if layer.mode == "sum":
            size = sum(np.abs(p[0]) + p[1] for p in parts)
            return sum(p[0] for p in parts), sum(p[1] for p in parts) + len(parts) * U * size
        return tuple(np.concatenate(side, axis=-1) for side in zip(*parts, strict=True))  # type: ignore[return-value]
    return _elementwise(layer, h, e)


def _as_float64(layer: Layer) -> Layer:
    twin = copy.deepcopy(layer).astype(np.float64)
    twin.eval()
    return twin


def _linear(layer: Dense | Conv2d, h: Any, e: Any) -> Bound:
    """W h + b, and the input error carried through W plus the layer's own rounding
    g_K (|W| |x| + |b|), K products and the bias per output."""
    exact, absolute, squared = _as_float64(layer), _as_float64(layer), _as_float64(layer)
    absolute.weight.data = np.abs(absolute.weight.data)
    squared.weight.data = np.square(squared.weight.data)
    bias: Any = 0.0
    if absolute.bias is not None and squared.bias is not None:
        bias = np.abs(absolute.bias.data)
        absolute.bias.data = squared.bias.data = np.zeros_like(bias)
        bias = bias.reshape(-1, 1, 1) if isinstance(layer, Conv2d) else bias
    outputs = layer.out_features if isinstance(layer, Dense) else layer.out_channels
    products = absolute(np.abs(h) + e) + bias
    carried = np.minimum(absolute(e), LAMBDA * np.sqrt(squared(np.square(e))))
    own = gamma(layer.weight.data.size // outputs + 1) * products
    return exact(h), carried + own


def _batchnorm(layer: BatchNorm1d | BatchNorm2d, h: Any, e: Any) -> Bound:
    """(x - mean) * gamma / sqrt(var + eps) + beta, in whatever order: 6 roundings."""
    shape = [1] * h.ndim
    shape[1] = -1
    scale = 1.0 / np.sqrt(layer.running_var.astype(np.float64) + layer.eps)
    beta: Any = 0.0
    if layer.weight is not None and layer.bias is not None:
        scale = scale * np.abs(layer.weight.data)
        beta = np.abs(layer.bias.data).reshape(shape)
    scale = scale.reshape(shape)
    size = (np.abs(h) + e + np.abs(layer.running_mean).reshape(shape)) * scale + beta
    return _as_float64(layer)(h), e * scale + 6 * U * size


def _elementwise(layer: Layer, h: Any, e: Any) -> Bound:
    """Shape-only layers, pools, activations, Softmax."""
    twin = _as_float64(layer)
    if isinstance(layer, (Flatten, Unflatten, Reshape, Dropout, MaxPool2d)):
        return twin(h), twin(e)  # |max(x + d) - max x| <= max |d|
    if isinstance(layer, (AvgPool2d, AdaptiveAvgPool2d)):
        rows, cols = h.shape[-2:]  # A_h @ x @ A_w.T: H + W products; a window: kh*kw terms
        k = rows + cols if isinstance(layer, AdaptiveAvgPool2d) else int(np.prod(layer.kernel_size))
        return twin(h), twin(e) + gamma(k + 2) * twin(np.abs(h) + e)
    size = np.abs(h) + e
    if isinstance(layer, Softmax):  # |d s_i| <= 2 s_i max_j |d x_j| <= 2 max_j |d x_j|
        spread = 2 * np.max(e, axis=layer.axis, keepdims=True)
        return twin(h), np.broadcast_to(spread, h.shape) + LIBM_ULPS * U
    if isinstance(layer, ReLU):
        return twin(h.copy()), e  # exact, and 1-Lipschitz
    if isinstance(layer, LeakyReLU):
        slope = max(1.0, abs(layer.negative_slope))
        return twin(h), slope * e + U * slope * size
    if isinstance(layer, Sigmoid):  # 0 < s < 1: its rounding is absolute
        return twin(h), 0.25 * e + LIBM_ULPS * U
    if isinstance(layer, Tanh):  # |tanh x| <= min(|x|, 1)
        return twin(h), e + LIBM_ULPS * U * np.minimum(size, 1.0)
    for kind, lipschitz in LIPSCHITZ.items():  # |f(x)| <= |x|: rounding relative to |x|
        if isinstance(layer, kind):
            return twin(h), lipschitz * e + LIBM_ULPS * U * size
    raise TypeError(f"roundoff.bound: no error rule for {type(layer).__name__}; add one")


def float32_tolerance(model: Layer, x: Any) -> np.ndarray[Any, Any]:
    """Elementwise: how far two float32 implementations of ``model`` (inference mode) may
    differ on the float32 input ``x``: twice the forward-error bound of each."""
    h = np.asarray(x, np.float64)
    _, e = bound(model, h, np.zeros_like(h))
    return np.nan_to_num(2 * e, nan=0.0, posinf=0.0, neginf=0.0)  # no value: no leeway


def assert_float32_close(actual: Any, desired: Any, model: Layer, x: Any) -> np.ndarray[Any, Any]:
    """``actual`` and ``desired``, two float32 computations of ``model(x)``, agree within
    the error analysis's bound; returns that bound (elementwise)."""
    tolerance = float32_tolerance(model, x)
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    with np.errstate(invalid="ignore"):  # equal infinities (MaxPool2d's padding-only windows)
        gap = np.where(actual == desired, 0.0, np.abs(actual - desired))
    worst = np.unravel_index(np.argmax(gap - tolerance), gap.shape)
    assert np.all(gap <= tolerance), (
        f"float32 outputs differ by {gap[worst]:.3g} at {worst}, more than the bound "
        f"{tolerance[worst]:.3g} from the error analysis"
    )
    return tolerance


def assert_same_labels_but_near_ties(
    actual: Any, desired: Any, tolerance: Any, max_ties: float = 0.1
) -> None:
    """Row argmaxes agree wherever the top two of ``desired`` are further apart than the
    tolerance allows them to move (ties within it may go either way); such near ties
    must be under ``max_ties`` of the rows, so the check is not emptied."""
    desired = np.asarray(desired, np.float64)
    top2 = np.sort(desired, axis=1)[:, -2:]
    slack = np.max(tolerance, axis=1)
    decided = top2[:, 1] - top2[:, 0] > 2 * slack
    assert decided.mean() >= 1 - max_ties, f"{(~decided).sum()} near ties of {len(decided)} rows"
    np.testing.assert_array_equal(actual.argmax(axis=1)[decided], desired.argmax(axis=1)[decided])
