"""Batch normalization: `BatchNorm1d` over (N, C) or (N, C, L), `BatchNorm2d` over
(N, C, H, W); per channel, with running statistics for inference."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import numpy as np

from tinynet import init as initializers
from tinynet import validation
from tinynet.layers.base import Layer
from tinynet.parameter import Parameter
from tinynet.typing import Array, DTypeLike, FloatArray

_AXES = "abcdefgh"


class _BatchNorm(Layer):
    """Batch normalization of channel axis 1 over every other axis (PyTorch's ``_BatchNorm``).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, per channel. In training mode
    mean and var are the batch's, taken over every axis but the channel axis (the
    biased variance, dividing by the n values per channel), and the running statistics
    move towards them: ``running = (1 - momentum) * running + momentum * batch``, with
    the unbiased variance (dividing by n - 1) for ``running_var``, as in PyTorch.
    ``momentum=None`` takes the cumulative average instead (factor
    1 / num_batches_tracked). In inference mode (``eval()``) the running statistics
    are used, so a single sample can be normalized.

    Parameters: ``weight`` (C,), initialized to 1, and ``bias`` (C,), initialized to 0,
    trainable (absent when ``affine=False``). Buffers, updated in place and never by an
    optimizer: ``running_mean`` (zeros) and ``running_var`` (ones), both (C,) in the
    layer's dtype, and ``num_batches_tracked``, an int64 scalar counting training
    batches (PyTorch's; `Layer.astype` leaves it int64). dtype: ``dtype`` (float32 by
    default); the input must match it. Training needs more than one value per channel
    (PyTorch refuses one too).
    """

    buffer_names = ("running_mean", "running_var", "num_batches_tracked")

    weight: Parameter | None
    bias: Parameter | None
    running_mean: FloatArray
    running_var: FloatArray
    num_batches_tracked: Array

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        *,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = validation.positive_int(name, "num_features", num_features)
        if not eps > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must lie in [0, 1] or be None, got {momentum!r}")
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        shape = (self.num_features,)
        self.weight = Parameter(initializers.full(shape, 1, dtype)) if affine else None
        self.bias = Parameter(initializers.full(shape, 0, dtype)) if affine else None
        self.running_mean = initializers.full(shape, 0, dtype)
        self.running_var = initializers.full(shape, 1, dtype)
        self.num_batches_tracked = initializers.full((), 0, np.int64)
        self._cache: tuple[FloatArray, FloatArray] | None = None

    @property
    @abstractmethod
    def input_shapes(self) -> tuple[str, ...]:
        """The input shapes accepted, as messages show them, e.g. ``("(N, C)",)``."""

    def _check_input(self, x: FloatArray) -> None:
        """``x`` must be a float array of an accepted shape with C channels, the layer's dtype."""
        validation.float_array(self, x, dtype=self.running_mean.dtype)
        shapes = [s.replace("C", str(self.num_features)) for s in self.input_shapes]
        dims = [s.count(",") + 1 for s in shapes]
        if x.ndim not in dims or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected input of shape {' or '.join(shapes)}, got shape {x.shape}"
            )

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, C, ...) -> normalized, scaled and shifted y, same shape and dtype."""
        self._check_input(x)
        if not self.training:
            self._cache = None
            return self._inference(x)
        n = x.size // self.num_features
        if n < 2:
            raise ValueError(
                f"{self!r}: training needs more than one value per channel to take batch "
                f"statistics, got input of shape {x.shape}; call eval() to use the running ones"
            )
        axes = (0, *range(2, x.ndim))
        # sum / n, not mean(): numpy's mean divides by an int64 count in a float64 loop
        mean: FloatArray = x.sum(axis=axes) / n
        x_hat = x - _channels(mean, x.ndim)
        var: FloatArray = _channel_dot(x_hat, x_hat) / n
        inv_std: FloatArray = 1 / np.sqrt(var + self.eps)
        x_hat *= _channels(inv_std, x.ndim)
        self._update_running(mean, var, n)
        self._cache = (x_hat, inv_std)
        if self.weight is None or self.bias is None:
            # a copy: the cache must not be an output that an in-place layer may overwrite
            out: FloatArray = x_hat.copy()
            return out
        y = x_hat * _channels(self.weight.data, x.ndim)
        y += _channels(self.bias.data, x.ndim)
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (x's shape) -> grad_x (x's shape); accumulates weight/bias grads.

        ``grad_x = weight / std * (g - mean(g) - x_hat * mean(g * x_hat))``, means over
        every axis but the channels: the batch statistics depend on every value, hence
        the two mean terms.
        """
        x_hat, inv_std = self.saved(self._cache)
        grad_sum, grad_dot = self._accumulate(grad_y, x_hat)
        self._cache = None  # consumed: one backward per forward
        n, ndim = x_hat.size // self.num_features, x_hat.ndim
        grad_x: FloatArray = x_hat * _channels(grad_dot / n, ndim)
        grad_x += _channels(grad_sum / n, ndim)
        np.subtract(grad_y, grad_x, out=grad_x)
        scale = inv_std if self.weight is None else inv_std * self.weight.data
        grad_x *= _channels(scale, ndim)
        return grad_x

    def backward_params(self, grad_y: FloatArray) -> None:
        """Accumulate ``weight.grad += sum(grad_y * x_hat)`` and ``bias.grad += sum(grad_y)``."""
        x_hat, _ = self.saved(self._cache)
        self._accumulate(grad_y, x_hat)
        self._cache = None

    def _accumulate(self, grad_y: FloatArray, x_hat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Check grad_y; return its per-channel sums and those of grad_y * x_hat, adding
        them into bias.grad and weight.grad."""
        validation.same_shape(self, grad_y, x_hat.shape, "grad_y")
        grad_sum: FloatArray = grad_y.sum(axis=(0, *range(2, grad_y.ndim)))
        grad_dot = _channel_dot(grad_y, x_hat)
        if self.weight is not None and self.bias is not None:
            self.weight.grad += grad_dot
            self.bias.grad += grad_sum
        return grad_sum, grad_dot

    def _inference(self, x: FloatArray) -> FloatArray:
        """``x * scale + shift`` with the running statistics folded into two vectors."""
        scale: FloatArray = 1 / np.sqrt(self.running_var + self.eps)
        if self.weight is not None:
            scale *= self.weight.data
        shift = self.running_mean * -scale
        if self.bias is not None:
            shift += self.bias.data
        y = x * _channels(scale, x.ndim)
        y += _channels(shift, x.ndim)
        return y

    def _update_running(self, mean: FloatArray, var: FloatArray, n: int) -> None:
        """Count the batch and move the running statistics towards its, in place."""
        self.num_batches_tracked += 1
        m = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mean
        self.running_var *= 1 - m
        self.running_var += (m * n / (n - 1)) * var

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"
        )

    def config(self) -> dict[str, Any]:
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
        }


def _channels(values: FloatArray, ndim: int) -> FloatArray:
    """A (C,) vector shaped to broadcast along axis 1 of an ``ndim``-D batch."""
    shaped: FloatArray = values.reshape(values.shape[0], *(1,) * (ndim - 2))
    return shaped


def _channel_dot(a: FloatArray, b: FloatArray) -> FloatArray:
    """``sum(a * b)`` over every axis but 1, per channel, without a temporary array."""
    axes = _AXES[: a.ndim]
    dot: FloatArray = np.einsum(f"{axes},{axes}->{axes[1]}", a, b)
    return dot


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) features or (N, C, L) sequences: PyTorch's
    ``BatchNorm1d``. Statistics per channel C, over N (and L). See ``_BatchNorm``."""

    input_shapes = ("(N, C)", "(N, C, L)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images: PyTorch's ``BatchNorm2d``. Statistics
    per channel C, over N, H and W. See ``_BatchNorm``."""

    input_shapes = ("(N, C, H, W)",)


class Normalization(Layer):
    """Standardize each feature with statistics of the training data: Keras's
    ``Normalization``, scikit-learn's ``StandardScaler`` as a layer.

    ``adapt(x)`` sets ``mean`` and ``variance`` (buffers, saved and loaded with the
    model) from x (N, ..., num_features), per feature of the last axis; the layer then
    maps x to ``(x - mean) / std``, std the population standard deviation (a constant
    feature is only centred, as StandardScaler does), so ``predict`` on raw rows is right.
    Before ``adapt`` it is the identity. Shapes: (N, ..., num_features), unchanged;
    dtype ``dtype``. No trainable parameters: backward is ``grad_y / std``.
    """

    buffer_names = ("mean", "variance")

    def __init__(self, num_features: int, *, dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        self.num_features = validation.positive_int("Normalization", "num_features", num_features)
        self.mean = initializers.full((self.num_features,), 0, dtype)
        self.variance = initializers.full((self.num_features,), 1, dtype)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The dtype of the statistics, what inputs must have."""
        return self.mean.dtype

    def adapt(self, x: FloatArray) -> Normalization:
        """Take the mean and variance of each feature of ``x`` (N, ..., num_features),
        computed in float64; return self."""
        self.check_input(x)
        rows = np.asarray(x, np.float64).reshape(-1, self.num_features)
        if rows.shape[0] == 0 or not np.isfinite(rows).all():
            raise ValueError(f"{self!r}: adapt needs finite samples, got shape {x.shape}")
        self.mean[...] = rows.mean(axis=0)
        self.variance[...] = rows.var(axis=0)
        return self

    def check_input(self, x: FloatArray) -> None:
        """A float array (N, ..., num_features) of the statistics' dtype."""
        validation.float_array(self, x, last=self.num_features, dtype=self.mean.dtype)

    def scale(self) -> FloatArray:
        """1 / std per feature (1 where std is 0), in the statistics' dtype."""
        std = np.sqrt(self.variance)
        return np.where(std > 0, 1 / np.where(std > 0, std, 1), 1).astype(self.mean.dtype)

    def forward(self, x: FloatArray) -> FloatArray:
        """x -> (x - mean) / std, feature by feature."""
        y: FloatArray = (x - self.mean) * self.scale()
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y -> grad_y / std (the statistics are constants)."""
        grad_x: FloatArray = grad_y * self.scale()
        return grad_x

    def extra_repr(self) -> str:
        return str(self.num_features)
