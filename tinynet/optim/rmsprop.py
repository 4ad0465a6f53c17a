"""RMSProp: PyTorch's ``RMSprop``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tinynet.optim.optimizer import Optimizer, Update, with_weight_decay
from tinynet.optim.settings import Setting, between
from tinynet.validation import flag


class RMSProp(Optimizer):
    """Divide the gradient by a running RMS of its history (``torch.optim.RMSprop``)::

    g = grad + weight_decay * p
    s = alpha * s + (1 - alpha) * g * g           square_avg
    a = alpha * a + (1 - alpha) * g               grad_avg (centered only)
    d = sqrt(s - a * a) if centered else sqrt(s), then d = d + eps
    b = momentum * b + g / d;  p = p - lr * b     momentum_buffer, if momentum > 0
    p = p - lr * g / d                            otherwise
    """

    name = "rmsprop"
    settings: ClassVar[Mapping[str, Setting]] = {
        "lr": Setting(1e-2),
        "alpha": Setting(0.99, between(0.0, 1.0)),
        "eps": Setting(1e-8),
        "weight_decay": Setting(0.0),
        "momentum": Setting(0.0),
        "centered": Setting(False, flag),
    }

    def state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return (
            "square_avg",
            *(("momentum_buffer",) if group["momentum"] else ()),
            *(("grad_avg",) if group["centered"] else ()),
        )

    def update(self, u: Update, group: Mapping[str, Any]) -> None:
        g = with_weight_decay(u.grad, u.data, group["weight_decay"], u.scratch[0])
        square_avg, work, alpha = u.state["square_avg"], u.scratch[1], group["alpha"]
        square_avg *= alpha
        np.multiply(g, g, out=work)
        work *= 1 - alpha
        square_avg += work
        if group["centered"]:
            grad_avg = u.state["grad_avg"]
            grad_avg *= alpha
            np.multiply(g, 1 - alpha, out=work)
            grad_avg += work
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(square_avg, out=work)
        work += group["eps"]
        np.divide(g, work, out=work)
        if group["momentum"]:
            velocity = u.state["momentum_buffer"]
            velocity *= group["momentum"]
            velocity += work
            np.multiply(velocity, group["lr"], out=work)
        else:
            work *= group["lr"]
        u.data -= work


RMSprop = RMSProp
"""PyTorch's spelling."""
