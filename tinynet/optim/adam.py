"""Adam and AdamW: PyTorch's ``Adam`` (L2 in the gradient) and ``AdamW`` (decoupled decay)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinynet.optim.optimizer import Optimizer, with_weight_decay
from tinynet.parameter import Parameter
from tinynet.typing import FloatArray
from tinynet.validation import is_real, number, short


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

    decoupled_weight_decay = False

    betas: tuple[float, float]
    eps: float
    weight_decay: float

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        self.set_hyperparameters(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``betas`` two numbers in [0, 1), ``eps`` and ``weight_decay`` >= 0; see
        `Optimizer.check_hyperparameters`."""
        name = type(self).__name__
        checked = super().check_hyperparameters(settings)
        betas = settings["betas"]
        if not (
            isinstance(betas, (tuple, list))
            and len(betas) == 2
            and all(is_real(b) and 0.0 <= b < 1.0 for b in betas)
        ):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {short(betas)}")
        checked["betas"] = (float(betas[0]), float(betas[1]))
        checked["eps"] = number(name, "eps", settings["eps"])
        checked["weight_decay"] = number(name, "weight_decay", settings["weight_decay"])
        return checked

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("exp_avg", "exp_avg_sq")

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "betas": self.betas,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
        }

    def update(
        self,
        data: FloatArray,
        grad: FloatArray,
        state: dict[str, FloatArray],
        scratch: tuple[FloatArray, FloatArray],
        first_step: bool,
    ) -> None:
        beta1, beta2 = self.betas
        if self.decoupled_weight_decay:
            g = grad
            if self.weight_decay:
                data *= 1 - self.lr * self.weight_decay
        else:
            g = with_weight_decay(grad, data, self.weight_decay, scratch[0])
        m, v, work = state["exp_avg"], state["exp_avg_sq"], scratch[1]
        m *= beta1
        np.multiply(g, 1 - beta1, out=work)
        m += work
        v *= beta2
        np.multiply(g, g, out=work)
        work *= 1 - beta2
        v += work
        correction1 = 1 - beta1**self.steps
        correction2_sqrt = math.sqrt(1 - beta2**self.steps)
        np.sqrt(v, out=work)
        work += self.eps * correction2_sqrt
        np.divide(m, work, out=work)
        work *= self.lr * correction2_sqrt / correction1
        data -= work


class AdamW(Adam):
    """Adam with decoupled weight decay, ``p *= 1 - lr * weight_decay`` before the step.

    Default ``weight_decay=0.01``, as ``torch.optim.AdamW``.
    """

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)
