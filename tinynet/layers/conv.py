"""`Conv2d` and `Conv1d`: convolutions (cross-correlation, as in PyTorch) over (N, C, H, W)
images and (N, C, T) sequences, with groups; one computation, in 2-D (see ``_Convolution``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinynet import init as initializers
from tinynet import limits, validation
from tinynet.layers import im2col as windows
from tinynet.layers.base import Layer
from tinynet.layers.im2col import Pair, Window
from tinynet.parameter import Parameter
from tinynet.typing import DTypeLike, FloatArray

PADDING_MODES = ("same", "valid")

INFERENCE_COLUMN_BYTES = 16 * 2**20
"""In inference mode a batch is convolved this many im2col bytes at a time (at least one
sample), so a 10,000-image batch does not build a gigabyte of columns."""


INSIDE_TAPS = 9
"""Padded batch-last input with at most this many kernel offsets is read in place, one
copy per offset (`im2col_inside`), instead of copied into a zero-margined buffer first:
3-5% faster on mnist_cnn's 3x3 layers (batch 128); 10% slower for 5x5 kernels."""


class _Convolution(Layer):
    """What `Conv1d` and `Conv2d` share: channels, groups, the weight and bias, and the
    2-D computation (a 1-D convolution is a 2-D one on images one row high).

    A subclass sets ``window`` (the 2-D `Window`) and calls ``_parameters`` with the
    weight's shape, (out_channels, in_channels // groups, *kernel); its ``forward`` and
    ``backward`` hand (N, C, H, W) arrays to ``_forward_2d`` and ``_backward_2d``.
    """

    weight: Parameter
    bias: Parameter | None
    window: Window

    def _channels(self, in_channels: object, out_channels: object, groups: object) -> None:
        kind = type(self).__name__
        self.in_channels = validation.positive_int(kind, "in_channels", in_channels)
        self.out_channels = validation.positive_int(kind, "out_channels", out_channels)
        self.groups = validation.positive_int(kind, "groups", groups)
        for name, value in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if value % self.groups:
                raise ValueError(
                    f"{kind}: {name} must be divisible by groups, got {name}={value} and "
                    f"groups={self.groups}"
                )

    def _parameters(
        self,
        kernel: tuple[int, ...],
        bias: bool,
        init: str | initializers.Initializer,
        bias_init: str | initializers.Initializer,
        generator: np.random.Generator,
        dtype: DTypeLike,
    ) -> None:
        shape = (self.out_channels, self.in_channels // self.groups, *kernel)
        self.weight = Parameter(initializers.get(init)(shape, generator, dtype))
        bias_shape = (self.out_channels,)
        self.bias = (
            Parameter(initializers.get(bias_init)(bias_shape, generator, dtype)) if bias else None
        )
        self._workspaces: dict[tuple[Any, ...], _Workspace] = {}
        self._cache: _Workspace | None = None

    def grouped_weight(self) -> FloatArray:
        """The weight as (groups, out_channels // groups, in_channels // groups * kernel
        area), a view: group g's output channels read its input channels only."""
        return self.weight.data.reshape(self.groups, self.out_channels // self.groups, -1)

    # --- forward ----------------------------------------------------------------------

    def _forward_2d(self, x: FloatArray) -> FloatArray:
        """x (N, in_channels, H, W) -> y (N, out_channels, OH, OW), same dtype, a new
        array each call, laid out batch-last in memory (an NCHW view of (out, OH, OW, N))."""
        n, _, h, w = x.shape
        oh, ow = self.window.output_size(h, w)
        if oh < 1 or ow < 1:
            raise ValueError(f"{self!r}: {self._too_small(x.shape)}")
        self._require_memory(h, w, oh, ow)
        out = np.empty((self.out_channels, oh, ow, n), x.dtype)
        if self.training:
            workspace = self._workspace(x, n)
            self._convolve(x, workspace, out.reshape(self.out_channels, -1))
            self._cache = workspace
        else:
            self._cache = None
            per_sample = self.weight.data[0].size * self.groups * oh * ow * x.dtype.itemsize
            step = max(1, INFERENCE_COLUMN_BYTES // per_sample)
            for start in range(0, n, step):
                part = x[start : start + step]
                workspace = self._workspace(part, part.shape[0])
                flat = out.reshape(self.out_channels, -1) if step >= n else workspace.output()
                self._convolve(part, workspace, flat)
                if step < n:
                    out[..., start : start + step] = flat.reshape(self.out_channels, oh, ow, -1)
        result: FloatArray = windows.nchw(out)
        return result

    def _require_memory(self, h: int, w: int, oh: int, ow: int) -> None:
        """Refuse (`tinynet.limits`) an (H, W) input whose padded copy, columns and
        (OH, OW) output would need too many numbers per sample, before allocating."""
        (kh, kw), padded = self.window.kernel, self.window.padded_size(h, w)
        if self.window.padding == (0, 0, 0, 0):
            padded = (0, 0)
        columns = self.in_channels * kh * kw * oh * ow
        elements = self.in_channels * padded[0] * padded[1] + columns + self.out_channels * oh * ow
        what = f"padded input, im2col columns and output ({self.out_channels}, {oh}, {ow})"
        limits.require_sample_elements(self, what, elements)

    def _too_small(self, shape: tuple[int, ...]) -> str:
        """Why an input of ``shape`` has no output position."""
        (hp, wp), (kh, kw) = self.window.padded_size(*shape[2:]), self.window.span
        extent = f"the kernel's extent {kh}x{kw}"
        return f"input of shape {shape} is {hp}x{wp} padded, smaller than {extent}"

    def _convolve(self, x: FloatArray, workspace: _Workspace, out: FloatArray) -> None:
        """out (out_channels, OH*OW*n) = weight @ columns(x) + bias, group by group."""
        columns = workspace.load(x)
        if self.groups == 1:
            weight = self.weight.data.reshape(self.out_channels, -1)
            windows.matmul_columns(weight, columns, out)
        else:
            stacked = columns.reshape(self.groups, -1, columns.shape[1])
            np.matmul(
                self.grouped_weight(), stacked, out=out.reshape(self.groups, -1, out.shape[1])
            )
        if self.bias is not None:
            out += self.bias.data[:, np.newaxis]

    def _workspace(self, x: FloatArray, n: int) -> _Workspace:
        """The buffers for inputs shaped like ``x``: kept per (mode, shape, dtype), at most
        two per mode (inference runs a full slice and a last, shorter one)."""
        key = (self.training, n, *x.shape[2:], x.dtype.str)
        workspace = self._workspaces.get(key)
        if workspace is None:
            same_mode = [k for k in self._workspaces if k[0] == self.training]
            for old in same_mode[: max(0, len(same_mode) - 1)]:
                del self._workspaces[old]
            workspace = _Workspace(self, n, x.shape[2], x.shape[3], x.dtype)
            self._workspaces[key] = workspace
        return workspace

    # --- backward ---------------------------------------------------------------------

    def _backward_2d(self, grad_y: FloatArray, need_input: bool) -> FloatArray | None:
        """grad_y (N, out_channels, OH, OW) -> grad_x (N, in_channels, H, W) (a new array,
        batch-last) if ``need_input``; accumulates weight and bias gradients."""
        workspace = self.saved(self._cache)
        grads = workspace.output_grad(self, grad_y)
        scratch = workspace.weight_grad(grads, self.groups)
        self.weight.grad += scratch.reshape(self.weight.shape)
        if self.bias is not None:
            self.bias.grad += workspace.bias_grad(grads)
        self._cache = None  # consumed: a second backward would add the gradients twice
        return workspace.input_grad(self.grouped_weight(), grads) if need_input else None

    def _extra_parts(self) -> list[str]:
        """The repr's arguments after the kernel size that PyTorch's reprs also show."""
        parts = []
        if self.groups != 1:
            parts.append(f"groups={self.groups}")
        if self.bias is None:
            parts.append("bias=False")
        return parts


class Conv2d(_Convolution):
    """2-D convolution over (N, C, H, W) images: PyTorch's ``Conv2d`` (cross-correlation).

    ``y[n, o, i, j] = bias[o] + sum over c, p, q of
    weight[o, c, p, q] * x_padded[n, g*Cg + c, i*sh + p*dh, j*sw + q*dw]``, where
    ``g = o // (out_channels // groups)`` is output channel o's group and
    ``Cg = in_channels // groups`` (``groups=1``: every output reads every input channel;
    ``groups=in_channels``: a depthwise convolution).

    Shapes: x (N, in_channels, H, W) -> y (N, out_channels, OH, OW) with
    ``OH = (H + pad_top + pad_bottom - dh*(kh - 1) - 1) // sh + 1`` (OW alike), as in
    PyTorch. ``weight`` is (out_channels, in_channels // groups, kh, kw) and ``bias``
    (out_channels,), PyTorch's layout, so state dicts move between the two as they are.
    dtype: ``dtype`` (float32 by default); the input must match it.

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are each an int or an
    (H, W) pair. ``padding`` may also be ``"valid"`` (none) or ``"same"`` (output as
    large as the input, stride 1 only; an odd total padding puts the extra row and
    column at the bottom and right, as PyTorch does). Zero padding only. ``groups``
    must divide both channel counts.

    Initialization: ``init`` (default ``"he"``, normal with variance 2 / fan_in, the
    project's `Dense` default, for ReLU networks) and ``bias_init`` (zeros) as in
    `Dense`, with fan_in = in_channels // groups * kh * kw and fan_out = out_channels *
    kh * kw (`tinynet.init.fans` of the 4-D weight shape). PyTorch draws
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for both instead ("kaiming_uniform" with
    a=sqrt(5)), which starts ReLU networks with shrinking activations; He keeps their
    variance, as for `Dense`. Weights, then the bias, come from ``rng`` or a generator
    seeded with ``seed``.

    How it computes (see `tinynet.layers.im2col`): the input is copied once into a
    zero-margined (C, Hp, Wp, N) buffer, or read in place if it is already laid out so
    (as another Conv2d's output is; then the column cells that read padding are zeros
    kept from the first call), every window into a (C*kh*kw, OH*OW*N) column matrix
    (one strided copy, or one per kernel offset), and the output is one product
    ``weight @ columns`` (with groups, one stacked product of each group's weight and
    rows of columns), returned as an NCHW view of an (out, OH, OW, N) array.
    Backward: the weight gradient is one product contracted over the columns, the input
    gradient one product ``weight.T @ grad`` and one addition per kernel offset (col2im).
    `backward_params` skips the input gradient (a network's first layer). Buffers are
    kept and reused while the input shape stays the same; in inference mode large
    batches go through in slices of about `INFERENCE_COLUMN_BYTES` of columns.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Pair,
        stride: int | Pair = 1,
        padding: int | Pair | str = 0,
        dilation: int | Pair = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        init: str | initializers.Initializer = "he",
        bias_init: str | initializers.Initializer = "zeros",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self._channels(in_channels, out_channels, groups)
        self.kernel_size = windows.pair("Conv2d", "kernel_size", kernel_size, 1)
        self.stride = windows.pair("Conv2d", "stride", stride, 1)
        self.dilation = windows.pair("Conv2d", "dilation", dilation, 1)
        self.padding: Pair | str = _padding_argument("Conv2d", padding, self.stride)
        self.window = Window(self.kernel_size, self.stride, self.dilation, self._pads())
        generator = initializers.make_rng(rng, seed)
        self._parameters(self.kernel_size, bias, init, bias_init, generator, dtype)

    def _pads(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding."""
        if isinstance(self.padding, str):
            top, bottom = _padding_mode(self.padding, self.kernel_size[0], self.dilation[0])
            left, right = _padding_mode(self.padding, self.kernel_size[1], self.dilation[1])
            return top, bottom, left, right
        (ph, pw) = self.padding
        return ph, ph, pw, pw

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, in_channels, H, W) -> y (N, out_channels, OH, OW), same dtype.

        ``y`` is a new array each call, laid out batch-last in memory (an NCHW view of
        an (out, OH, OW, N) array).
        """
        self._check_input(x)
        return self._forward_2d(x)

    def _check_input(self, x: FloatArray) -> None:
        validation.float_array(self, x, ndim=4, dtype=self.weight.dtype)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self!r}: expected input of shape (N, {self.in_channels}, H, W), "
                f"got shape {x.shape}"
            )

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, out_channels, OH, OW) -> grad_x (N, in_channels, H, W); accumulates
        weight and bias gradients. grad_x is a new array, laid out batch-last."""
        grad_x = self._backward_2d(grad_y, need_input=True)
        assert grad_x is not None
        return grad_x

    def backward_params(self, grad_y: FloatArray) -> None:
        """Accumulate ``weight.grad`` and ``bias.grad`` only (no input gradient)."""
        self._backward_2d(grad_y, need_input=False)

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"]
        if self.stride != (1, 1):
            parts.append(f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1, 1):
            parts.append(f"dilation={self.dilation}")
        return ", ".join(parts + self._extra_parts())

    def config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": list(self.kernel_size),
            "stride": list(self.stride),
            "padding": self.padding if isinstance(self.padding, str) else list(self.padding),
            "dilation": list(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
        }


class Conv1d(_Convolution):
    """1-D convolution over (N, C, T) sequences: PyTorch's ``Conv1d`` (cross-correlation).

    ``y[n, o, t] = bias[o] + sum over c, p of weight[o, c, p] * x_padded[n, g*Cg + c,
    t*stride + p*dilation]``, with output channel o's group ``g`` and ``Cg =
    in_channels // groups`` as in `Conv2d`.

    Shapes: x (N, in_channels, T) -> y (N, out_channels, OT) with
    ``OT = (T + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1``, as in
    PyTorch. ``weight`` is (out_channels, in_channels // groups, kernel_size) and
    ``bias`` (out_channels,), PyTorch's layout. dtype: ``dtype`` (float32 by default);
    the input must match it.

    ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are each an int (or a
    one-int tuple, as PyTorch keeps them; the attributes are such tuples). ``padding``
    may also be ``"valid"`` or ``"same"`` (stride 1; an odd total puts the extra step at
    the end, as PyTorch does). ``groups`` must divide both channel counts.
    Initialization, ``rng`` and ``seed`` as in `Conv2d`, with fan_in = in_channels //
    groups * kernel_size.

    It is `Conv2d`'s computation on (N, C, 1, T) images (the same im2col, products,
    kept buffers and batch-last output, an (N, C, T) view).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        *,
        init: str | initializers.Initializer = "he",
        bias_init: str | initializers.Initializer = "zeros",
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        self._channels(in_channels, out_channels, groups)
        self.kernel_size = (_single("kernel_size", kernel_size, 1),)
        self.stride = (_single("stride", stride, 1),)
        self.dilation = (_single("dilation", dilation, 1),)
        self.padding: tuple[int] | str
        if isinstance(padding, str):
            self.padding = str(_padding_argument("Conv1d", padding, self.stride))
            left, right = _padding_mode(self.padding, self.kernel_size[0], self.dilation[0])
        else:
            self.padding = (_single("padding", padding, 0),)
            left = right = self.padding[0]
        self.window = Window(
            (1, *self.kernel_size), (1, *self.stride), (1, *self.dilation), (0, 0, left, right)
        )
        generator = initializers.make_rng(rng, seed)
        self._parameters(self.kernel_size, bias, init, bias_init, generator, dtype)

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, in_channels, T) -> y (N, out_channels, OT), same dtype: a new array each
        call, laid out batch-last in memory (an (N, C, T) view of (out, OT, N))."""
        validation.float_array(self, x, ndim=3, dtype=self.weight.dtype)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self!r}: expected input of shape (N, {self.in_channels}, T), got shape {x.shape}"
            )
        y: FloatArray = self._forward_2d(x[:, :, np.newaxis, :])[:, :, 0, :]
        return y

    def _too_small(self, shape: tuple[int, ...]) -> str:
        n, c, _, steps = shape
        padded = self.window.padded_size(1, steps)[1]
        return (
            f"input of shape {(n, c, steps)} is {padded} steps padded, fewer than the "
            f"kernel's extent {self.window.span[1]}"
        )

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, out_channels, OT) -> grad_x (N, in_channels, T); accumulates weight
        and bias gradients. grad_x is a new array, laid out batch-last."""
        grad_x = self._backward_2d(self._grad_2d(grad_y), need_input=True)
        assert grad_x is not None
        return grad_x[:, :, 0, :]

    def backward_params(self, grad_y: FloatArray) -> None:
        """Accumulate ``weight.grad`` and ``bias.grad`` only (no input gradient)."""
        self._backward_2d(self._grad_2d(grad_y), need_input=False)

    def _grad_2d(self, grad_y: FloatArray) -> FloatArray:
        workspace = self.saved(self._cache)
        shape = (workspace.n, self.out_channels, workspace.ow)
        validation.same_shape(self, grad_y, shape, "grad_y", dtype=workspace.dtype)
        grad: FloatArray = grad_y[:, :, np.newaxis, :]
        return grad

    def extra_repr(self) -> str:
        parts = [f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"]
        if self.stride != (1,):
            parts.append(f"stride={self.stride}")
        if self.padding not in ((0,), "valid"):
            parts.append(f"padding={self.padding!r}")
        if self.dilation != (1,):
            parts.append(f"dilation={self.dilation}")
        return ", ".join(parts + self._extra_parts())

    def config(self) -> dict[str, Any]:
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size[0],
            "stride": self.stride[0],
            "padding": self.padding if isinstance(self.padding, str) else self.padding[0],
            "dilation": self.dilation[0],
            "groups": self.groups,
            "bias": self.bias is not None,
        }


def _single(name: str, value: object, minimum: int) -> int:
    """A `Conv1d` argument: an int (or a one-int tuple or list) at least ``minimum``."""
    items = value if isinstance(value, (tuple, list)) and len(value) == 1 else (value,)
    (item,) = items if len(items) == 1 else (None,)
    if windows.in_range(item, minimum):
        return int(item)
    raise ValueError(
        f"Conv1d: {name} must be an int from {minimum} to {limits.MAX_GEOMETRY:,} "
        f"(tinynet.limits.MAX_GEOMETRY), got {windows.shown(value)}"
    )


def _padding_argument(owner: str, padding: object, stride: tuple[int, ...]) -> Pair | str:
    """``padding`` as a pair, or a padding mode checked (``"same"`` needs stride 1)."""
    if not isinstance(padding, str):
        return windows.pair(owner, "padding", padding, 0)
    if padding not in PADDING_MODES:
        raise ValueError(
            f"{owner}: padding must be an int, a pair or one of {PADDING_MODES}, got {padding!r}"
        )
    if padding == "same" and any(step != 1 for step in stride):
        raise ValueError(f"{owner}: padding='same' needs stride 1 (as in PyTorch), got {stride}")
    return padding


def _padding_mode(mode: str, kernel: int, dilation: int) -> tuple[int, int]:
    """(before, after) padding of one axis for ``"valid"`` (none) or ``"same"`` (the
    kernel's extent less one, the odd one after)."""
    if mode == "valid":
        return 0, 0
    total = dilation * (kernel - 1)
    return total // 2, total - total // 2


class _Workspace:
    """The arrays one convolution needs for one input shape, allocated once and reused.

    ``padded`` (C, Hp, Wp, N) holds the input inside zero margins (only the inside is
    ever written, so the margins stay zero); ``columns`` (C*kh*kw, OH*OW*N) its
    windows; the backward buffers are made at the first backward that needs them.
    """

    def __init__(self, layer: _Convolution, n: int, height: int, width: int, dtype: Any) -> None:
        self.window = layer.window
        self.dtype = np.dtype(dtype)
        self.n, self.out_channels = n, layer.out_channels
        self.height, self.width = height, width
        self.oh, self.ow = self.window.output_size(height, width)
        c, (kh, kw) = layer.in_channels, self.window.kernel
        self.k = c * kh * kw
        self.positions = self.oh * self.ow * n
        top, _, left, _ = self.window.padding
        self.padded_shape = (c, *self.window.padded_size(height, width), n)
        self.padded: FloatArray | None = None
        self.inside = (slice(None), slice(top, top + height), slice(left, left + width))
        # zeros: `im2col_inside` leaves the cells that read padding as they are
        self.columns = np.zeros((c, kh, kw, self.oh, self.ow, n), self.dtype)
        self._out: FloatArray | None = None
        self._grads: FloatArray | None = None
        self._dcolumns: FloatArray | None = None
        self._partial: FloatArray | None = None
        self._scratch: FloatArray | None = None
        self._ones: FloatArray | None = None
        self._bias_scratch: FloatArray | None = None

    def load(self, x: FloatArray) -> FloatArray:
        """Copy the windows of ``x`` (n, C, H, W) into ``columns``; return them (K, M).

        Batch-last input is read in place (if padded, with at most `INSIDE_TAPS`
        kernel offsets: `im2col_inside`, the columns that read padding keep their
        zeros); anything else is first copied into the zero-margined buffer (one
        transposing copy for NCHW input).
        """
        unpadded = self.window.padding == (0, 0, 0, 0)
        kh, kw = self.window.kernel
        if windows.batch_last_contiguous(x) and (unpadded or kh * kw <= INSIDE_TAPS):
            source = x.transpose(1, 2, 3, 0)
            if not unpadded:
                windows.im2col_inside(source, self.window, self.columns)
                return self.columns.reshape(-1, self.positions)
        else:
            if self.padded is None:
                self.padded = np.zeros(self.padded_shape, self.dtype)
            np.copyto(windows.nchw(self.padded[self.inside]), x)
            source = self.padded
        windows.im2col(source, self.window, self.oh, self.ow, self.columns)
        return self.columns.reshape(-1, self.positions)

    def output(self) -> FloatArray:
        """A kept (out_channels, M) buffer for one inference slice's output."""
        if self._out is None:
            self._out = np.empty((self.out_channels, self.positions), self.dtype)
        return self._out

    def output_grad(self, layer: _Convolution, grad_y: FloatArray) -> FloatArray:
        """``grad_y`` (n, out, OH, OW) checked and as an (out, M) matrix, batch last: a
        view if it already lies so in memory, else a copy into a kept buffer."""
        out = self.out_channels
        shape = (self.n, out, self.oh, self.ow)
        validation.same_shape(layer, grad_y, shape, "grad_y", dtype=self.dtype)
        if windows.batch_last_contiguous(grad_y):
            matrix: FloatArray = grad_y.transpose(1, 2, 3, 0).reshape(out, self.positions)
            return matrix
        if self._grads is None:
            self._grads = np.empty((out, self.oh, self.ow, self.n), self.dtype)
        np.copyto(windows.nchw(self._grads), grad_y)
        return self._grads.reshape(out, self.positions)

    def weight_grad(self, grads: FloatArray, groups: int) -> FloatArray:
        """dLoss/dweight as (out, K / groups): ``(columns @ grads.T).T`` (a view of a kept
        buffer) for one group, else each group's ``grads @ columns.T``, stacked."""
        if groups > 1:
            stacked = self.columns.reshape(groups, -1, self.positions)
            result: FloatArray = grads.reshape(groups, -1, self.positions) @ stacked.transpose(
                0, 2, 1
            )
            return result
        k, out = self.k, self.out_channels
        if self._scratch is None:
            self._scratch = np.empty((k, out), self.dtype)
            count = windows.contract_blocks(k, out, self.positions)
            self._partial = np.empty((max(count, 1), k, out), self.dtype)
        assert self._partial is not None
        columns = self.columns.reshape(k, self.positions)
        windows.matmul_contract(columns, grads, self._scratch, self._partial)
        transposed: FloatArray = self._scratch.T
        return transposed

    def bias_grad(self, grads: FloatArray) -> FloatArray:
        """``grads`` summed over positions, (out,), as one matrix-vector product."""
        if self._ones is None or self._bias_scratch is None:
            self._ones = np.ones(self.positions, self.dtype)
            self._bias_scratch = np.empty(grads.shape[0], self.dtype)
        np.matmul(grads, self._ones, out=self._bias_scratch)
        return self._bias_scratch

    def input_grad(self, weight: FloatArray, grads: FloatArray) -> FloatArray:
        """dx (n, C, H, W), batch-last, from the grouped weight (groups, out / groups,
        K / groups): columns' gradient ``weight.T @ grads`` group by group, then col2im
        onto the image (its inside only, when padded: `col2im_inside`)."""
        if self._dcolumns is None:
            self._dcolumns = np.empty_like(self.columns)
        dcolumns = self._dcolumns
        groups = weight.shape[0]
        if groups == 1:
            windows.matmul_columns(weight[0].T, grads, dcolumns.reshape(-1, self.positions))
        else:
            stacked = grads.reshape(groups, -1, self.positions)
            out = dcolumns.reshape(groups, -1, self.positions)
            np.matmul(weight.transpose(0, 2, 1), stacked, out=out)
        dx = np.zeros((self.padded_shape[0], self.height, self.width, self.n), self.dtype)
        if self.window.padding == (0, 0, 0, 0):
            windows.col2im(dcolumns, self.window, dx)
        else:  # only what falls inside the image: no padded buffer to clear and cut
            windows.col2im_inside(dcolumns, self.window, dx)
        return windows.nchw(dx)
