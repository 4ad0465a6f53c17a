"""Write your own layers: an activation and a layer with a parameter, checked and trained.

    python examples/custom_layer.py

1. `Softplus` subclasses `Activation`: write the function and its derivative.
2. `Scale` subclasses `Layer`: a learned per-feature scale ``y = x * scale``.
3. `tinynet.gradcheck` compares each backward with finite differences (float64).
4. Both go into a `Sequential` that learns to tell two interleaved spirals apart.
5. The trained model is saved and loaded back: a layer registers itself when defined,
   and its configuration is read from its constructor's arguments.

Runs offline in a few seconds; see docs/custom_layers.md for the rules behind each line.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

import tinynet
from tinynet import (
    Activation,
    CrossEntropyLoss,
    Dense,
    Layer,
    Parameter,
    Sequential,
    gradcheck,
    validation,
)
from tinynet.optim import Adam
from tinynet.typing import DTypeLike, FloatArray


class Softplus(Activation):
    """``log(1 + exp(x))``, a smooth ReLU. Shapes and dtype: any, unchanged.

    Its derivative ``sigmoid(x)`` equals ``1 - exp(-y)``, so the output is what backward
    keeps (``saves_output = True``, the default).
    """

    def function(self, x: FloatArray) -> FloatArray:
        return np.logaddexp(0, x)  # log(exp(0) + exp(x)) without overflow

    def derivative(self, grad_y: FloatArray, saved: FloatArray) -> FloatArray:
        return grad_y * -np.expm1(-saved)  # 1 - exp(-y), exact even where y is tiny


class Scale(Layer):
    """``y = x * scale``, one learned factor per feature, starting at 1.

    x (N, features) -> y (N, features); ``scale`` (features,). dtype: ``dtype``.
    """

    def __init__(self, features: int, *, dtype: DTypeLike = np.float32) -> None:
        super().__init__()
        self.features = features
        self.scale = Parameter(np.ones(features, dtype))  # found by attribute: named "scale"
        self._x: FloatArray | None = None

    def check_input(self, x: FloatArray) -> None:
        # run when the layer is called, and once per input shape inside a container
        validation.float_array(self, x, ndim=2, last=self.features, dtype=self.scale.dtype)

    def forward(self, x: FloatArray) -> FloatArray:
        self._x = x if self.training else None  # keep what backward needs, only when training
        return x * self.scale.data

    def backward(self, grad_y: FloatArray) -> FloatArray:
        x = self.saved(self._x)  # raises a clear error if there was no training forward
        self._x = None  # consumed: a second backward needs a new forward
        self.scale.grad += (grad_y * x).sum(axis=0)  # accumulate; sum over the batch
        return grad_y * self.scale.data

    def extra_repr(self) -> str:
        return str(self.features)


def spirals(n: int, rng: np.random.Generator) -> tuple[FloatArray, np.ndarray[Any, Any]]:
    """Two interleaved spirals in the plane: points (n, 2) float32 and labels (n,) in {0, 1}."""
    labels = rng.integers(0, 2, n)
    t = rng.uniform(0.25, 1.0, n) * 3 * np.pi
    angle = t + np.pi * labels
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) / (3 * np.pi)
    points += rng.normal(0, 0.02, points.shape)
    return points.astype(np.float32), labels


def check_gradients(rng: np.random.Generator) -> None:
    """Finite differences in float64 against each layer's backward; raises if they differ."""
    x = rng.standard_normal((4, 3))
    scale = Scale(3, dtype=np.float64)
    scale.scale.data[:] = rng.standard_normal(3)  # away from 1, where a missing factor hides
    for layer in (Softplus(), scale):
        error = gradcheck(layer, x)
        print(f"gradcheck passed: {layer!r} (max relative error {error:.1e})")


def main() -> None:
    rng = np.random.default_rng(0)
    check_gradients(rng)

    x, y = spirals(512, rng)
    model = Sequential(
        Dense(2, 64, rng=rng),
        Softplus(),
        Scale(64),
        Dense(64, 64, rng=rng),
        Softplus(),
        Dense(64, 2, rng=rng),
    )
    print(model)
    loss_fn = CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=0.01)
    losses = []
    for step in range(400):
        batch = rng.choice(len(x), 64, replace=False)
        losses.append(loss_fn(model(x[batch]), y[batch]))
        model.backward(loss_fn.backward())
        optimizer.step()
        optimizer.zero_grad()
        if step % 100 == 0:
            print(f"step {step:3d}  loss {losses[-1]:.4f}")

    model.eval()
    accuracy = float((model(x).argmax(axis=1) == y).mean())
    first, last = np.mean(losses[:20]), np.mean(losses[-20:])
    verdict = "loss decreased" if last < first else "loss did NOT decrease"
    print(f"{verdict}: {first:.4f} -> {last:.4f} (mean of the first and last 20 steps)")
    print(f"training accuracy {accuracy:.1%}")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spirals.npz"
        tinynet.save(model, path)  # weights + architecture; Softplus/Scale by registered name
        loaded = tinynet.load(path)  # rebuilt without this file's build code
        same = np.array_equal(loaded(x), model(x))
    print(f"saved and loaded: {'same predictions' if same else 'DIFFERENT predictions'}")


if __name__ == "__main__":
    main()
