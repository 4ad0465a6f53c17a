"""Windowed pooling over (N, C, H, W) batches: `MaxPool2d`, `AvgPool2d` (and see
`tinynet.layers.adaptive` for `AdaptiveAvgPool2d`).

Each works one kernel offset at a time over the whole batch (a loop of ``kh*kw`` array
operations, never over samples or output positions), on inputs of any memory layout;
outputs and input gradients are laid out in memory as the input is (a batch-last
`Conv2d` output stays batch-last), so every pass runs in memory order.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tinynet import limits, validation
from tinynet.layers import im2col as windows
from tinynet.layers.base import Layer
from tinynet.layers.im2col import Pair, Window
from tinynet.typing import Array, FloatArray, Shape


class _Pool2d(Layer):
    """What the two windowed pools share: arguments, geometry, padding, checks."""

    fill: float = 0.0
    """The value padding cells hold (-inf for max pooling)."""

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None,
        padding: int | Pair,
        dilation: int | Pair = 1,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = windows.pair(name, "kernel_size", kernel_size, 1)
        self.stride = windows.pair(name, "stride", kernel_size if stride is None else stride, 1)
        self.padding = windows.pair(name, "padding", padding, 0)
        self.dilation = windows.pair(name, "dilation", dilation, 1)
        ph, pw = self.padding
        self.window = Window(self.kernel_size, self.stride, self.dilation, (ph, ph, pw, pw))
        half = (self.kernel_size[0] // 2, self.kernel_size[1] // 2)
        if ph > half[0] or pw > half[1]:
            raise ValueError(
                f"{name}: padding {self.padding} must be at most half the kernel size "
                f"{self.kernel_size} (as in PyTorch: every window then holds an input cell), "
                f"at most {half}"
            )
        cells = self.kernel_size[0] * self.kernel_size[1]
        if cells > limits.MAX_WINDOW_CELLS:
            raise ValueError(
                f"{name}: kernel_size {self.kernel_size} has {cells:,} cells per window, more "
                f"than tinynet.limits.MAX_WINDOW_CELLS = {limits.MAX_WINDOW_CELLS:,} (a forward "
                f"is one array operation per cell)"
            )
        self._input: tuple[Shape, Pair, tuple[int, ...]] | None = None

    def _output_size(self, x: FloatArray) -> Pair:
        """Check ``x`` is (N, C, H, W) and return (OH, OW)."""
        validation.float_array(self, x, ndim=4)
        oh, ow = self.window.output_size(*x.shape[2:])
        if oh < 1 or ow < 1:
            raise ValueError(
                f"{self!r}: input of shape {x.shape} is smaller than the window "
                f"{self.window.span[0]}x{self.window.span[1]} (with padding {self.padding})"
            )
        c, padded = x.shape[1], self.window.padded_size(*x.shape[2:])
        held = c * padded[0] * padded[1] if self.padding != (0, 0) else 0
        what = f"padded input and output ({c}, {oh}, {ow})"
        limits.require_sample_elements(self, what, held + c * oh * ow)
        cells = self.kernel_size[0] * self.kernel_size[1]
        limits.require_sample_work(self, f"{cells:,} cells per window", cells * c * oh * ow)
        return oh, ow

    def _padded(self, x: FloatArray) -> FloatArray:
        """``x`` itself, or a copy inside margins of ``fill``, laid out like ``x``."""
        if self.padding == (0, 0):
            return x
        n, c, h, w = x.shape
        (ph, pw), (hp, wp) = self.padding, self.window.padded_size(h, w)
        padded = windows.empty_like_order(x, (n, c, hp, wp))
        padded.fill(self.fill)
        padded[:, :, ph : ph + h, pw : pw + w] = x
        return padded

    def _unpadded(self, grad: FloatArray) -> FloatArray:
        """The inside of a padded gradient (itself without padding)."""
        if self.padding == (0, 0):
            return grad
        ph, pw = self.padding
        inside = grad[:, :, ph : grad.shape[2] - ph, pw : grad.shape[3] - pw]
        out = windows.empty_like_order(inside, inside.shape)
        np.copyto(out, inside)
        return out

    def _keep_input(self, x: FloatArray, oh: int, ow: int) -> None:
        """Keep what backward needs of the input: its shape and memory layout."""
        self._input = (x.shape, (oh, ow), windows.memory_order(x)) if self.training else None

    def _check_grad(self, grad_y: FloatArray) -> tuple[FloatArray, Shape, Pair]:
        """``grad_y`` checked, and laid out as the input was (a copy if it is not: then
        every pass of backward runs in memory order); the input shape and (OH, OW)."""
        shape, out, order = self.saved(self._input)
        validation.same_shape(self, grad_y, (*shape[:2], *out), "grad_y")
        if windows.memory_order(grad_y) != order:
            ordered = windows.empty_in_order(grad_y.shape, order, grad_y.dtype)
            np.copyto(ordered, grad_y)
            grad_y = ordered
        return grad_y, shape, out

    def _input_grad_buffer(self, dtype: Any) -> FloatArray:
        """An array of the padded input's shape for the input gradient, laid out in memory
        as the input was (so a batch-last `Conv2d` output gets a batch-last gradient, which
        it reads in place). Zeros, unless the windows tile it exactly (stride = kernel,
        no padding or dilation, sizes divisible): then every cell is written once."""
        (n, c, h, w), _, order = self.saved(self._input)
        grad = windows.empty_in_order((n, c, *self.window.padded_size(h, w)), order, dtype)
        tiles = (
            self.window.stride == self.window.span == self.kernel_size
            and self.padding == (0, 0)
            and h % self.kernel_size[0] == 0
            and w % self.kernel_size[1] == 0
        )
        if not tiles:
            grad.fill(0)
        return grad

    def extra_repr(self) -> str:
        parts = [f"kernel_size={self.kernel_size}", f"stride={self.stride}"]
        if self.padding != (0, 0):
            parts.append(f"padding={self.padding}")
        if self.dilation != (1, 1):
            parts.append(f"dilation={self.dilation}")
        return ", ".join(parts)

    def config(self) -> dict[str, Any]:
        return {
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": list(self.padding),
        }


_Winners = list[Array]
"""Which offset won each window: ``[codes]`` (``_max_general``) or the three comparisons of
the pairwise path (``_PairBuffers.maximum``)."""


class MaxPool2d(_Pool2d):
    """The maximum of each window: PyTorch's ``MaxPool2d`` (no ``ceil_mode``, no indices).

    Shapes: x (N, C, H, W) -> y (N, C, OH, OW), ``OH = (H + 2*ph - dh*(kh - 1) - 1)
    // sh + 1`` (OW alike); ``stride`` defaults to ``kernel_size``; padding cells are
    -inf, at most half the kernel size. dtype: any float, unchanged.

    The gradient goes to one input per window, the first maximum in row-major order
    (as PyTorch picks it when values tie, e.g. zeros after a ReLU); overlapping windows
    add up. Training keeps the winning offset of each window (uint8 codes when the
    window has at most 256 cells), not the output, so an in-place layer may follow.
    The common 2x2, stride 2 pool takes a shorter path: three pairwise comparisons.
    """

    fill = -np.inf

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        dilation: int | Pair = 1,
    ) -> None:
        super().__init__(kernel_size, stride, padding, dilation)
        self._winners: _Winners | None = None
        self._pairs: _PairBuffers | None = None

    def _is_pairwise(self) -> bool:
        """2x2 windows, stride 2, no padding or dilation: the pairwise path."""
        return self.window == Window((2, 2), (2, 2), (1, 1), (0, 0, 0, 0))

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, C, H, W) -> the window maxima (N, C, OH, OW), same dtype."""
        oh, ow = self._output_size(x)
        source = self._padded(x)
        taps = self.window.taps(oh, ow)
        views = [source[:, :, rows, cols] for rows, cols in taps]
        if self._is_pairwise():
            y, winners = self._pair_buffers(views[0]).maximum(views, self.training)
        else:
            y, winners = _max_general(views)
        self._winners = winners if self.training else None
        self._keep_input(x, oh, ow)
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, C, OH, OW) -> grad_x (N, C, H, W): each window's gradient at its
        first maximum."""
        grad_y, _, (oh, ow) = self._check_grad(grad_y)
        winners = self.saved(self._winners)
        taps = self.window.taps(oh, ow)
        grad = self._input_grad_buffer(grad_y.dtype)
        if self._is_pairwise() and self._pairs is not None:
            self._pairs.scatter(grad_y, [grad[:, :, rows, cols] for rows, cols in taps])
            return grad
        masks = _offset_masks(winners[0], len(taps))
        overlaps = self.window.overlaps()
        for (rows, cols), mask in zip(taps, masks, strict=True):
            if overlaps:
                grad[:, :, rows, cols] += grad_y * mask
            else:
                np.multiply(grad_y, mask, out=grad[:, :, rows, cols])
        return self._unpadded(grad)

    def _pair_buffers(self, view: FloatArray) -> _PairBuffers:
        """The kept buffers of the pairwise path for outputs shaped and laid out as
        ``view`` (made anew when that changes)."""
        key = (view.shape, windows.memory_order(view), view.dtype)
        if self._pairs is None or self._pairs.key != key:
            self._pairs = _PairBuffers(view)
        return self._pairs

    def config(self) -> dict[str, Any]:
        return {**super().config(), "dilation": list(self.dilation)}


class _PairBuffers:
    """The 2x2, stride 2 max-pool's work arrays for one output shape and layout, kept
    between steps: ``cells`` (4, \\*out), the four cells of every window (top-left,
    top-right, bottom-left, bottom-right) copied out of the input, and ``codes`` (7,
    \\*out) bools: the forward's three comparisons, then backward's four masks.

    Every pass then runs over contiguous arrays that are already mapped in memory:
    measured on mnist_cnn's pools (batch 128), a ufunc over the strided cells of a
    batch-last image, or into a freshly allocated array, takes 2-4 times as long as one
    over a kept contiguous array; a strided copy is one fast pass.
    """

    def __init__(self, view: FloatArray) -> None:
        order = windows.memory_order(view)
        self.key = (view.shape, order, view.dtype)
        stacked = (0, *(axis + 1 for axis in order))
        self.cells = windows.empty_in_order((4, *view.shape), stacked, view.dtype)
        self.codes = windows.empty_in_order((7, *view.shape), stacked, np.bool_)

    def maximum(self, views: list[FloatArray], training: bool) -> tuple[FloatArray, _Winners]:
        """The maximum of the four ``views`` (a new array, laid out as they are) and,
        when ``training``, which won: (right of the top pair, right of the bottom pair,
        bottom pair over top), each strict so that ties go to the first in row-major
        order; views of ``codes``."""
        a, b, c, d = self.cells
        for cell, view in zip(self.cells, views, strict=True):
            np.copyto(cell, view)
        top_right, bottom_right, lower = self.codes[:3]
        if training:
            np.greater(b, a, out=top_right)
            np.greater(d, c, out=bottom_right)
        np.maximum(a, b, out=a)
        np.maximum(c, d, out=c)  # and NaN propagates, as in PyTorch
        if training:
            np.greater(c, a, out=lower)
        y = windows.empty_like_order(a, a.shape)
        np.maximum(a, c, out=y)
        return y, [top_right, bottom_right, lower]

    def scatter(self, grad_y: FloatArray, targets: list[FloatArray]) -> None:
        """Write ``grad_y`` into the target of each window's winner (from the last
        training ``maximum``) and zeros into the other three targets."""
        top_right, bottom_right, lower = self.codes[:3]
        masks = self.codes[3:]
        np.logical_or(lower, top_right, out=masks[0])
        np.logical_not(masks[0], out=masks[0])  # top-left: neither lower nor right
        np.greater(top_right, lower, out=masks[1])  # top-right: right, not lower
        np.greater(lower, bottom_right, out=masks[2])
        np.logical_and(lower, bottom_right, out=masks[3])
        for mask, target in zip(masks, targets, strict=True):
            np.multiply(grad_y, mask, out=target)


def _max_general(views: list[FloatArray]) -> tuple[FloatArray, _Winners]:
    """The elementwise maximum of ``views`` and, per element, the index of the first
    view holding it (uint8 for up to 256 views)."""
    first = views[0]
    y = windows.empty_like_order(first, first.shape)
    np.copyto(y, first)
    code = np.uint8 if len(views) <= 256 else np.int32
    winners = windows.empty_like_order(first, first.shape, code)
    winners.fill(0)
    better = windows.empty_like_order(first, first.shape, np.bool_)
    for k, view in enumerate(views[1:], 1):
        np.greater(view, y, out=better)
        np.maximum(y, view, out=y)  # and NaN propagates, as in PyTorch
        np.copyto(winners, k, where=better)
    return y, [winners]


def _offset_masks(winners: Array, count: int) -> Iterator[Array]:
    """For each offset, where it won (from ``_max_general``'s codes), one at a time."""
    for k in range(count):
        mask: Array = winners == k
        yield mask


class AvgPool2d(_Pool2d):
    """The mean of each window: PyTorch's ``AvgPool2d`` (no ``ceil_mode``).

    Shapes: x (N, C, H, W) -> y (N, C, OH, OW), OH and OW as for `MaxPool2d`;
    ``stride`` defaults to ``kernel_size``; padding cells are zeros, at most half the
    kernel. The divisor is ``kh*kw`` (PyTorch's default ``count_include_pad=True``), or
    with ``count_include_pad=False`` the number of cells of the window inside the
    image, or ``divisor_override`` if given. The gradient spreads each window's evenly
    (divided the same way) over its cells. dtype: any float, unchanged.
    """

    def __init__(
        self,
        kernel_size: int | Pair,
        stride: int | Pair | None = None,
        padding: int | Pair = 0,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__(kernel_size, stride, padding)
        if divisor_override is not None and (
            not isinstance(divisor_override, int) or divisor_override < 1
        ):
            raise ValueError(
                f"AvgPool2d: divisor_override must be a positive int, got {divisor_override!r}"
            )
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def _scale(self, h: int, w: int, oh: int, ow: int, dtype: Any) -> FloatArray | float:
        """1 / divisor: a number, or (OH, OW) when it depends on the window's place."""
        if self.divisor_override is not None:
            return 1.0 / self.divisor_override
        if self.count_include_pad or self.padding == (0, 0):
            return 1.0 / (self.kernel_size[0] * self.kernel_size[1])
        counts = [
            _cells_inside(size, out, kernel, stride, pad)
            for size, out, kernel, stride, pad in zip(
                (h, w), (oh, ow), self.kernel_size, self.stride, self.padding, strict=True
            )
        ]
        scale: FloatArray = (1.0 / np.outer(counts[0], counts[1])).astype(dtype)
        return scale

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, C, H, W) -> the window means (N, C, OH, OW), same dtype."""
        oh, ow = self._output_size(x)
        source = self._padded(x)
        taps = self.window.taps(oh, ow)
        (rows, cols), rest = taps[0], taps[1:]
        y = windows.empty_like_order(x, (*x.shape[:2], oh, ow))
        np.copyto(y, source[:, :, rows, cols])
        for rows, cols in rest:
            y += source[:, :, rows, cols]
        y *= self._scale(x.shape[2], x.shape[3], oh, ow, x.dtype)
        self._keep_input(x, oh, ow)
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, C, OH, OW) -> grad_x (N, C, H, W): each window's gradient, divided
        as in forward, added to every cell of the window."""
        grad_y, shape, (oh, ow) = self._check_grad(grad_y)
        share = grad_y * self._scale(shape[2], shape[3], oh, ow, grad_y.dtype)
        grad = self._input_grad_buffer(grad_y.dtype)
        overlaps = self.window.overlaps()
        for rows, cols in self.window.taps(oh, ow):
            if overlaps:
                grad[:, :, rows, cols] += share
            else:
                grad[:, :, rows, cols] = share
        return self._unpadded(grad)

    def extra_repr(self) -> str:
        extra = "" if self.count_include_pad else ", count_include_pad=False"
        if self.divisor_override is not None:
            extra += f", divisor_override={self.divisor_override}"
        return super().extra_repr() + extra

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "count_include_pad": self.count_include_pad,
            "divisor_override": self.divisor_override,
        }


def _cells_inside(size: int, out: int, kernel: int, stride: int, pad: int) -> Array:
    """For each of ``out`` windows along one axis, how many of its cells are not padding."""
    start = np.arange(out) * stride - pad
    stop = np.minimum(start + kernel, size)
    counts: Array = stop - np.maximum(start, 0)
    return counts
