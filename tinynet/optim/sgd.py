"""Stochastic gradient descent, with optional (Nesterov) momentum: PyTorch's ``SGD``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tinynet.optim.optimizer import Optimizer, Update, with_weight_decay
from tinynet.optim.settings import Setting, between, one_of
from tinynet.validation import flag

INITIAL_BUFFERS = ("grad", "zeros")
"""Where the momentum buffer starts: the first gradient (PyTorch's) or zeros (an EMA)."""


class SGD(Optimizer):
    """``p -= lr * g``, where with momentum ``mu`` (as ``torch.optim.SGD``)::

        g = grad + weight_decay * p
        v = g                                   on the first step
        v = mu * v + (1 - dampening) * g        afterwards
        g = g + mu * v   if nesterov   else   v
        p = p - lr * g

    ``v`` is the ``momentum_buffer`` state. With ``momentum=0`` there is no state.

    ``initial_buffer="zeros"`` starts ``v`` at 0 instead of at the first gradient, so
    the first step too is ``v = mu * v + (1 - dampening) * g``. With ``dampening = mu``
    that is the exponential moving average ``v = mu v + (1 - mu) g`` of many
    from-scratch networks ("beta" momentum, no bias correction). PyTorch's start
    ``v = g`` makes the first update 1/(1 - mu) times larger (10x for mu = 0.9) and
    every later buffer larger by ``mu**t * g_1``.
    """

    name = "sgd"
    settings: ClassVar[Mapping[str, Setting]] = {
        "lr": Setting(0.01),
        "momentum": Setting(0.0),
        "dampening": Setting(0.0, between(0.0, 1.0), keyword_only=True),
        "nesterov": Setting(False, flag, keyword_only=True),
        "weight_decay": Setting(0.0, keyword_only=True),
        "initial_buffer": Setting("grad", one_of(INITIAL_BUFFERS), keyword_only=True),
    }

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """Each setting's own check, and ``nesterov`` only with momentum > 0 and
        dampening 0; see `Optimizer.check_hyperparameters`."""
        checked = super().check_hyperparameters(settings)
        if checked["nesterov"] and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError(
                f"{type(self).__name__}: nesterov needs momentum > 0 and dampening = 0"
            )
        return checked

    def state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        return ("momentum_buffer",) if group["momentum"] else ()

    def update(self, u: Update, group: Mapping[str, Any]) -> None:
        g = with_weight_decay(u.grad, u.data, group["weight_decay"], u.scratch[0])
        work, momentum, dampening = u.scratch[1], group["momentum"], group["dampening"]
        if momentum:
            velocity = u.state["momentum_buffer"]
            if u.first_step and group["initial_buffer"] == "grad":
                np.copyto(velocity, g)  # else velocity is zeros: the general rule below
            else:
                velocity *= momentum
                if dampening:
                    np.multiply(g, 1 - dampening, out=work)
                    velocity += work
                else:
                    velocity += g
            if group["nesterov"]:
                np.multiply(velocity, momentum, out=work)
                work += g
                g = work
            else:
                g = velocity
        np.multiply(g, group["lr"], out=work)
        u.data -= work


class Momentum(SGD):
    """SGD with momentum 0.9 by default: ``Momentum(params, lr)``; see `SGD`."""

    name = "momentum"
    settings: ClassVar[Mapping[str, Setting]] = {**SGD.settings, "momentum": Setting(0.9)}
