"""How far two float32 computations of one model may differ, from the error analysis.

A float32 sum of K products, in any order (a BLAS kernel's blocking, FMA or not,
pairwise or not), makes K roundings ``delta_k``, ``|delta_k| <= u = 2**-24``, each
scaled by a partial sum no larger than ``size = sum|w_i x_i|``: its error is within
``gamma_K size``, ``gamma_K = K u / (1 - K u)`` (Higham, *Accuracy and Stability of
Numerical Algorithms*, 3.1). An elementwise function adds ``c`` ulps of its own
(8 for a libm-style one). Two bounds follow, both whatever the kernel:

- **worst case** (`bound`, ``worst``): carried through the layers, in float64, next to
  the exact value ``h`` (the model run in float64 from the same float32 weights and
  input): ``|W| worst + gamma_K (|W| (|h| + worst) + |b|)`` through Dense and Conv2d,
  ``L worst + c u |x|`` through a function of Lipschitz constant ``L``. Rigorous, but
  it assumes every rounding of every layer takes the sign that hurts, so on a deep
  network it is 10**4 times what kernels differ by.
- **probabilistic** (`spread`): the model of Higham and Mary (SIAM J. Sci. Comput. 41,
  2019): roundings independent, of mean zero. The output's error is then, to first
  order, a sum of many small independent terms, nearly normal, and its standard
  deviation is measured by running the float64 model ``RUNS`` times with each layer's
  rounding drawn at its bound's scale (``N(0, 1) sqrt(K) u size``, above the
  ``u size / sqrt(3)`` of a uniform rounding). ``LAMBDA`` standard deviations (the
  largest of an output row, twice for the few runs) are the bound: a normal variable
  passes 6 of them with probability 2e-9. On MNIST networks this is 100-200 times what
  onnxruntime and tinynet were seen to differ by (about 1e-4 of the logits), and 1-9 %
  of the test images of briefly trained models are near ties within it.

The error bound is the smaller of the two; two implementations each within it of the
exact result are within twice it of each other: the tolerance of `assert_float32_close`.
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
from tinynet.layers.conv import Conv1d
from tinynet.layers.normalization import Normalization

U = 2.0**-24
"""The unit roundoff of float32 (half its machine epsilon)."""
LAMBDA = 6.0
RUNS = 4
LIBM_ULPS = 8
LIPSCHITZ = {GELU: 1.13, SiLU: 1.1}
"""Largest slope of each activation: GELU's is 1.129 at x = 1.41, SiLU's 1.0998 at 2.4."""
Arrays = np.ndarray[Any, Any]
Bound = tuple[Arrays, Arrays]
"""(value, worst-case error), of the activation's shape."""
RULES: dict[type[Layer], Callable[[Layer, Any, Any], Bound]] = {}
"""Rules for custom layers (a test's own): ``RULES[Scale] = lambda layer, h, e: ...``."""
_noise: list[np.random.Generator] = []
"""While `spread` runs: the generator that draws each layer's rounding into ``h``."""


def rounded(h: Any, worst: Any, size: Any, terms: int) -> Bound:
    """``h`` and its error after a sum of ``terms`` float32 terms of magnitude ``size``."""
    gamma = terms * U / (1 - terms * U)
    if _noise:
        h = h + _noise[0].standard_normal(np.shape(h)) * (np.sqrt(terms) * U * size)
    return h, worst + gamma * size


def bound(layer: Layer, h: Any, e: Any) -> Bound:
    """(exact value, worst-case error) of ``layer``'s output in inference mode, from
    those of its input (float64 arrays of the input's shape)."""
    if type(layer) in RULES:
        return RULES[type(layer)](layer, h, e)
    if isinstance(layer, Sequential):
        for child in layer:
            h, e = bound(child, h, e)
        return h, e
    if isinstance(layer, (Dense, Conv2d, Conv1d)):
        return _linear(layer, h, e)
    if isinstance(layer, Normalization):  # (x - mean) * scale: two roundings
        twin = _as_float64(layer)
        size = (np.abs(h) + e + np.abs(twin.mean)) * twin.scale()
        return rounded(twin(h), e * twin.scale(), size, 2)
    if isinstance(layer, (BatchNorm1d, BatchNorm2d)):
        return _batchnorm(layer, h, e)
    if isinstance(layer, Residual):
        hb, eb = bound(layer.block, h, e)
        return rounded(h + hb, e + eb, np.abs(h) + np.abs(hb) + e + eb, 1)
    if isinstance(layer, Parallel):
        parts = [bound(branch, h, e) for branch in layer.branches]
        if layer.mode == "sum":
            size = sum(np.abs(p[0]) + p[1] for p in parts)
            return rounded(sum(p[0] for p in parts), sum(p[1] for p in parts), size, len(parts))
        joined = [np.concatenate(side, axis=-1) for side in zip(*parts, strict=True)]
        return joined[0], joined[1]
    return _elementwise(layer, h, e)


def _as_float64(layer: Layer) -> Layer:
    twin = copy.deepcopy(layer).astype(np.float64)
    twin.eval()
    return twin


def _linear(layer: Dense | Conv2d | Conv1d, h: Any, e: Any) -> Bound:
    """W h + b; the input's error carried through |W|, and K products and the bias of
    size |W| |x| + |b| per output."""
    exact, absolute = _as_float64(layer), _as_float64(layer)
    absolute.weight.data = np.abs(absolute.weight.data)
    bias: Any = 0.0
    if absolute.bias is not None:
        bias = np.abs(absolute.bias.data)
        absolute.bias.data = np.zeros_like(bias)
        bias = bias if isinstance(layer, Dense) else bias.reshape(-1, *(1,) * (h.ndim - 2))
    terms = layer.weight.data.size // (
        layer.out_features if isinstance(layer, Dense) else layer.out_channels
    )
    if _noise:  # `spread` wants the value only: sizes from |h| alone, no worst case
        return rounded(exact(h), 0.0, absolute(np.abs(h)) + bias, terms + 1)
    size = absolute(np.abs(h) + e) + bias
    return rounded(exact(h), absolute(e), size, terms + 1)


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
    return rounded(_as_float64(layer)(h), e * scale, size, 6)


def _elementwise(layer: Layer, h: Any, e: Any) -> Bound:
    """Shape-only layers, pools, activations, Softmax."""
    twin = _as_float64(layer)
    if isinstance(layer, (Flatten, Unflatten, Reshape, Dropout, MaxPool2d)):
        return twin(h), twin(e)  # |max(x + d) - max x| <= max |d|
    if isinstance(layer, (AvgPool2d, AdaptiveAvgPool2d)):
        rows, cols = h.shape[-2:]  # A_h @ x @ A_w.T: H + W products; a window: kh*kw terms
        k = rows + cols if isinstance(layer, AdaptiveAvgPool2d) else int(np.prod(layer.kernel_size))
        return rounded(twin(h), twin(e), twin(np.abs(h) + e), k + 2)
    size = np.abs(h) + e
    if isinstance(layer, Softmax):  # |d s_i| <= 2 s_i max_j |d x_j| <= 2 max_j |d x_j|
        spread = np.broadcast_to(2 * np.max(e, axis=layer.axis, keepdims=True), h.shape)
        return rounded(twin(h), spread, np.ones_like(h), LIBM_ULPS)
    if isinstance(layer, ReLU):
        return twin(h.copy()), e  # exact, and 1-Lipschitz
    if isinstance(layer, LeakyReLU):
        slope = max(1.0, abs(layer.negative_slope))
        return rounded(twin(h), slope * e, slope * size, 1)
    if isinstance(layer, Sigmoid):  # 0 < s < 1: its rounding is absolute
        return rounded(twin(h), 0.25 * e, np.ones_like(h), LIBM_ULPS)
    if isinstance(layer, Tanh):  # |tanh x| <= min(|x|, 1)
        return rounded(twin(h), e, np.minimum(size, 1.0), LIBM_ULPS)
    for kind, lipschitz in LIPSCHITZ.items():  # |f(x)| <= |x|: rounding relative to |x|
        if isinstance(layer, kind):
            return rounded(twin(h), lipschitz * e, size, LIBM_ULPS)
    raise NoRuleError(f"roundoff.bound: no error rule for {type(layer).__name__}; add one")


class NoRuleError(TypeError):
    """A layer the error analysis has no rule for (the sequence layers, for now)."""


SEQUENCE_RELATIVE = 1e-4
"""Without a rule: each float32 result within this of the float64 model, relative to
1 + |y|. Sequences sum over their steps and heads; their float32 errors measured here
stay under 1e-5 (sums of a few hundred terms at gamma_K = K * 6e-8)."""


def spread(model: Layer, x: Any, exact: Any) -> Arrays:
    """The probabilistic bound: ``LAMBDA`` times twice the largest, over each output
    row, of the standard deviation (about ``exact``) of ``RUNS`` runs with roundings
    drawn at their bounds' scale."""
    h = np.asarray(x, np.float64)
    zero = np.zeros_like(h)
    _noise.append(np.random.default_rng(0))
    try:
        runs = np.stack([bound(model, h, zero)[0] - exact for _ in range(RUNS)])
    finally:
        _noise.clear()
    with np.errstate(invalid="ignore"):  # -inf - -inf: MaxPool2d's padding-only windows
        sigma = np.sqrt(np.mean(np.square(np.nan_to_num(runs, nan=0.0)), axis=0))
    rows = sigma.reshape(len(sigma), -1).max(axis=1) if sigma.ndim > 1 else sigma
    return np.broadcast_to((2 * LAMBDA * rows).reshape(-1, *[1] * (sigma.ndim - 1)), sigma.shape)


CHUNK = 500
"""Rows bounded at a time: a CNN's float64 activations of 10,000 images are gigabytes."""


def float32_tolerance(model: Layer, x: Any) -> np.ndarray[Any, Any]:
    """Elementwise: how far two float32 implementations of ``model`` (inference mode) may
    differ on the float32 input ``x``: twice the forward-error bound of each."""
    if len(x) > CHUNK:  # rows are independent in inference mode
        return np.concatenate(
            [float32_tolerance(model, x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)]
        )
    h = np.asarray(x, np.float64)
    exact, worst = bound(model, h, np.zeros_like(h))
    with np.errstate(invalid="ignore"):
        e = np.minimum(worst, spread(model, x, exact))
    return np.nan_to_num(2 * e, nan=0.0, posinf=0.0, neginf=0.0)  # no value: no leeway


def assert_float32_close(actual: Any, desired: Any, model: Layer, x: Any) -> np.ndarray[Any, Any]:
    """``actual`` and ``desired``, two float32 computations of ``model(x)``, agree within
    the error analysis's bound; returns that bound (elementwise)."""
    actual, desired = np.asarray(actual, np.float64), np.asarray(desired, np.float64)
    try:
        tolerance = float32_tolerance(model, x)
    except NoRuleError:
        twin = _as_float64(model)
        exact = twin(x.astype(np.float64) if x.dtype.kind == "f" else x)
        limit = SEQUENCE_RELATIVE * (1 + np.abs(exact))
        np.testing.assert_array_less(np.abs(actual - exact), limit)
        np.testing.assert_array_less(np.abs(desired - exact), limit)
        return 2 * limit
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
