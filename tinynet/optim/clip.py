"""Gradient clipping, as ``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_``.

Call between ``backward`` and ``optimizer.step()``, in a loop of your own::

    model.backward(loss.backward())
    clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()

or let ``fit(..., clip_grad_norm=1.0)`` do it after every batch. Both change the
gradients in place (the trailing underscore, PyTorch's convention) and leave the
parameters alone. Frozen parameters (``requires_grad = False``) are left out, as
PyTorch leaves out those without a gradient.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinynet.parameter import Parameter


def _grads(where: str, parameters: Iterable[Parameter] | Parameter) -> list[Parameter]:
    """The parameters that require gradients: a frozen one counts for nothing, as one
    without a gradient in PyTorch."""
    params = [parameters] if isinstance(parameters, Parameter) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{where}: expected Parameters, got {type(p).__name__} at {i}")
    return [p for p in params if p.requires_grad]


def clip_grad_norm_(
    parameters: Iterable[Parameter] | Parameter,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> float:
    """Scale the gradients so that their total norm is at most ``max_norm``; return the
    total norm before clipping.

    As PyTorch: the total norm is the ``norm_type``-norm of the per-parameter norms
    (``inf`` for the largest absolute value), as if all gradients were one vector; the
    gradients are multiplied by ``min(1, max_norm / (total_norm + 1e-6))``, in their own
    dtype. With ``error_if_nonfinite`` a NaN or infinite total norm raises
    ``FloatingPointError`` (PyTorch's is a ``RuntimeError``) and changes nothing; else
    such gradients come out NaN, as there.
    """
    params = _grads("clip_grad_norm_", parameters)
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm >= 0 or not norm_type > 0:
        raise ValueError(
            f"clip_grad_norm_: expected max_norm >= 0 and norm_type > 0, "
            f"got {max_norm} and {norm_type}"
        )
    if not params:
        return 0.0
    flat = [p.grad.reshape(-1) for p in params]  # views (gradients are contiguous), or copies
    if math.isinf(norm_type):
        norms = [float(np.max(np.abs(g))) if g.size else 0.0 for g in flat]
        total = max(norms)
    elif norm_type == 2.0:
        norms = [math.sqrt(float(np.dot(g, g))) for g in flat]  # one BLAS call each
        total = math.sqrt(math.fsum(n * n for n in norms))
    else:
        norms = [float(np.sum(np.abs(g) ** norm_type)) ** (1 / norm_type) for g in flat]
        total = math.fsum(n**norm_type for n in norms) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{total}; they cannot be clipped (error_if_nonfinite=True)"
        )
    coefficient = max_norm / (total + 1e-6)
    if not coefficient >= 1.0:  # also for NaN: the gradients become NaN, as in PyTorch
        for p in params:
            grad = p.grad
            np.multiply(grad, grad.dtype.type(coefficient), out=grad)
    return total


def clip_grad_value_(parameters: Iterable[Parameter] | Parameter, clip_value: float) -> None:
    """Clamp every gradient entry into ``[-clip_value, clip_value]``, in place (PyTorch's)."""
    params = _grads("clip_grad_value_", parameters)
    value = float(clip_value)
    if not value >= 0:
        raise ValueError(f"clip_grad_value_: expected clip_value >= 0, got {clip_value!r}")
    for p in params:
        np.clip(p.grad, -value, value, out=p.grad)
