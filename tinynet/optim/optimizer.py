"""`Optimizer`: the base of every update rule. It knows `Parameter`, nothing else."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from tinynet.parameter import Parameter, Span, pack
from tinynet.typing import FloatArray
from tinynet.validation import is_integer, number, short


class Optimizer(ABC):
    """Updates parameters from their gradients: ``step()``, ``zero_grad()``, state dicts.

    Subclasses name their per-parameter buffers in the ``state_names`` property
    (PyTorch's names: ``momentum_buffer``, ``exp_avg``...; it may depend on the settings,
    as SGD's buffer exists only with momentum), list their hyperparameters in
    ``hyperparameters()``, and write ``update``, which sees one vector of parameters,
    one of gradients and one per state buffer. Updates follow ``torch.optim`` formula for
    formula, so runs can be compared number for number. ``lr`` may be changed between
    steps (schedules do, from ``initial_lr``).

    The parameters are packed into contiguous blocks on construction (`tinynet.parameter`),
    so each vector covers many parameters. The optimizer holds only its own state: one
    set of buffers per `Span`, created at the first step in the parameters' dtype.

    **Settings are checked in one place**, `check_hyperparameters`, which both the
    constructor and `load_state_dict` go through: a setting from your code and one from
    a file get the same ``ValueError`` naming the optimizer and the setting. Numbers
    must be real numbers (not strings, not bools), finite and in range; flags must be
    ``True`` or ``False`` (``"false"`` is refused, not read as true).

    **Parameters must be float32 or float64.** float16 is refused (`require_trainable`):
    Adam's default ``eps`` (1e-8) is below float16's smallest number (6e-8), squared
    gradients under 2.4e-4 vanish, and an update smaller than half a unit in the last
    place of its weight (5e-4 for a weight near 1) is lost, so training stalls or turns
    NaN for reasons no learning rate fixes. Doing it properly needs float32 master
    weights and loss scaling, and would buy nothing here: NumPy has no fast float16
    matrix product on a CPU. Train in float32; cast a copy for storage if you must.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        self.params = list(params)
        name = type(self).__name__
        if not self.params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(
                    f"{name}: expected Parameters (model.parameters()), "
                    f"got {type(p).__name__} at position {i}"
                )
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError(f"{name}: a parameter appears more than once")
        for p in self.params:
            require_trainable(name, p.dtype)
        self.lr = number(name, "lr", lr)
        self.initial_lr = self.lr
        self.steps = 0
        self.spans: list[Span] = pack(self.params)
        self.state: list[dict[str, FloatArray]] = [{} for _ in self.spans]
        self._scratch: list[tuple[FloatArray, FloatArray] | None] = [None for _ in self.spans]

    @property
    def state_names(self) -> tuple[str, ...]:
        """The per-element buffers the rule keeps with its current settings."""
        return ()

    @abstractmethod
    def hyperparameters(self) -> dict[str, Any]:
        """The settings of the rule, by their PyTorch names (``lr``, ``betas``...)."""

    def check_hyperparameters(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` (a value for every key of `hyperparameters`) checked and normalized
        (``betas`` as a tuple of floats...); ``ValueError`` naming the setting otherwise.

        The one place an optimizer's rules live: its constructor sets its settings
        through `set_hyperparameters`, and `load_state_dict` checks a saved state's with
        this before it changes anything. Subclasses extend it: ``super()`` checks ``lr``
        (a finite number >= 0); a subclass that does not override it keeps its other
        settings unchecked.
        """
        return {**settings, "lr": number(type(self).__name__, "lr", settings["lr"])}

    def set_hyperparameters(self, **settings: Any) -> None:
        """Check ``settings`` with `check_hyperparameters`, then set them as attributes."""
        for key, value in self.check_hyperparameters(settings).items():
            setattr(self, key, value)

    @abstractmethod
    def update(
        self,
        data: FloatArray,
        grad: FloatArray,
        state: dict[str, FloatArray],
        scratch: tuple[FloatArray, FloatArray],
        first_step: bool,
    ) -> None:
        """Update ``data`` in place from ``grad``, all 1-D vectors of one dtype.

        ``state`` maps each of ``state_names`` to a buffer of the same length (zeros
        before the first step), ``scratch`` is two work vectors, ``first_step`` tells
        whether the state buffers were just created. ``grad`` must not be changed.
        """

    def step(self) -> None:
        """Apply one update to every parameter from its current gradient."""
        self.steps += 1
        for i, span in enumerate(self.spans):
            data, state = span.data, self.state[i]
            if data.dtype.itemsize < 4:  # cast since construction (Layer.astype)
                self.steps -= 1
                require_trainable(type(self).__name__, data.dtype)
            missing = [name for name in self.state_names if name not in state]
            for name in missing:
                state[name] = np.zeros_like(data)
            for name, buffer in state.items():
                if buffer.dtype != data.dtype:  # the parameters were cast since
                    state[name] = buffer.astype(data.dtype)
            scratch = self._scratch_for(i, data)
            self.update(data, span.grad, state, scratch, bool(missing))
            if self.steps % FLUSH_EVERY == 0:
                for buffer in state.values():
                    flush_negligible(buffer, scratch[1])

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

    # --- state ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, with copies of every buffer.

        ``{"state": {i: {"step": int, name: array, ...}}, "param_groups": [{...,
        "params": [0, 1, ...]}]}``, where ``i`` is the parameter's position in the list
        the optimizer was given and arrays have that parameter's shape. ``state`` is
        empty before the first step.
        """
        state: dict[int, dict[str, Any]] = {}
        if self.steps:
            position = {id(p): i for i, p in enumerate(self.params)}
            for span, buffers in zip(self.spans, self.state, strict=True):
                for p, where in zip(span.params, span.offsets, strict=True):
                    entry: dict[str, Any] = {"step": self.steps}
                    for name, vector in buffers.items():
                        entry[name] = vector[where].reshape(p.shape).copy()
                    state[position[id(p)]] = entry
        group_settings = {**self.hyperparameters(), "params": list(range(len(self.params)))}
        return {"state": state, "param_groups": [group_settings]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a state from `state_dict`, checking it fits these parameters.

        The settings saved come back too, as in PyTorch (they decide which buffers the
        state must hold: SGD's ``momentum_buffer`` only with momentum), checked by
        `check_hyperparameters` as the constructor checks them. Raises ``ValueError``
        naming the setting, or the parameter and buffer whose shape or presence does not
        match, or a step count that is not an integer in [1, 2**62], before anything is
        changed.
        """
        name = type(self).__name__
        try:
            settings = dict(state_dict["param_groups"][0])
            state = state_dict["state"]
        except (KeyError, IndexError, TypeError) as error:
            raise ValueError(f"{name}.load_state_dict: not an optimizer state dict") from error
        if len(settings.pop("params", [])) != len(self.params):
            raise ValueError(
                f"{name}.load_state_dict: the state is for a different number of parameters "
                f"than the {len(self.params)} given to this optimizer"
            )
        previous = self.hyperparameters()
        unknown = set(settings) - set(previous)
        if unknown:
            raise ValueError(f"{name}.load_state_dict: unknown settings {sorted(unknown)}")
        try:
            checked = self.check_hyperparameters({**previous, **settings})
        except ValueError as error:
            raise ValueError(f"{name}.load_state_dict: {error}") from error
        for key, value in checked.items():
            setattr(self, key, value)
        try:
            steps, entries = self._check_state(state)
        except ValueError:
            for key, value in previous.items():
                setattr(self, key, value)
            raise
        self.steps = steps
        position = {id(p): i for i, p in enumerate(self.params)}
        for i, span in enumerate(self.spans):
            self.state[i] = {}
            for buffer in self.state_names if entries else ():
                vector = np.empty(span.size, span.block.dtype)
                for p, where in zip(span.params, span.offsets, strict=True):
                    vector[where] = entries[position[id(p)]][buffer].ravel()
                self.state[i][buffer] = vector

    def _check_state(self, state: Any) -> tuple[int, list[dict[str, Any]]]:
        """Validate per-parameter entries; return their step count and them in order."""
        name = type(self).__name__
        if not isinstance(state, dict):
            raise ValueError(f"{name}.load_state_dict: 'state' must be a dict")
        if not state:
            return 0, []
        steps = set()
        entries = []
        for i, p in enumerate(self.params):
            entry = state.get(i, state.get(str(i)))
            if not isinstance(entry, dict):
                raise ValueError(f"{name}.load_state_dict: no state for parameter {i}")
            entries.append(entry)
            step = entry.get("step")
            if not (is_integer(step) and 1 <= step <= MAX_STEPS):
                raise ValueError(
                    f"{name}.load_state_dict: parameter {i} needs 'step', an integer in "
                    f"[1, 2**62], got {short(step)}"
                )
            steps.add(int(step))
            for buffer in self.state_names:
                value = entry.get(buffer)
                if not isinstance(value, np.ndarray) or value.shape != p.shape:
                    got = getattr(value, "shape", type(value).__name__)
                    raise ValueError(
                        f"{name}.load_state_dict: parameter {i} needs '{buffer}' of shape "
                        f"{p.shape}, got {got}"
                    )
        if len(steps) != 1:
            raise ValueError(f"{name}.load_state_dict: parameters record different step counts")
        return steps.pop(), entries

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({settings})"


MAX_STEPS = 2**62
"""The largest step count a state may hold (``beta ** step`` must stay a float operation)."""

FLUSH_EVERY = 16
"""Steps between two `flush_negligible` passes over the optimizer's state."""


def flush_negligible(buffer: FloatArray, work: FloatArray) -> None:
    """Set entries of ``buffer`` below ``tiny * 2**40`` in magnitude to exactly zero.

    State that decays geometrically (Adam's ``exp_avg`` by beta1 each step, a momentum
    buffer by mu) where gradients are zero (dead units, always-black MNIST border
    pixels) sinks into the subnormal range, where x86 arithmetic is about 100 times
    slower: a float32 Adam step was measured going from 0.4 ms to 5 ms. Entries that
    small (below 1.3e-26 in float32) change no update by a representable amount, and
    at a factor of 0.5 per step they need 40 steps to become subnormal, longer than
    the `FLUSH_EVERY` steps between two flushes. ``work`` is scratch of the same shape.
    """
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


def non_negative(owner: str, name: str, value: object) -> float:
    """``value`` as a float, or ``ValueError`` if it is not a finite real number >= 0."""
    return number(owner, name, value)


def require_trainable(owner: str, dtype: np.dtype[Any]) -> None:
    """``TypeError`` unless ``dtype`` is float32 or float64 (see `Optimizer`: float16)."""
    if dtype.kind == "f" and dtype.itemsize >= 4:
        return
    raise TypeError(
        f"{owner}: cannot train {dtype} parameters; tinynet's optimizers need float32 or "
        f"float64 (in float16, eps 1e-8 and squared gradients below 2.4e-4 underflow to 0 "
        f"and small updates are rounded away, so training stalls or turns NaN whatever the "
        f"learning rate): train with model.astype(np.float32)"
    )
