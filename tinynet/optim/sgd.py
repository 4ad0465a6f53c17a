"""Stochastic gradient descent, with optional (Nesterov) momentum: PyTorch's ``SGD``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinynet.optim.optimizer import Optimizer, with_weight_decay
from tinynet.parameter import Parameter
from tinynet.typing import FloatArray
from tinynet.validation import flag, number, short

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

    momentum: float
    dampening: float
    nesterov: bool
    weight_decay: float
    initial_buffer: str

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        momentum: float = 0.0,
        *,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        initial_buffer: str = "grad",
    ) -> None:
        super().__init__(params, lr)
        self.set_hyperparameters(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            initial_buffer=initial_buffer,
        )

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``momentum`` >= 0, ``dampening`` in [0, 1], ``weight_decay`` >= 0, ``nesterov``
        a bool (needing momentum > 0 and dampening 0), ``initial_buffer`` one of
        `INITIAL_BUFFERS`; see `Optimizer.check_hyperparameters`."""
        name = type(self).__name__
        checked = super().check_hyperparameters(settings)
        checked["momentum"] = number(name, "momentum", settings["momentum"])
        checked["dampening"] = number(name, "dampening", settings["dampening"], 0.0, 1.0)
        checked["weight_decay"] = number(name, "weight_decay", settings["weight_decay"])
        checked["nesterov"] = flag(name, "nesterov", settings["nesterov"])
        if checked["nesterov"] and (checked["momentum"] == 0 or checked["dampening"] != 0):
            raise ValueError(f"{name}: nesterov needs momentum > 0 and dampening = 0")
        if settings["initial_buffer"] not in INITIAL_BUFFERS:
            raise ValueError(
                f"{name}: initial_buffer must be one of {INITIAL_BUFFERS}, "
                f"got {short(settings['initial_buffer'])}"
            )
        return checked

    @property
    def state_names(self) -> tuple[str, ...]:
        return ("momentum_buffer",) if self.momentum else ()

    def hyperparameters(self) -> dict[str, Any]:
        return {
            "lr": self.lr,
            "momentum": self.momentum,
            "dampening": self.dampening,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
            "initial_buffer": self.initial_buffer,
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
        work = scratch[1]
        if self.momentum:
            velocity = state["momentum_buffer"]
            if first_step and self.initial_buffer == "grad":
                np.copyto(velocity, g)  # else velocity is zeros: the general rule below
            else:
                velocity *= self.momentum
                if self.dampening:
                    np.multiply(g, 1 - self.dampening, out=work)
                    velocity += work
                else:
                    velocity += g
            if self.nesterov:
                np.multiply(velocity, self.momentum, out=work)
                work += g
                g = work
            else:
                g = velocity
        np.multiply(g, self.lr, out=work)
        data -= work


class Momentum(SGD):
    """SGD with momentum 0.9 by default: ``Momentum(params, lr)``; see `SGD`."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 0.01,
        momentum: float = 0.9,
        *,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        initial_buffer: str = "grad",
    ) -> None:
        super().__init__(
            params,
            lr,
            momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            initial_buffer=initial_buffer,
        )
