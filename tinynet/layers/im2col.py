"""Sliding windows over image batches: the geometry, im2col and col2im, and the blocked
matrix products that `Conv2d` is made of; the pooling layers use the geometry too.

Images are (N, C, H, W), NCHW as in PyTorch, everywhere a user sees them. The arrays
built here keep the batch axis *last* in memory instead: a padded input is stored as
(C, Hp, Wp, N) and an im2col matrix as (C, kh, kw, OH, OW, N), that is
(C*kh*kw, OH*OW*N), one column per output position and sample. Measured on the
LeNet-5 layers (batch 128, float32), this layout is what makes a NumPy convolution
fast:

- With stride 1, a window row is a run of OW*N contiguous numbers in the input and in
  the column matrix alike, so im2col is one strided copy of long runs and col2im a
  loop of long additions, with nothing wasted (no padding columns to compute).
- Every product is a plain 2-D matrix product over all samples at once:
  ``(out, K) @ (K, OH*OW*N)`` forward, the weight gradient contracted over the
  positions, the column gradient ``(K, out) @ (out, OH*OW*N)``.
- The output ``(out, OH, OW, N)`` is handed on as an NCHW *view* (a transpose, no
  copy): the next layer's elementwise work runs over it in memory order, and the next
  convolution reads it back without a transposing copy. A C-contiguous NCHW batch
  (from a data loader) costs one transposing copy into the padded buffer.

`matmul_columns` and `matmul_contract` split the long position axis of the thinnest
products into blocks and hand NumPy a stack of products: OpenBLAS multiplies a
product with ``m*n*k`` up to about 1e6 by its unpacked "small matrix" kernels, 2x
faster than its packed path for a 6x25 weight (LeNet's first layer) against 100,000
columns, with one BLAS thread or two. For wider weights (16x150 and up) blocks gain
20-30% with one thread but a single product is 30% faster with two (OpenBLAS
threads it; its small kernels run on one core): those stay whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinynet import limits
from tinynet.typing import Array, FloatArray

Pair = tuple[int, int]
Taps = tuple[tuple[slice, slice], tuple[slice, slice]]

SMALL_PRODUCT = 1_000_000
"""Blocks are sized so that one block's product has ``m*n*k`` at most this (see above)."""
SMALL_SHAPE = 1024
"""Only products whose two short dimensions multiply to at most this are blocked."""
MIN_BLOCK = 128
"""Fewer columns than this per block is not worth a BLAS call: such products stay whole."""


def pair(owner: str, name: str, value: object, minimum: int) -> Pair:
    """``value`` (an int or a pair of ints, each from ``minimum`` to
    `tinynet.limits.MAX_GEOMETRY`) as a pair.

    Raises ``ValueError`` naming ``owner`` and the argument otherwise.
    """
    items = value if isinstance(value, (tuple, list)) else (value, value)
    if len(items) == 2 and all(in_range(v, minimum) for v in items):
        return int(items[0]), int(items[1])
    raise ValueError(
        f"{owner}: {name} must be an int or a pair of ints from {minimum} to "
        f"{limits.MAX_GEOMETRY:,} (tinynet.limits.MAX_GEOMETRY), got {shown(value)}"
    )


def shown(value: object) -> str:
    """``value``'s repr, at most 80 characters (a huge int by its size in bits)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def in_range(value: object, minimum: int) -> TypeGuard[int | np.integer[Any]]:
    """Whether ``value`` is an int (not a bool), ``minimum`` to `tinynet.limits.MAX_GEOMETRY`."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        return False
    return minimum <= int(value) <= limits.MAX_GEOMETRY


@dataclass(frozen=True)
class Window:
    """Where the windows of a convolution or pooling lie on a padded (H, W) image.

    ``padding`` is (top, bottom, left, right). Output row ``i`` reads padded rows
    ``i*stride[0] + p*dilation[0]`` for ``p`` in ``range(kernel[0])``; columns alike.
    """

    kernel: Pair
    stride: Pair
    dilation: Pair
    padding: tuple[int, int, int, int]

    @property
    def span(self) -> Pair:
        """The extent of one window on the padded image: ``dilation * (kernel - 1) + 1``."""
        return (
            self.dilation[0] * (self.kernel[0] - 1) + 1,
            self.dilation[1] * (self.kernel[1] - 1) + 1,
        )

    def padded_size(self, height: int, width: int) -> Pair:
        """(Hp, Wp): the image's size with its padding."""
        top, bottom, left, right = self.padding
        return height + top + bottom, width + left + right

    def output_size(self, height: int, width: int) -> Pair:
        """(OH, OW): how many windows fit (PyTorch's formula, rounding down); may be < 1."""
        hp, wp = self.padded_size(height, width)
        return (
            (hp - self.span[0]) // self.stride[0] + 1,
            (wp - self.span[1]) // self.stride[1] + 1,
        )

    def overlaps(self) -> bool:
        """Whether a padded pixel can lie in two windows (stride smaller than the span)."""
        return self.stride[0] < self.span[0] or self.stride[1] < self.span[1]

    def taps(self, oh: int, ow: int) -> list[tuple[slice, slice]]:
        """For each kernel offset (p, q), row-major: the (rows, columns) slices of the
        padded image that offset reads for the OH x OW outputs."""
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.stride, self.dilation
        return [
            (
                slice(p * dh, p * dh + sh * (oh - 1) + 1, sh),
                slice(q * dw, q * dw + sw * (ow - 1) + 1, sw),
            )
            for p in range(kh)
            for q in range(kw)
        ]


def nchw(batch_last: Array) -> Array:
    """The (N, C, H, W) view of a (C, H, W, N) array (no copy)."""
    view: Array = batch_last.transpose(3, 0, 1, 2)
    return view


def batch_last_contiguous(x: Array) -> bool:
    """Whether the (N, C, H, W) array ``x`` is the `nchw` view of a contiguous array."""
    return bool(x.transpose(1, 2, 3, 0).flags.c_contiguous)


def memory_order(x: Array) -> tuple[int, ...]:
    """``x``'s axes from the largest stride to the smallest: its layout in memory."""
    return tuple(sorted(range(x.ndim), key=lambda axis: -x.strides[axis]))


def empty_in_order(shape: tuple[int, ...], order: tuple[int, ...], dtype: Any) -> Array:
    """A new array of ``shape`` whose axes lie in memory in ``order`` (see `memory_order`)."""
    buffer = np.empty([shape[axis] for axis in order], dtype)
    view: Array = buffer.transpose(np.argsort(order))
    return view


def empty_like_order(x: Array, shape: tuple[int, ...], dtype: Any = None) -> Array:
    """A new array of ``shape`` laid out in memory as ``x`` is: an elementwise pass over
    both then runs in memory order."""
    return empty_in_order(shape, memory_order(x), dtype or x.dtype)


def im2col(source: Array, window: Window, oh: int, ow: int, out: Array) -> None:
    """Copy every window of ``source`` into ``out``: one strided copy, no Python loop.

    ``source`` is a padded image batch (C, Hp, Wp, N) of any strides; ``out`` is
    (C, kh, kw, OH, OW, N) and receives ``out[c, p, q, i, j, n] =
    source[c, i*sh + p*dh, j*sw + q*dw, n]``.
    """
    c, _, _, n = source.shape
    s_c, s_h, s_w, s_n = source.strides
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    windows = as_strided(
        source,
        shape=(c, kh, kw, oh, ow, n),
        strides=(s_c, dh * s_h, dw * s_w, sh * s_h, sw * s_w, s_n),
        writeable=False,
    )
    np.copyto(out, windows)


def col2im(cols: Array, window: Window, out: Array) -> None:
    """Add every column back onto the image it came from: the adjoint of `im2col`.

    ``cols`` is (C, kh, kw, OH, OW, N); ``out`` (C, Hp, Wp, N) is added into (the
    caller zeroes it). One addition of a (C, OH, OW, N) slab per kernel offset.
    """
    oh, ow = cols.shape[3:5]
    kw = window.kernel[1]
    for k, (rows, columns) in enumerate(window.taps(oh, ow)):
        out[:, rows, columns, :] += cols[:, k // kw, k % kw]


def _inside(size: int, out: int, start: int, step: int) -> tuple[slice, slice]:
    """Along one axis: the outputs ``i < out`` whose cell ``i*step + start`` (in unpadded
    coordinates) lies in ``range(size)``, and the cells they read, as slices."""
    first = max(0, -(start // step) if start < 0 else 0)
    stop = min(out, (size - 1 - start) // step + 1) if size > start else 0
    if stop <= first:
        return slice(0, 0), slice(0, 0)
    cell = first * step + start
    return slice(first, stop), slice(cell, cell + (stop - first - 1) * step + 1, step)


def inside_taps(window: Window, height: int, width: int, oh: int, ow: int) -> list[Taps]:
    """For each kernel offset (p, q), row-major: the output (rows, columns) whose windows
    read that offset inside the unpadded ``height`` x ``width`` image, and the image
    (rows, columns) they read; the other outputs read padding (zeros) there."""
    (kh, kw), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    top, _, left, _ = window.padding
    result = []
    for p in range(kh):
        out_rows, rows = _inside(height, oh, p * dh - top, sh)
        for q in range(kw):
            out_cols, cols = _inside(width, ow, q * dw - left, sw)
            result.append(((out_rows, out_cols), (rows, cols)))
    return result


def im2col_inside(image: Array, window: Window, out: Array) -> None:
    """`im2col` of the zero-padded ``image`` (C, H, W, N), read without padding it: each
    kernel offset's cells inside the image are copied into ``out`` (C, kh, kw, OH, OW,
    N), one copy per offset. The cells of ``out`` that read padding are not written:
    they must hold zeros already (``out`` kept from a previous call, or made by
    ``np.zeros``)."""
    kw = window.kernel[1]
    height, width = image.shape[1:3]
    oh, ow = out.shape[3:5]
    for k, ((out_rows, out_cols), (rows, cols)) in enumerate(
        inside_taps(window, height, width, oh, ow)
    ):
        np.copyto(out[:, k // kw, k % kw, out_rows, out_cols], image[:, rows, cols])


def col2im_inside(cols: Array, window: Window, out: Array) -> None:
    """`col2im` onto the inside of the padded image only: ``out`` (C, H, W, N) is added
    into (the caller zeroes it), one addition per kernel offset of the columns that read
    inside the image; what fell on the padding is dropped. Each cell adds up the same
    terms in the same order as `col2im` onto a padded buffer does."""
    kw = window.kernel[1]
    oh, ow = cols.shape[3:5]
    for k, ((out_rows, out_cols), (rows, cols_)) in enumerate(
        inside_taps(window, out.shape[1], out.shape[2], oh, ow)
    ):
        out[:, rows, cols_] += cols[:, k // kw, k % kw, out_rows, out_cols]


def _block_size(total: int, other: int) -> int:
    """Columns per block for a product whose two other dimensions multiply to ``other``."""
    if other > SMALL_SHAPE:
        return total
    size = SMALL_PRODUCT // max(other, 1)
    return total if size < MIN_BLOCK or size >= total else size


def _blocks(matrix: Array, count: int, size: int) -> Array:
    """The first ``count * size`` columns of the 2-D ``matrix`` as a (count, rows, size)
    stack of views (writeable: it may be a product's ``out``)."""
    rows, step = matrix.strides
    stack: Array = as_strided(
        matrix, shape=(count, matrix.shape[0], size), strides=(size * step, rows, step)
    )
    return stack


def matmul_columns(a: FloatArray, b: FloatArray, out: FloatArray) -> None:
    """``out = a @ b`` for a (R, K), b (K, M), out (R, M), as a stack of column blocks.

    ``b`` and ``out`` must have unit stride along their columns (rows may be strided).
    """
    total = b.shape[1]
    size = _block_size(total, a.shape[0] * a.shape[1])
    count = total // size
    full = count * size
    if count == 1:
        np.matmul(a, b[:, :full], out=out[:, :full])
    else:
        np.matmul(a, _blocks(b, count, size), out=_blocks(out, count, size))
    if full < total:
        np.matmul(a, b[:, full:], out=out[:, full:])


def matmul_contract(b: FloatArray, c: FloatArray, out: FloatArray, partial: FloatArray) -> None:
    """``out = b @ c.T`` for b (K, M), c (R, M), out (K, R): a sum over the M columns.

    Computed blockwise into ``partial`` (at least ``(M // block, K, R)``; see
    `contract_blocks`), then summed. Same stride rules as `matmul_columns`.
    """
    total = b.shape[1]
    size = _block_size(total, b.shape[0] * c.shape[0])
    count = total // size
    full = count * size
    if count == 1:
        np.matmul(b[:, :full], c[:, :full].T, out=out)
    else:
        stack = partial[:count]
        np.matmul(_blocks(b, count, size), _blocks(c, count, size).transpose(0, 2, 1), out=stack)
        np.sum(stack, axis=0, out=out)
    if full < total:
        out += b[:, full:] @ c[:, full:].T


def contract_blocks(k: int, r: int, total: int) -> int:
    """How many (K, R) partial products `matmul_contract` needs room for."""
    return total // _block_size(total, k * r)
