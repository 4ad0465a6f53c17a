"""Bounds on what one layer's forward may allocate, checked from shapes before allocating.

A model file's parameters are bounded at load (`tinynet.io.architecture.Budget`), but
a layer's geometry costs nothing to store: a 2 KB file holding ``Conv2d(1, 1, 1,
padding=8000)`` would make one 28x28 digit a (16028, 16028) image. So every built-in
layer whose output or working arrays can outgrow both its input and its weights
computes, by arithmetic on the input's shape alone, how many numbers one sample will
need, and refuses with a ``ValueError`` naming the layer before anything is allocated
when that is more than `MAX_SAMPLE_ELEMENTS`. The rule, per layer and per sample (a
batch of N needs N times as much):

- a convolution: its padded input, its im2col columns and its output;
- a windowed pool: its padded input and its output; and its work, cells per window
  times outputs, at most `MAX_SAMPLE_WORK` (a forward is one array operation over all
  outputs per cell, and a window has at most `MAX_WINDOW_CELLS` cells);
- `AdaptiveAvgPool2d`: its averaging matrices, its half-pooled map and its output;
- `Parallel` (concat or sum): the branch outputs it holds, counted as each branch
  returns, before the next branch runs and before they are joined;
- `Dense` on (N, ..., in) input and `Embedding`: the output (positions times width);
  `MultiheadAttention`: its projections and its (heads, T, T) weights; `RNN`, `LSTM`,
  `GRU`: the gates and states of every step.

The other built-in layers' outputs are at most their input in size (reshapes,
activations, normalizations, dropout). A forward of one sample therefore holds at most
about two of these bounds at a time (a layer's input and its output); training keeps
every layer's arrays for backward. Geometry arguments (kernel size, stride, padding,
dilation) are at most `MAX_GEOMETRY` each, checked when the layer is built (so at
load, naming the node).

These are module attributes, read at each check: a program that trusts its model and
needs larger activations may raise them (``tinynet.limits.MAX_SAMPLE_ELEMENTS =
2**28``).
"""

from __future__ import annotations

MAX_SAMPLE_ELEMENTS = 2**23
"""The most numbers (8,388,608: 32 MiB of float32) one layer may allocate for one sample."""

MAX_WINDOW_CELLS = 2**16
"""The most cells (kh*kw) a pooling window may have: 256x256."""

MAX_SAMPLE_WORK = 2**27
"""The most element operations (cells per window times outputs) a pool may do per sample:
about a quarter of a second."""

MAX_GEOMETRY = 2**20
"""The largest kernel size, stride, padding or dilation along one axis."""


def require_sample_elements(layer: object, what: str, elements: int) -> None:
    """Raise ``ValueError`` if one sample needs more than `MAX_SAMPLE_ELEMENTS` numbers.

    ``layer`` names the layer (its repr's first line), ``what`` says what the count is
    made of, e.g. ``"output (1, 16028, 16028)"``.
    """
    if elements > MAX_SAMPLE_ELEMENTS:
        name = repr(layer).split("\n")[0].rstrip("(")
        raise ValueError(
            f"{name}: its {what} would need {elements:,} numbers per sample, more than "
            f"tinynet.limits.MAX_SAMPLE_ELEMENTS = {MAX_SAMPLE_ELEMENTS:,} (a bound on one "
            f"layer's activations; see SECURITY.md)"
        )


def require_sample_work(layer: object, what: str, operations: int) -> None:
    """Raise ``ValueError`` if one sample needs more than `MAX_SAMPLE_WORK` operations."""
    if operations > MAX_SAMPLE_WORK:
        name = repr(layer).split("\n")[0].rstrip("(")
        raise ValueError(
            f"{name}: {what} would take {operations:,} operations per sample, more than "
            f"tinynet.limits.MAX_SAMPLE_WORK = {MAX_SAMPLE_WORK:,} (see SECURITY.md)"
        )


def product(shape: tuple[int, ...]) -> int:
    """The number of elements of ``shape``, as an exact Python int (no overflow)."""
    total = 1
    for size in shape:
        total *= int(size)
    return total
