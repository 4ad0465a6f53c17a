"""`Optimizer`: the base of every update rule. It knows `Parameter`, nothing else."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tinynet.blocks import Span, pack
from tinynet.optim.settings import (
    GROUP_KEYS,
    Setting,
    as_groups,
    check_settings,
    require_trainable,
    settings_repr,
    signature,
)
from tinynet.optim.state import load_optimizer_state, optimizer_state
from tinynet.parameter import Parameter
from tinynet.registry import Registry
from tinynet.typing import FloatArray
from tinynet.validation import number


@dataclass
class Update:
    """What one `Optimizer.update` sees, 1-D views of one dtype and length: ``data``,
    ``grad`` (read only), ``state`` (each of `Optimizer.state_names`, zeros when new), two
    ``scratch`` vectors; ``step`` counts from 1, ``first_step``: the buffers are new."""

    data: FloatArray
    grad: FloatArray
    state: dict[str, FloatArray]
    scratch: tuple[FloatArray, FloatArray]
    step: int
    first_step: bool


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")
"""Every `Optimizer` subclass by name: tinynet's by their recipe names (``"sgd"``,
``"momentum"``, ``"adam"``, ``"adamw"``, ``"rmsprop"``), others by
``module.QualifiedName``; each registers itself when defined."""


class Optimizer(ABC):
    """Updates parameters from their gradients, as ``torch.optim`` formula for formula.

    A subclass declares its ``settings`` (name -> `Setting`, PyTorch's names), names its
    per-element buffers in `state_names` and writes ``update(u, group)``. ``params``:
    Parameters, or PyTorch's parameter groups (``{"params": [...], "lr": ...}``, missing
    settings the constructor's). Frozen parameters (``requires_grad = False``) keep their
    values and state; each parameter counts its own steps. The parameters are packed into
    contiguous blocks (`tinynet.blocks`), and an update sees one stretch at a time.
    """

    settings: ClassVar[Mapping[str, Setting]] = {"lr": Setting(1e-3)}
    name: ClassVar[str | None] = None
    """The name recipes use (``"adam"``); ``None``: ``module.QualifiedName``."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register the subclass in `OPTIMIZERS` (names starting with ``_`` are private)
        and give it the signature of its ``settings``."""
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            OPTIMIZERS.add(cls, cls.__dict__.get("name"), primary=True)
        if cls.__init__ is Optimizer.__init__:  # else its own __init__ has the signature
            setattr(cls, "__signature__", signature(cls.settings))  # noqa: B010

    def __init__(
        self, params: Iterable[Parameter] | Iterable[dict[str, Any]], *args: Any, **kwargs: Any
    ) -> None:
        """Check the settings (``TypeError`` for an unknown or missing one, ``ValueError``
        for a bad value) and the groups, then pack the parameters."""
        name = type(self).__name__
        try:
            bound = signature(self.settings).bind(params, *args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{name}: {error}; it takes {list(self.settings)}") from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        self.defaults = self.check_hyperparameters({k: arguments[k] for k in self.settings})
        groups = as_groups(name, params)
        self.param_groups: list[dict[str, Any]] = []
        self.params: list[Parameter] = []
        self.spans: list[Span] = []
        self.group_of: list[int] = []
        self.state: list[dict[str, FloatArray]] = []
        self.counts: list[list[int]] = []
        self._scratch: list[tuple[FloatArray, FloatArray] | None] = []
        self._calls = 0
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a parameter group (a dict with ``"params"`` and any settings, the others
        the constructor's), as PyTorch's; its parameters are packed if they were not.
        Schedules made before leave its rate alone."""
        name = type(self).__name__
        if not isinstance(group, dict):
            raise TypeError(
                f"{name}.add_param_group: expected a dict with 'params', got {type(group).__name__}"
            )
        (checked,) = [self.checked_group(g) for g in as_groups(name, [group])]
        ids = [id(p) for p in [*self.params, *checked["params"]]]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter appears more than once")
        for p in checked["params"]:
            require_trainable(name, p.dtype)
        for span in pack(checked["params"]):
            self.spans.append(span)
            self.group_of.append(len(self.param_groups))
            self.state.append({})
            self.counts.append([0] * len(span.params))
            self._scratch.append(None)
        self.param_groups.append(checked)
        self.params.extend(checked["params"])

    def checked_group(self, group: Mapping[str, Any]) -> dict[str, Any]:
        """``group`` with the defaults filled in, every setting checked."""
        settings = {k: v for k, v in group.items() if k not in GROUP_KEYS}
        checked = self.check_hyperparameters({**self.defaults, **settings})
        initial = group.get("initial_lr", checked["lr"])
        initial_lr = number(type(self).__name__, "initial_lr", initial)
        return {"params": list(group["params"]), **checked, "initial_lr": initial_lr}

    # --- settings ---------------------------------------------------------------------

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` (one value per name of the class table) checked and normalized by
        each `Setting`; ``ValueError`` naming the setting. Subclasses add joint rules."""
        return check_settings(type(self).__name__, self.settings, settings)

    def hyperparameters(self) -> dict[str, Any]:
        """The first group's settings by their PyTorch names (every group's:
        ``param_groups``)."""
        return {k: self.param_groups[0][k] for k in self.settings}

    @property
    def lr(self) -> float:
        """The first group's learning rate; setting it sets every group's."""
        return float(self.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        checked = number(type(self).__name__, "lr", value)
        for group in self.param_groups:
            group["lr"] = checked

    @property
    def initial_lr(self) -> float:
        """The first group's rate before any schedule (each group has its own)."""
        return float(self.param_groups[0]["initial_lr"])

    @property
    def steps(self) -> int:
        """The largest step count of any parameter (0 before the first step)."""
        return max(max(counts, default=0) for counts in self.counts)

    def state_names(self, group: Mapping[str, Any]) -> tuple[str, ...]:
        """The per-element buffers the rule keeps with ``group``'s settings."""
        return ()

    # --- stepping ---------------------------------------------------------------------

    @abstractmethod
    def update(self, u: Update, group: Mapping[str, Any]) -> None:
        """Update ``u.data`` in place from ``u.grad`` (see `Update`) with ``group``'s
        settings."""

    def step(self) -> None:
        """Apply one update to every parameter that requires a gradient."""
        for span in self.spans:
            if span.block.dtype.itemsize < 4:  # cast since construction (Layer.astype)
                require_trainable(type(self).__name__, span.block.dtype)
        self._calls += 1
        for i, span in enumerate(self.spans):
            group = self.param_groups[self.group_of[i]]
            data, grad = span.data, span.grad
            state, created = self._buffers_for(i, group, data)
            work = self._scratch_for(i, data)
            counts = self.counts[i]
            for start, stop, first, last in self._pieces(i):
                step = counts[first] + 1
                u = Update(
                    data[start:stop],
                    grad[start:stop],
                    {k: v[start:stop] for k, v in state.items()},
                    (work[0][start:stop], work[1][start:stop]),
                    step,
                    created or step == 1,
                )
                self.update(u, group)
                counts[first:last] = [step] * (last - first)
                if self._calls % FLUSH_EVERY == 0:
                    for buffer in u.state.values():
                        flush_negligible(buffer, u.scratch[1])

    def _pieces(self, i: int) -> Iterator[tuple[int, int, int, int]]:
        """Span ``i``'s stretches to update: (start, stop) in the span and (first, last)
        parameter positions, cut at frozen parameters and changes of step count."""
        params, offsets, counts = self.spans[i].params, self.spans[i].offsets, self.counts[i]
        k, n = 0, len(params)
        while k < n:
            if not params[k].requires_grad:
                k += 1
                continue
            j = k + 1
            while j < n and params[j].requires_grad and counts[j] == counts[k]:
                j += 1
            yield offsets[k].start, offsets[j - 1].stop, k, j
            k = j

    def _buffers_for(
        self, i: int, group: Mapping[str, Any], data: FloatArray
    ) -> tuple[dict[str, FloatArray], bool]:
        """Span ``i``'s state, missing buffers made (zeros), all in ``data``'s dtype;
        and whether any was made now."""
        state = self.state[i]
        missing = [name for name in self.state_names(group) if name not in state]
        for name in missing:
            state[name] = np.zeros_like(data)
        for name, buffer in state.items():
            if buffer.dtype != data.dtype:  # the parameters were cast since
                state[name] = buffer.astype(data.dtype)
        return state, bool(missing)

    def _scratch_for(self, i: int, data: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Two work vectors like ``data``, kept between steps."""
        scratch = self._scratch[i]
        if scratch is None or scratch[0].dtype != data.dtype:
            scratch = (np.empty_like(data), np.empty_like(data))
            self._scratch[i] = scratch
        return scratch

    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero: one fill per span."""
        for span in self.spans:
            span.grad.fill(0)

    # --- state (tinynet.optim.state) ----------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The state in PyTorch's layout, buffers copied (`tinynet.optim.state`)."""
        return optimizer_state(self)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a `state_dict`, checked to fit these parameters before anything changes
        (`tinynet.optim.state`); ``ValueError`` naming what does not fit."""
        load_optimizer_state(self, state_dict)

    def __repr__(self) -> str:
        return settings_repr(type(self).__name__, self.defaults, self.param_groups)


FLUSH_EVERY = 16
"""Steps between two `flush_negligible` passes over the optimizer's state."""


def flush_negligible(buffer: FloatArray, work: FloatArray) -> None:
    """Set entries of ``buffer`` below ``tiny * 2**40`` in magnitude to zero (``work``:
    scratch of its shape). State that decays where gradients are zero (dead units, MNIST's
    black border) sinks into subnormals, 100x slower on x86 (an Adam step: 0.4 -> 5 ms).
    Such entries change no update, and need 40 steps at a factor 0.5 to become subnormal,
    more than the `FLUSH_EVERY` steps between two flushes."""
    threshold = np.finfo(buffer.dtype).tiny * 2.0**40
    np.abs(buffer, out=work)
    # Multiplying by the keep-mask is 2.5x faster than np.copyto(..., where=) here;
    # NaN and inf stay as they are (NaN >= t is False, but NaN * 0 is NaN).
    np.multiply(buffer, work >= threshold, out=buffer)


def with_weight_decay(
    grad: FloatArray, data: FloatArray, weight_decay: float, out: FloatArray
) -> FloatArray:
    """``grad + weight_decay * data`` written into ``out`` (L2 penalty); ``grad`` if no decay."""
    if not weight_decay:
        return grad
    np.multiply(data, weight_decay, out=out)
    out += grad
    return out
