"""Recurrent layers over whole sequences: `RNN` (tanh), `LSTM` and `GRU` (PyTorch's).

All three take ``(input_size, hidden_size, num_layers=1, bias=True, batch_first=True)``
and map x (N, T, input_size) -> y (N, T, hidden_size), the last stacked layer's hidden
state at every step, so recurrent layers stack in a `Sequential`; (T, N, ...) both
with ``batch_first=False``. The initial state is zero; with ``stateful=True`` it is
the final state of the previous forward (``h``, and ``c`` for an LSTM), when that
had the same batch size, as Keras's ``stateful`` and PyTorch's ``out, h = rnn(x, h)``
with ``h.detach()``: backward stops at it (truncated backpropagation through time);
``reset_state()`` starts from zero again. dtype: ``dtype`` (float32 by
default); the input must match it.

Parameters, PyTorch's names and layouts, for G gates of H = hidden_size units and each
stacked layer k = 0, 1, ...: ``weight_ih_l{k}`` (G*H, input_size for k = 0, else H),
``weight_hh_l{k}`` (G*H, H) and, with ``bias``, ``bias_ih_l{k}`` and ``bias_hh_l{k}``
(G*H,); all drawn from U(-1/sqrt(H), 1/sqrt(H)) as PyTorch does, from ``rng`` or a
generator seeded with ``seed``.

The three share one loop (``_Recurrent``); each kind only says what one step computes
(its ``_Cell``). Per stacked layer:

- forward: the input projection of every step is one product,
  ``(T*N, in) @ weight_ih.T -> (T, N, G*H)``, biases added once; then per step one
  product ``h[t-1] @ weight_hh.T`` and the cell's elementwise work;
- backward through time: per step the cell's elementwise work and one product
  ``d_hidden[t] @ weight_hh`` (the gradient reaching ``h[t-1]``); after the loop, one
  product each for ``weight_ih.grad``, ``weight_hh.grad`` and the input gradient.

Arrays are kept time-major, (T, N, ...), so every step reads contiguous rows.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, NamedTuple

import numpy as np

from tinynet import init as initializers
from tinynet import limits, validation
from tinynet.layers.base import Layer
from tinynet.parameter import Parameter
from tinynet.typing import DTypeLike, FloatArray


def _sigmoid_(x: FloatArray) -> None:
    """``x = 1 / (1 + exp(-x))`` in place, as ``(1 + tanh(x / 2)) / 2``: no overflow."""
    x *= 0.5
    np.tanh(x, out=x)
    x += 1
    x *= 0.5


class _Weights(NamedTuple):
    """One stacked layer's parameters: (G*H, in), (G*H, H), and (G*H,) biases or None."""

    ih: Parameter
    hh: Parameter
    bias_ih: Parameter | None
    bias_hh: Parameter | None


class _Cell(ABC):
    """What one recurrent kind computes at each step of one layer, and keeps for backward.

    ``h`` (T+1, N, H) holds the hidden states, ``h[0] = 0``. The loop calls
    ``step(t, a, hh)`` with ``a`` (N, G*H) the step's input projection (biases folded
    in by ``input_bias``) and ``hh = h[t] @ weight_hh.T`` (N, G*H), in order; the step
    writes ``h[t+1]``. Backward calls ``begin_backward``, then ``backward_step(t, dh)`` in
    reverse with ``dh`` = dLoss/dh[t+1]: it writes ``d_input[t]`` (dLoss/da) and
    ``d_hidden[t]`` (dLoss/dhh) and returns the part of dLoss/dh[t] that does not pass
    through ``weight_hh`` (or ``None``).
    """

    gates: ClassVar[int]

    def __init__(
        self, steps: int, n: int, hidden: int, dtype: np.dtype[Any], bias_hh: FloatArray | None
    ) -> None:
        self.hidden = hidden
        self.h = np.zeros((steps + 1, n, hidden), dtype)
        self.inputs: FloatArray | None = None
        self.d_input = self.d_hidden = np.empty((0,), dtype)

    @staticmethod
    def input_bias(bias_ih: FloatArray, bias_hh: FloatArray) -> FloatArray:
        """The bias added to every step's input projection: both biases, where they only
        ever appear summed (RNN, LSTM)."""
        return bias_ih + bias_hh

    def begin_backward(self) -> None:
        """Allocate ``d_input`` (and ``d_hidden``, which is the same array unless the cell
        treats the two products differently), (T, N, G*H)."""
        steps, n, _ = self.h.shape
        self.d_input = np.empty((steps - 1, n, self.gates * self.hidden), self.h.dtype)
        self.d_hidden = self.d_input

    @abstractmethod
    def step(self, t: int, a: FloatArray, hh: FloatArray) -> None:
        """Write ``h[t+1]`` from the step's pre-activations (``hh`` may be overwritten)."""

    @abstractmethod
    def backward_step(self, t: int, dh: FloatArray) -> FloatArray | None:
        """Write ``d_input[t]`` and ``d_hidden[t]``; return dh[t]'s direct part or None."""


class _TanhCell(_Cell):
    """``h[t+1] = tanh(a + hh)``; backward ``d = dh * (1 - h[t+1]**2)``."""

    gates = 1

    def step(self, t: int, a: FloatArray, hh: FloatArray) -> None:
        hh += a
        np.tanh(hh, out=self.h[t + 1])

    def backward_step(self, t: int, dh: FloatArray) -> FloatArray | None:
        h, d = self.h[t + 1], self.d_input[t]
        np.multiply(h, h, out=d)
        np.subtract(1, d, out=d)
        d *= dh
        return None


class _LSTMCell(_Cell):
    """Gates i, f, g, o (PyTorch's order) from ``a + hh``; ``c = f * c_prev + i * g``,
    ``h = o * tanh(c)``. Keeps the activated gates, ``c`` and ``tanh(c)`` per step."""

    gates = 4

    def __init__(
        self, steps: int, n: int, hidden: int, dtype: np.dtype[Any], bias_hh: FloatArray | None
    ) -> None:
        super().__init__(steps, n, hidden, dtype, bias_hh)
        self.activated = np.empty((steps, n, 4 * hidden), dtype)
        self.c = np.zeros((steps + 1, n, hidden), dtype)
        self.tanh_c = np.empty((steps, n, hidden), dtype)
        self.dc = np.zeros((n, hidden), dtype)

    def step(self, t: int, a: FloatArray, hh: FloatArray) -> None:
        size, gates = self.hidden, self.activated[t]
        np.add(a, hh, out=gates)
        _sigmoid_(gates[:, : 2 * size])
        np.tanh(gates[:, 2 * size : 3 * size], out=gates[:, 2 * size : 3 * size])
        _sigmoid_(gates[:, 3 * size :])
        i, f, g, o = np.split(gates, 4, axis=1)
        c = self.c[t + 1]
        np.multiply(f, self.c[t], out=c)
        c += i * g
        np.tanh(c, out=self.tanh_c[t])
        np.multiply(o, self.tanh_c[t], out=self.h[t + 1])

    def backward_step(self, t: int, dh: FloatArray) -> FloatArray | None:
        i, f, g, o = np.split(self.activated[t], 4, axis=1)
        di, df, dg, do = np.split(self.d_input[t], 4, axis=1)
        tanh_c, dc = self.tanh_c[t], self.dc
        dc += dh * o * (1 - tanh_c * tanh_c)  # dc carries dLoss/dc[t+1] from later steps
        np.multiply(dh * tanh_c, o * (1 - o), out=do)
        np.multiply(dc * g, i * (1 - i), out=di)
        np.multiply(dc * self.c[t], f * (1 - f), out=df)
        np.multiply(dc * i, 1 - g * g, out=dg)
        dc *= f  # now dLoss/dc[t], for the step before
        return None


class _GRUCell(_Cell):
    """PyTorch's GRU: ``r, z = sigmoid(a_rz + hh_rz)``, ``n = tanh(a_n + r * (hh_n +
    b_hn))``, ``h = (1 - z) * n + z * h_prev``. ``b_hn`` stays inside the reset gate's
    product, so it is added at each step, not folded into the input projection."""

    gates = 3

    def __init__(
        self, steps: int, n: int, hidden: int, dtype: np.dtype[Any], bias_hh: FloatArray | None
    ) -> None:
        super().__init__(steps, n, hidden, dtype, bias_hh)
        self.bias_hn = None if bias_hh is None else bias_hh[2 * hidden :]
        self.rz = np.empty((steps, n, 2 * hidden), dtype)
        self.n = np.empty((steps, n, hidden), dtype)
        self.hn = np.empty((steps, n, hidden), dtype)

    @staticmethod
    def input_bias(bias_ih: FloatArray, bias_hh: FloatArray) -> FloatArray:
        folded: FloatArray = bias_ih.copy()
        rz = 2 * (bias_hh.shape[0] // 3)
        folded[:rz] += bias_hh[:rz]
        return folded

    def begin_backward(self) -> None:
        super().begin_backward()
        self.d_hidden = np.empty_like(self.d_input)

    def step(self, t: int, a: FloatArray, hh: FloatArray) -> None:
        size, rz, hn, n = self.hidden, self.rz[t], self.hn[t], self.n[t]
        np.add(a[:, : 2 * size], hh[:, : 2 * size], out=rz)
        _sigmoid_(rz)
        np.copyto(hn, hh[:, 2 * size :])
        if self.bias_hn is not None:
            hn += self.bias_hn
        np.multiply(rz[:, :size], hn, out=n)
        n += a[:, 2 * size :]
        np.tanh(n, out=n)
        h = self.h[t + 1]
        np.subtract(self.h[t], n, out=h)
        h *= rz[:, size:]
        h += n

    def backward_step(self, t: int, dh: FloatArray) -> FloatArray | None:
        size, n, hn = self.hidden, self.n[t], self.hn[t]
        r, z = self.rz[t, :, :size], self.rz[t, :, size:]
        d_in, d_hid = self.d_input[t], self.d_hidden[t]
        dn = d_in[:, 2 * size :]
        np.multiply(dh * (1 - z), 1 - n * n, out=dn)
        np.multiply(dn, r, out=d_hid[:, 2 * size :])
        np.multiply(dn * hn, r * (1 - r), out=d_in[:, :size])
        np.multiply(dh * (self.h[t] - n), z * (1 - z), out=d_in[:, size : 2 * size])
        d_hid[:, : 2 * size] = d_in[:, : 2 * size]
        direct: FloatArray = dh * z
        return direct


def _cell_state(cell: _Cell) -> FloatArray | None:
    """An LSTM cell's last cell state ``c[T]``, copied; ``None`` for the other kinds."""
    return cell.c[-1].copy() if isinstance(cell, _LSTMCell) else None


class _Recurrent(Layer):
    """The loop all three kinds share: stacked layers, batch_first, BPTT (see the module).

    Subclasses name their ``_Cell`` in ``_cell_type``; everything else is here.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = True,
        *,
        stateful: bool = False,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        kind = type(self).__name__
        self.stateful = validation.flag(kind, "stateful", stateful)
        self.input_size = validation.positive_int(kind, "input_size", input_size)
        self.hidden_size = validation.positive_int(kind, "hidden_size", hidden_size)
        self.num_layers = validation.positive_int(kind, "num_layers", num_layers)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        generator = initializers.make_rng(rng, seed)
        draw = initializers.uniform(
            -1.0 / math.sqrt(self.hidden_size), 1.0 / math.sqrt(self.hidden_size)
        )
        rows = self._cell_type().gates * self.hidden_size
        for k in range(self.num_layers):
            inputs = self.input_size if k == 0 else self.hidden_size
            shapes: dict[str, tuple[int, ...]] = {
                f"weight_ih_l{k}": (rows, inputs),
                f"weight_hh_l{k}": (rows, self.hidden_size),
            }
            if self.bias:
                shapes |= {f"bias_ih_l{k}": (rows,), f"bias_hh_l{k}": (rows,)}
            for name, shape in shapes.items():
                setattr(self, name, Parameter(draw(shape, generator, dtype)))
        self._cells: list[_Cell] | None = None
        self.state: list[tuple[FloatArray, FloatArray | None]] = []
        """With ``stateful``: each stacked layer's last ``(h, c)`` (N, hidden_size) (``c``
        ``None`` but for an LSTM), the next forward's initial state; ``[]``: zero."""

    def reset_state(self) -> None:
        """Start the next sequence from the zero state (``stateful=True``: forget the
        state carried from the last forward)."""
        self.state = []

    @staticmethod
    @abstractmethod
    def _cell_type() -> type[_Cell]:
        """The step this kind computes."""

    def layer_weights(self, k: int) -> _Weights:
        """Stacked layer ``k``'s parameters: ``(ih, hh, bias_ih, bias_hh)``, the biases
        ``None`` without ``bias``."""

        def get(name: str) -> Parameter | None:
            value = getattr(self, f"{name}_l{k}", None)
            return value if isinstance(value, Parameter) else None

        ih, hh = get("weight_ih"), get("weight_hh")
        assert ih is not None, f"{self!r} has no weight_ih_l{k}"
        assert hh is not None, f"{self!r} has no weight_hh_l{k}"
        return _Weights(ih, hh, get("bias_ih"), get("bias_hh"))

    # --- forward ----------------------------------------------------------------------

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, T, input_size) -> the last layer's hidden state at every step,
        (N, T, hidden_size), same dtype ((T, N, ...) both if not ``batch_first``).

        The output is a transposed view of a time-major (T, N, hidden_size) array.
        """
        validation.float_array(self, x, ndim=3, last=self.input_size, dtype=self.dtype)
        sequence = x.transpose(1, 0, 2) if self.batch_first else x
        if sequence.shape[0] == 0:
            raise ValueError(f"{self!r}: expected at least one time step, got shape {x.shape}")
        per_step = (self._cell_type().gates + 2) * self.hidden_size * self.num_layers
        what = f"gates and states of {sequence.shape[0]} steps"
        limits.require_sample_elements(self, what, (sequence.shape[0] + 1) * per_step)
        cells = []
        for k in range(self.num_layers):
            cells.append(self._layer_forward(k, sequence))
            sequence = cells[-1].h[1:]
        self._cells = cells if self.training else None
        if self.stateful:
            self.state = [(c.h[-1].copy(), _cell_state(c)) for c in cells]
        return sequence.transpose(1, 0, 2) if self.batch_first else sequence

    def _layer_forward(self, k: int, sequence: FloatArray) -> _Cell:
        """Run stacked layer ``k`` over ``sequence`` (T, N, features); return its cell."""
        weights = self.layer_weights(k)
        steps, n, features = sequence.shape
        inputs = np.ascontiguousarray(sequence)
        bias_hh = weights.bias_hh.data if weights.bias_hh is not None else None
        cell = self._cell_type()(steps, n, self.hidden_size, inputs.dtype, bias_hh)
        if self.state and self.state[k][0].shape == cell.h[0].shape:
            h0, c0 = self.state[k]  # stateful: carried over, detached (truncated BPTT)
            cell.h[0] = h0
            if isinstance(cell, _LSTMCell) and c0 is not None:
                cell.c[0] = c0
        projected = (inputs.reshape(steps * n, features) @ weights.ih.data.T).reshape(steps, n, -1)
        if weights.bias_ih is not None and bias_hh is not None:
            projected += cell.input_bias(weights.bias_ih.data, bias_hh)
        hh = np.empty(projected.shape[1:], projected.dtype)
        recurrent = weights.hh.data.T
        for t in range(steps):
            np.matmul(cell.h[t], recurrent, out=hh)
            cell.step(t, projected[t], hh)
        cell.inputs = inputs if self.training else None
        return cell

    # --- backward ---------------------------------------------------------------------

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (the output's shape) -> grad_x (x's shape); accumulates every
        parameter's gradient, backpropagating through all steps and layers."""
        grad_x = self._backward(grad_y, need_input=True)
        assert grad_x is not None
        return grad_x

    def backward_params(self, grad_y: FloatArray) -> None:
        """As ``backward``, without the first layer's input gradient."""
        self._backward(grad_y, need_input=False)

    def _backward(self, grad_y: FloatArray, *, need_input: bool) -> FloatArray | None:
        cells = self.saved(self._cells)
        steps, n, hidden = cells[-1].h[1:].shape
        shape = (n, steps, hidden) if self.batch_first else (steps, n, hidden)
        validation.same_shape(self, grad_y, shape, "grad_y", dtype=cells[-1].h.dtype)
        self._cells = None  # consumed: one backward per forward
        grad: FloatArray | None = grad_y.transpose(1, 0, 2) if self.batch_first else grad_y
        for k in reversed(range(self.num_layers)):
            assert grad is not None
            grad = self._layer_backward(k, cells[k], grad, need_input or k > 0)
        if grad is None:
            return None
        return grad.transpose(1, 0, 2) if self.batch_first else grad

    def _layer_backward(
        self, k: int, cell: _Cell, grad_out: FloatArray, need_input: bool
    ) -> FloatArray | None:
        """Backpropagate dLoss/d(layer k's outputs) (T, N, H) through time; accumulate its
        parameters' gradients; return dLoss/d(its inputs) (T, N, features) if needed."""
        weights, inputs = self.layer_weights(k), cell.inputs
        assert inputs is not None
        steps, n, features = inputs.shape
        cell.begin_backward()
        dh, carry = np.zeros((n, self.hidden_size), inputs.dtype), np.empty_like(grad_out[0])
        recurrent = weights.hh.data
        for t in reversed(range(steps)):
            dh += grad_out[t]
            direct = cell.backward_step(t, dh)
            if t == 0:
                break  # h[0] is the zero or carried (detached) state: nothing to pass on
            np.matmul(cell.d_hidden[t], recurrent, out=carry)
            if direct is not None:
                carry += direct
            dh, carry = carry, dh
        rows = cell.d_input.shape[2]
        d_input, d_hidden = cell.d_input.reshape(-1, rows), cell.d_hidden.reshape(-1, rows)
        weights.ih.grad += d_input.T @ inputs.reshape(-1, features)
        weights.hh.grad += d_hidden.T @ cell.h[:-1].reshape(-1, self.hidden_size)
        if weights.bias_ih is not None and weights.bias_hh is not None:
            weights.bias_ih.grad += d_input.sum(axis=0)
            weights.bias_hh.grad += d_hidden.sum(axis=0)
        if not need_input:
            return None
        grad_in: FloatArray = (d_input @ weights.ih.data).reshape(steps, n, features)
        return grad_in

    # --- description ------------------------------------------------------------------

    def extra_repr(self) -> str:
        parts = [f"{self.input_size}, {self.hidden_size}"]
        if self.num_layers != 1:
            parts.append(f"num_layers={self.num_layers}")
        if not self.bias:
            parts.append("bias=False")
        if not self.batch_first:
            parts.append("batch_first=False")
        if self.stateful:
            parts.append("stateful=True")
        return ", ".join(parts)

    def config(self) -> dict[str, Any]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            **({"stateful": True} if self.stateful else {}),
        }


class RNN(_Recurrent):
    """Elman RNN with tanh: ``h_t = tanh(x_t @ W_ih.T + b_ih + h_{t-1} @ W_hh.T + b_hh)``
    (PyTorch's ``RNN``; G = 1). x (N, T, input_size) -> (N, T, hidden_size); arguments,
    parameters and initialization: see `tinynet.layers.recurrent`.
    """

    @staticmethod
    def _cell_type() -> type[_Cell]:
        return _TanhCell


class LSTM(_Recurrent):
    """Long short-term memory (PyTorch's ``LSTM``): G = 4 gates in PyTorch's order
    input, forget, cell, output; ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.
    x (N, T, input_size) -> ``h`` at every step (N, T, hidden_size); the cell state
    stays inside. Arguments, parameters and initialization: see
    `tinynet.layers.recurrent`.
    """

    @staticmethod
    def _cell_type() -> type[_Cell]:
        return _LSTMCell


class GRU(_Recurrent):
    """Gated recurrent unit (PyTorch's ``GRU``): G = 3 gates in PyTorch's order reset,
    update, new; ``n = tanh(x W_in.T + b_in + r * (h W_hn.T + b_hn))``,
    ``h_t = (1 - z) * n + z * h_{t-1}``. x (N, T, input_size) -> (N, T, hidden_size);
    arguments, parameters and initialization: see `tinynet.layers.recurrent`.
    """

    @staticmethod
    def _cell_type() -> type[_Cell]:
        return _GRUCell


def is_stateful(model: Layer) -> bool:
    """Whether ``model`` holds a recurrent layer with ``stateful=True``."""
    return any(isinstance(m, _Recurrent) and m.stateful for m in model.modules())


def reset_states(model: Layer) -> None:
    """``reset_state()`` every stateful recurrent layer of ``model``: the next forward starts
    from zero (at the start of a text, or of each independent batch)."""
    for layer in model.modules():
        if isinstance(layer, _Recurrent) and layer.stateful:
            layer.reset_state()


@contextmanager
def kept_states(model: Layer) -> Iterator[None]:
    """Inside, every stateful recurrent layer of ``model`` starts from zero; after, each
    has the carried state it had before (an evaluation between two training batches
    leaves the training sequence's state as it was)."""
    layers = [m for m in model.modules() if isinstance(m, _Recurrent) and m.stateful]
    saved = [layer.state for layer in layers]
    reset_states(model)
    try:
        yield
    finally:
        for layer, state in zip(layers, saved, strict=True):
            layer.state = state
