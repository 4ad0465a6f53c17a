"""RMSProp: PyTorch's ``RMSprop``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinynet.optim.optimizer import Optimizer, with_weight_decay
from tinynet.parameter import Parameter
from tinynet.typing import FloatArray
from tinynet.validation import flag, number


class RMSProp(Optimizer):
    """Divide the gradient by a running RMS of its history (``torch.optim.RMSprop``)::

    g = grad + weight_decay * p
    s = alpha * s + (1 - alpha) * g * g           square_avg
    a = alpha * a + (1 - alpha) * g               grad_avg (centered only)
    d = sqrt(s - a * a) if centered else sqrt(s), then d = d + eps
    b = momentum * b + g / d;  p = p - lr * b     momentum_buffer, if momentum > 0
    p = p - lr * g / d                            otherwise
    """

    alpha: float
    eps: float
    weight_decay: float
    momentum: float
    centered: bool

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(params, lr)
        self.set_hyperparameters(
            lr=lr,
            alpha=alpha,
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            centered=centered,
        )

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``alpha`` in [0, 1], ``eps``, ``weight_decay`` and ``momentum`` >= 0,
        ``centered`` a bool; see `Optimizer.check_hyperparameters`."""
        name = type(self).__name__
        checked = super().check_hyperparameters(settings)
        checked["alpha"] = number(name, "alpha", settings["alpha"], 0.0, 1.0)
        for key in ("eps", "weight_decay", "momentum"):
            checked[key] = number(name, key, settings[key])
        checked["centered"] = flag(name, "centered", settings["centered"])
        return checked

    @property
    def state_names(self) -> tuple[str, ...]:
        return (
            "square_avg",
            *(("momentum_buffer",) if self.momentum else ()),
            *(("grad_avg",) if self.centered else ()),
        )

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "alpha": self.alpha,
            "eps": self.eps,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "centered": self.centered,
        }

    def update(
        self,
        data: FloatArray,
        grad: FloatArray,
        state: dict[str, FloatArray],
        scratch: tuple[FloatArray, FloatArray],
        first_step: bool,
    ) -> None:
        g = with_weight_decay(grad, data, self.weight_decay, scratch[0])
        square_avg, work = state["square_avg"], scratch[1]
        square_avg *= self.alpha
        np.multiply(g, g, out=work)
        work *= 1 - self.alpha
        square_avg += work
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg *= self.alpha
            np.multiply(g, 1 - self.alpha, out=work)
            grad_avg += work
            np.multiply(grad_avg, grad_avg, out=work)
            np.subtract(square_avg, work, out=work)
            np.sqrt(work, out=work)
        else:
            np.sqrt(square_avg, out=work)
        work += self.eps
        np.divide(g, work, out=work)
        if self.momentum:
            velocity = state["momentum_buffer"]
            velocity *= self.momentum
            velocity += work
            np.multiply(velocity, self.lr, out=work)
        else:
            work *= self.lr
        data -= work


RMSprop = RMSProp
"""PyTorch's spelling."""
