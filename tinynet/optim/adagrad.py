"""Adagrad: PyTorch's ``Adagrad``, the optimizer of Karpathy's min-char-rnn."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinynet.optim.optimizer import Optimizer, with_weight_decay
from tinynet.parameter import Parameter
from tinynet.typing import FloatArray
from tinynet.validation import number


class Adagrad(Optimizer):
    """Divide each step by the root of the summed squares of all past gradients
    (``torch.optim.Adagrad``)::

        g = grad + weight_decay * p
        s = s + g * g                                 sum (starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    where ``t`` is the step count from 1. min-char-rnn writes
    ``p -= lr * g / sqrt(s + 1e-8)``: ``eps`` inside the root; with its gradients
    (far above 1e-4) the two agree to many digits.
    """

    lr_decay: float
    weight_decay: float
    initial_accumulator_value: float
    eps: float

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(params, lr)
        self.set_hyperparameters(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
        )

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``lr_decay``, ``weight_decay``, ``initial_accumulator_value`` and ``eps``
        finite numbers >= 0; see `Optimizer.check_hyperparameters`."""
        name = type(self).__name__
        checked = super().check_hyperparameters(settings)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            checked[key] = number(name, key, settings[key])
        return checked

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("sum",)

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "initial_accumulator_value": self.initial_accumulator_value,
            "eps": self.eps,
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
        total, work = state["sum"], scratch[1]
        if first_step and self.initial_accumulator_value:
            total += self.initial_accumulator_value
        np.multiply(g, g, out=work)
        total += work
        np.sqrt(total, out=work)
        work += self.eps
        np.divide(g, work, out=work)
        work *= self.lr / (1 + (self.steps - 1) * self.lr_decay)
        data -= work
