"""Adam and AdamW: PyTorch's ``Adam`` (L2 in the gradient) and ``AdamW`` (decoupled decay)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tinynet.optim.optimizer import Optimizer, Update, with_weight_decay
from tinynet.optim.settings import Setting, betas


class Adam(Optimizer):
    """Adam with bias correction, ``eps`` added after the square root (``torch.optim.Adam``)::

        g = grad + weight_decay * p               (AdamW instead: p = p * (1 - lr * wd))
        m = b1 * m + (1 - b1) * g                 exp_avg
        v = b2 * v + (1 - b2) * g * g             exp_avg_sq
        p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

    where ``t`` is the step count from 1. Computed as
    ``p -= lr * sqrt(1 - b2**t) / (1 - b1**t) * m / (sqrt(v) + eps * sqrt(1 - b2**t))``,
    the same value with one pass less over the vectors.
    """

    name = "adam"
    decoupled_weight_decay = False

    settings: ClassVar[Mapping[str, Setting]] = {
        "lr": Setting(1e-3),
        "betas": Setting((0.9, 0.999), betas),
        "eps": Setting(1e-8),
        "weight_decay": Setting(0.0),
    }

    def state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def update(self, u: Update, group: Mapping[str, Any]) -> None:
        (beta1, beta2), lr, decay = group["betas"], group["lr"], group["weight_decay"]
        if self.decoupled_weight_decay:
            g = u.grad
            if decay:
                u.data *= 1 - lr * decay
        else:
            g = with_weight_decay(u.grad, u.data, decay, u.scratch[0])
        m, v, work = u.state["exp_avg"], u.state["exp_avg_sq"], u.scratch[1]
        m *= beta1
        np.multiply(g, 1 - beta1, out=work)
        m += work
        v *= beta2
        np.multiply(g, g, out=work)
        work *= 1 - beta2
        v += work
        correction1 = 1 - beta1**u.step
        correction2_sqrt = math.sqrt(1 - beta2**u.step)
        np.sqrt(v, out=work)
        work += group["eps"] * correction2_sqrt
        np.divide(m, work, out=work)
        work *= lr * correction2_sqrt / correction1
        u.data -= work


class AdamW(Adam):
    """Adam with decoupled weight decay, ``p *= 1 - lr * weight_decay`` before the step.

    Default ``weight_decay=0.01``, as ``torch.optim.AdamW``.
    """

    name = "adamw"
    decoupled_weight_decay = True

    settings: ClassVar[Mapping[str, Setting]] = {**Adam.settings, "weight_decay": Setting(1e-2)}
