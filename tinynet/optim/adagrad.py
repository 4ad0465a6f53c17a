"""Adagrad: PyTorch's ``Adagrad``, the optimizer of Karpathy's min-char-rnn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tinynet.optim.optimizer import Optimizer, Update, with_weight_decay
from tinynet.optim.settings import Setting


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

    name = "adagrad"

    settings: ClassVar[Mapping[str, Setting]] = {
        "lr": Setting(1e-2),
        "lr_decay": Setting(0.0),
        "weight_decay": Setting(0.0),
        "initial_accumulator_value": Setting(0.0),
        "eps": Setting(1e-10),
    }

    def state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return ("sum",)

    def update(self, u: Update, group: Mapping[str, Any]) -> None:
        g = with_weight_decay(u.grad, u.data, group["weight_decay"], u.scratch[0])
        total, work = u.state["sum"], u.scratch[1]
        if u.first_step and group["initial_accumulator_value"]:
            total += group["initial_accumulator_value"]
        np.multiply(g, g, out=work)
        total += work
        np.sqrt(total, out=work)
        work += group["eps"]
        np.divide(g, work, out=work)
        work *= group["lr"] / (1 + (u.step - 1) * group["lr_decay"])
        u.data -= work
