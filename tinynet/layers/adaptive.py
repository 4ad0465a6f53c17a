"""`AdaptiveAvgPool2d`: average over a grid of bins of any input size (global average
pooling with ``output_size=1``), as products with averaging matrices, no loop at all."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinynet import limits, validation
from tinynet.layers import im2col as windows
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, Shape


class AdaptiveAvgPool2d(Layer):
    """Average over a grid of ``output_size`` bins: PyTorch's ``AdaptiveAvgPool2d``.

    ``AdaptiveAvgPool2d(1)`` is global average pooling: (N, C, H, W) -> (N, C, 1, 1)
    (follow it with `Flatten` for (N, C)). In general x (N, C, H, W) -> y (N, C, OH, OW)
    for any input size: bin ``i`` along H covers rows ``floor(i*H/OH)`` up to
    ``ceil((i+1)*H/OH)`` (PyTorch's bins; they may overlap); ``output_size`` is an int
    or an (OH, OW) pair where ``None`` keeps the input's size. dtype: any float.

    Computed as ``A_h @ x @ A_w.T`` with averaging matrices (a mean over a rectangle is
    a mean of row means), so there is no loop at all; the gradient is
    ``A_h.T @ grad_y @ A_w``. ``(1, 1)`` is a plain sum over (H, W).
    """

    def __init__(self, output_size: int | tuple[int | None, int | None] | None) -> None:
        super().__init__()
        items = output_size if isinstance(output_size, (tuple, list)) else (output_size,) * 2
        if len(items) != 2 or not all(
            v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1)
            for v in items
        ):
            raise ValueError(
                f"AdaptiveAvgPool2d: output_size must be a positive int, None or a pair of "
                f"them, got {output_size!r}"
            )
        self.output_size: tuple[int | None, int | None] = (
            None if items[0] is None else int(items[0]),
            None if items[1] is None else int(items[1]),
        )
        self._input: tuple[Shape, FloatArray, FloatArray, tuple[int, ...]] | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, C, H, W) -> bin means (N, C, OH, OW), same dtype."""
        validation.float_array(self, x, ndim=4)
        h, w = x.shape[2:]
        oh = h if self.output_size[0] is None else self.output_size[0]
        ow = w if self.output_size[1] is None else self.output_size[1]
        c = x.shape[1]
        what = f"averaging matrices and output ({c}, {oh}, {ow})"
        limits.require_sample_elements(self, what, oh * h + ow * w + c * oh * (w + ow))
        rows, cols = bin_means(h, oh, x.dtype), bin_means(w, ow, x.dtype)
        self._input = (x.shape, rows, cols, windows.memory_order(x)) if self.training else None
        if (oh, ow) == (1, 1):
            y: FloatArray = x.sum(axis=(2, 3), keepdims=True)
            y *= rows[0, 0] * cols[0, 0]
            return y
        with np.errstate(invalid="ignore"):  # 0 * inf, outside a bin: redone below
            pooled: FloatArray = rows @ x @ cols.T
        if not np.isfinite(pooled).all():  # an inf or NaN in x: keep it in its own bins
            return _non_finite_in_bins(x, rows, cols)
        return pooled

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, C, OH, OW) -> grad_x (N, C, H, W)."""
        shape, rows, cols, order = self.saved(self._input)
        validation.same_shape(self, grad_y, (*shape[:2], rows.shape[0], cols.shape[0]), "grad_y")
        if rows.shape[0] == cols.shape[0] == 1:
            grad = windows.empty_in_order(shape, order, grad_y.dtype)
            np.multiply(grad_y, rows[0, 0] * cols[0, 0], out=grad)
            return grad
        result: FloatArray = rows.T @ grad_y @ cols
        return result

    def extra_repr(self) -> str:
        oh, ow = self.output_size
        return f"output_size={oh if oh == ow else self.output_size}"

    def config(self) -> dict[str, Any]:
        return {"output_size": list(self.output_size)}


def _non_finite_in_bins(x: FloatArray, rows: FloatArray, cols: FloatArray) -> FloatArray:
    """Bin means of an x holding inf or NaN, as PyTorch gives them: the finite cells'
    mean from the products (non-finite cells as 0), then a bin holding +inf is +inf,
    -inf is -inf, both or a NaN is NaN; a cell outside a bin never enters it (the
    products alone would give 0 * inf = NaN there)."""
    finite = np.isfinite(x)
    y: FloatArray = rows @ np.where(finite, x, 0) @ cols.T
    inside_rows, inside_cols = (rows > 0).astype(x.dtype), (cols > 0).astype(x.dtype).T

    def count(mask: Any) -> Any:
        return (inside_rows @ mask.astype(x.dtype) @ inside_cols) > 0

    up, down = count(x == np.inf), count(x == -np.inf)
    y[up] = np.inf
    y[down] = -np.inf
    y[(up & down) | count(np.isnan(x))] = np.nan
    return y


def bin_means(size: int, bins: int, dtype: Any) -> FloatArray:
    """(bins, size): row ``i`` averages PyTorch's bin ``i``, ``floor(i*size/bins)`` to
    ``ceil((i+1)*size/bins)``. `AdaptiveAvgPool2d` multiplies by these; so does its
    ONNX export (`tinynet.io.onnx_converters`) when the bins are not a plain pool's."""
    start = np.arange(bins) * size // bins
    stop = (np.arange(1, bins + 1) * size + bins - 1) // bins
    cells = np.arange(size)
    inside = (cells >= start[:, np.newaxis]) & (cells < stop[:, np.newaxis])
    means: FloatArray = (inside / (stop - start)[:, np.newaxis]).astype(dtype)
    return means
