"""tinynet's side of the timed loops, and the GEMM ceiling they are held against.

Each runner has ``steps(n) -> seconds``: it runs ``n`` more steps (or calls) and
returns the time they took, so `benchmarks.timing` can alternate it with the peers'.
Step runners slice consecutive batches out of pre-shuffled arrays
(`benchmarks.data.batch_order`) with a `benchmarks.timing.BatchCursor`, as the peers'
do, and wrap around at the end: no gathering is timed.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from benchmarks.nets import gemm_shapes
from benchmarks.timing import BatchCursor, timed
from tinynet import CrossEntropyLoss
from tinynet.layers.base import Layer
from tinynet.lm import forward_tokens
from tinynet.optim import Adam, Optimizer
from tinynet.train import predict
from tinynet.typing import FloatArray, IntArray


class TinynetSteps:
    """tinynet's bare training step: forward, loss, zero_grad, backward_params, Adam."""

    def __init__(
        self, model: Layer, x: FloatArray, y: IntArray, batch: int, lr: float = 1e-3
    ) -> None:
        self.model = model.train()
        self.loss = CrossEntropyLoss()
        self.optimizer = Adam(model.parameters(), lr=lr)
        self.x, self.y = x, y
        self.cursor = BatchCursor(len(x), batch)

    def steps(self, n: int) -> float:
        """Run ``n`` steps; return their seconds."""
        starts = self.cursor.take(n)
        return timed(lambda: self._run(starts))

    def _run(self, starts: list[int]) -> None:
        model, loss, optimizer = self.model, self.loss, self.optimizer
        x, y, b = self.x, self.y, self.cursor.batch
        for i in starts:
            out = model.forward(x[i : i + b])
            loss.forward(out, y[i : i + b])
            optimizer.zero_grad()
            model.backward_params(loss.backward())
            optimizer.step()


class TinynetInference:
    """Labels for a whole test set: `tinynet.train.predict` (``forward_only=False``) or a
    bare ``model.forward(x).argmax(1)`` in inference mode (``forward_only=True``)."""

    def __init__(self, model: Layer, x: FloatArray, *, forward_only: bool = False) -> None:
        self.model, self.x, self.forward_only = model, x, forward_only

    def steps(self, n: int) -> float:
        """Predict the whole set ``n`` times; return the seconds."""
        return timed(lambda: self._run(n))

    def _run(self, n: int) -> None:
        if not self.forward_only:
            for _ in range(n):
                predict(self.model, self.x, loss="cross_entropy")
            return
        self.model.eval()
        try:
            for _ in range(n):
                self.model.forward(self.x).argmax(axis=1)
        finally:
            self.model.train()


class GemmCeiling:
    """The matrix products of one training step alone: ``np.matmul(a, b, out=c)``.

    Same shapes, memory layouts (``x.T @ grad_y`` reads a transposed view, as a Dense
    layer does) and BLAS threads as a real step, on preallocated operands; nothing else
    (no bias, activation, loss or optimizer). The first layer's input gradient is left
    out, as in tinynet's and torch's steps. A step can be no faster than this.
    """

    def __init__(self, sizes: tuple[int, ...], batch: int, dtype: str, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)

        def operand(rows: int, cols: int) -> FloatArray:
            return (rng.standard_normal((rows, cols)) * 0.1).astype(dtype)

        pairs = list(itertools.pairwise(sizes))
        activations = [operand(batch, fan_in) for fan_in, _ in pairs]
        grads_out = [operand(batch, fan_out) for _, fan_out in pairs]
        weights = [operand(fan_in, fan_out) for fan_in, fan_out in pairs]
        self.products: list[tuple[FloatArray, FloatArray, FloatArray]] = []
        for i, (_, fan_out) in enumerate(pairs):  # forward: x @ W
            self.products.append((activations[i], weights[i], np.empty((batch, fan_out), dtype)))
        for i in reversed(range(len(pairs))):
            fan_in, fan_out = pairs[i]
            dw = np.empty((fan_in, fan_out), dtype)
            self.products.append((activations[i].T, grads_out[i], dw))  # x.T @ grad_y
            if i:
                dx = np.empty((batch, fan_in), dtype)
                self.products.append((grads_out[i], weights[i].T, dx))  # grad_y @ W.T
        got = [(a.shape[0], a.shape[1], b.shape[1]) for a, b, _ in self.products]
        if got != gemm_shapes(sizes, batch):
            raise AssertionError(f"GemmCeiling: shapes {got} differ from gemm_shapes")

    def steps(self, n: int) -> float:
        """Run ``n`` steps' worth of products; return their seconds."""
        return products_seconds(self.products, n)


def products_seconds(products: list[tuple[FloatArray, FloatArray, FloatArray]], n: int) -> float:
    """Seconds of ``n`` rounds of ``np.matmul(a, b, out=c)`` over every (a, b, c)."""
    start = time.perf_counter()
    for _ in range(n):
        for a, b, c in products:
            np.matmul(a, b, out=c)
    return time.perf_counter() - start


class TinynetTextSteps:
    """tinynet's bare text step: forward on int64 tokens (N, T), cross-entropy over the
    (N, T, vocab) logits, zero_grad, backward_params, ``optimizer``'s update (no clipping
    or schedule). Batches are rows of the (windows, T) arrays ``x`` and ``y``."""

    def __init__(
        self, model: Layer, optimizer: Optimizer, x: IntArray, y: IntArray, batch: int
    ) -> None:
        self.model, self.optimizer = model.train(), optimizer
        self.loss = CrossEntropyLoss()
        self.x, self.y = x, y
        self.cursor = BatchCursor(len(x), batch)

    def step(self, start: int) -> float:
        """One step on the batch of rows from ``start``; its loss."""
        b = self.cursor.batch
        value = self.loss.forward(
            forward_tokens(self.model, self.x[start : start + b]), self.y[start : start + b]
        )
        self.optimizer.zero_grad()
        self.model.backward_params(self.loss.backward())
        self.optimizer.step()
        return value

    def steps(self, n: int) -> float:
        """Run ``n`` steps; return their seconds."""
        starts = self.cursor.take(n)
        return timed(lambda: [self.step(i) for i in starts])
