"""`BatchNorm1d`: normalize each feature over the batch, with running statistics for inference."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinynet import validation
from tinynet.layers.base import Layer
from tinynet.parameter import Parameter
from tinynet.typing import DTypeLike, FloatArray


class BatchNorm1d(Layer):
    """Batch normalization over the batch axis of (N, C) inputs (PyTorch's ``BatchNorm1d``).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, per feature (column). In
    training mode mean and var are the batch's (the biased variance, dividing by N),
    and the running statistics move towards them:
    ``running = (1 - momentum) * running + momentum * batch``, with the unbiased variance
    (dividing by N - 1) for ``running_var``, as in PyTorch. In inference mode (``eval()``)
    the running statistics are used instead, so a single sample can be normalized.

    Shapes: x (N, num_features) -> y of the same shape and dtype; training needs N > 1
    (one sample has no variance; PyTorch refuses it too). ``weight`` (num_features,),
    initialized to 1, and ``bias`` (num_features,), initialized to 0, are trainable
    (absent when ``affine=False``). The buffers ``running_mean`` (zeros) and
    ``running_var`` (ones), both (num_features,), are updated in place and never by an
    optimizer. dtype: ``dtype`` (float32 by default); the input must match it.
    """

    buffer_names = ("running_mean", "running_var")

    weight: Parameter | None
    bias: Parameter | None
    running_mean: FloatArray
    running_var: FloatArray

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        *,
        dtype: DTypeLike = np.float32,
    ) -> None:
        super().__init__()
        if not isinstance(num_features, (int, np.integer)) or num_features < 1:
            raise ValueError(
                f"BatchNorm1d: num_features must be a positive integer, got {num_features!r}"
            )
        if not eps > 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must lie in [0, 1], got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = float(momentum)
        self.affine = bool(affine)
        shape = (self.num_features,)
        self.weight = Parameter(np.ones(shape, dtype)) if affine else None
        self.bias = Parameter(np.zeros(shape, dtype)) if affine else None
        self.running_mean = np.zeros(shape, dtype)
        self.running_var = np.ones(shape, dtype)
        self._cache: tuple[FloatArray, FloatArray] | None = None
        self.saves_output = not affine  # then forward returns the x_hat backward reads

    def forward(self, x: FloatArray) -> FloatArray:
        """x (N, num_features) -> normalized, scaled and shifted y, same shape and dtype."""
        validation.float_array(
            self, x, ndim=2, last=self.num_features, dtype=self.running_mean.dtype
        )
        if not self.training:
            self._cache = None
            return self._inference(x)
        n = x.shape[0]
        if n < 2:
            raise ValueError(
                f"{self!r}: training needs more than one sample per feature to take batch "
                f"statistics, got input of shape {x.shape}; call eval() to use the running ones"
            )
        # sum / n, not mean(): numpy's mean divides by an int64 count in a float64 loop
        mean: FloatArray = x.sum(axis=0) / n
        x_hat = x - mean
        var: FloatArray = (x_hat * x_hat).sum(axis=0) / n
        inv_std: FloatArray = 1 / np.sqrt(var + self.eps)
        x_hat *= inv_std
        self._update_running(mean, var, n)
        self._cache = (x_hat, inv_std)
        if self.weight is None or self.bias is None:
            return x_hat
        y = x_hat * self.weight.data
        y += self.bias.data
        return y

    def backward(self, grad_y: FloatArray) -> FloatArray:
        """grad_y (N, num_features) -> grad_x (N, num_features); accumulates weight/bias grads.

        ``grad_x = weight / std * (g - mean(g) - x_hat * mean(g * x_hat))``, means over
        the batch: the batch statistics depend on every sample, hence the two mean terms.
        """
        x_hat, inv_std = self.saved(self._cache)
        grad_sum, grad_dot = self._accumulate(grad_y, x_hat)
        self._cache = None  # consumed: one backward per forward
        n = x_hat.shape[0]
        grad_x: FloatArray = x_hat * (grad_dot / n)
        grad_x += grad_sum / n
        np.subtract(grad_y, grad_x, out=grad_x)
        grad_x *= inv_std if self.weight is None else inv_std * self.weight.data
        return grad_x

    def backward_params(self, grad_y: FloatArray) -> None:
        """Accumulate ``weight.grad += sum(grad_y * x_hat)`` and ``bias.grad += sum(grad_y)``."""
        x_hat, _ = self.saved(self._cache)
        self._accumulate(grad_y, x_hat)
        self._cache = None

    def _accumulate(self, grad_y: FloatArray, x_hat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Check grad_y; return its column sums and those of grad_y * x_hat, adding them
        into bias.grad and weight.grad."""
        validation.same_shape(self, grad_y, x_hat.shape, "grad_y")
        grad_sum: FloatArray = grad_y.sum(axis=0)
        grad_dot: FloatArray = np.einsum("ij,ij->j", grad_y, x_hat)
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
        y = x * scale
        y += shift
        return y

    def _update_running(self, mean: FloatArray, var: FloatArray, n: int) -> None:
        """Move the running statistics towards the batch's, in place."""
        m = self.momentum
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
