"""A plain NumPy MLP with Adam, written as the from-scratch tutorials write it.

No tinynet inside and no tricks: lists of weight matrices, ``@`` for every product,
softmax and its cross-entropy gradient by hand, Adam with bias correction in a loop
over the parameters. It allocates new arrays freely, as such code does. This is the
"simple code" baseline of docs/seeds.md (a hand-written float32 Adam loop).
"""

from __future__ import annotations

import numpy as np

from benchmarks.nets import DenseWeights
from benchmarks.timing import BatchCursor, timed
from tinynet.typing import FloatArray, IntArray


class NumpyMLP:
    """ReLU MLP (copies of ``weights``) trained with Adam on softmax cross-entropy."""

    def __init__(
        self,
        weights: list[DenseWeights],
        lr: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.W = [w.weight.copy() for w in weights]
        self.b = [w.bias.copy() for w in weights]
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.v = [np.zeros_like(p) for p in self.W + self.b]
        self.t = 0

    def forward(self, x: FloatArray) -> tuple[FloatArray, list[FloatArray]]:
        """Logits of ``x`` and the input of every layer (for backprop)."""
        inputs = []
        h = x
        for i in range(len(self.W)):
            inputs.append(h)
            h = h @ self.W[i] + self.b[i]
            if i < len(self.W) - 1:
                h = np.maximum(h, 0)
        return h, inputs

    def train_step(self, x: FloatArray, y: IntArray) -> tuple[float, FloatArray]:
        """One Adam step on the batch; returns the batch's mean loss and its logits."""
        logits, inputs = self.forward(x)
        n = len(y)
        shifted = logits - logits.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        sums = exp.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(sums[:, 0]) - shifted[np.arange(n), y]))
        grad = exp / sums
        grad[np.arange(n), y] -= 1
        grad /= n
        grads_w: list[FloatArray] = [grad] * len(self.W)
        grads_b: list[FloatArray] = [grad] * len(self.W)
        for i in reversed(range(len(self.W))):
            grads_w[i] = inputs[i].T @ grad
            grads_b[i] = grad.sum(axis=0)
            if i > 0:
                grad = (grad @ self.W[i].T) * (inputs[i] > 0)
        self.adam(grads_w + grads_b)
        return loss, logits

    def adam(self, grads: list[FloatArray]) -> None:
        """Adam with bias correction, eps after the square root (as torch.optim.Adam)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        for p, g, m, v in zip(self.W + self.b, grads, self.m, self.v, strict=True):
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1**self.t)
            v_hat = v / (1 - b2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)

    def predict(self, x: FloatArray) -> IntArray:
        """Predicted labels of ``x``."""
        labels: IntArray = self.forward(x)[0].argmax(axis=1)
        return labels

    def labels(self, x: FloatArray) -> IntArray:
        """Same as `predict` (the name every contender shares)."""
        return self.predict(x)

    def accuracy(self, x: FloatArray, y: IntArray) -> float:
        """Fraction of ``x`` classified as ``y``."""
        return float(np.mean(self.predict(x) == y))


class NumpySteps(NumpyMLP):
    """The bare step loop over consecutive batches of pre-shuffled arrays."""

    def __init__(
        self, weights: list[DenseWeights], x: FloatArray, y: IntArray, batch: int, lr: float = 1e-3
    ) -> None:
        super().__init__(weights, lr)
        self.x, self.y = x, y
        self.cursor = BatchCursor(len(x), batch)

    def steps(self, n: int) -> float:
        """Run ``n`` steps; return their seconds."""
        starts = self.cursor.take(n)
        b = self.cursor.batch

        def run() -> None:
            for i in starts:
                self.train_step(self.x[i : i + b], self.y[i : i + b])

        return timed(run)


class NumpyEpochs(NumpyMLP):
    """A tutorial's epoch: shuffle with the seeded generator, slice batches, count hits.

    The permutation comes from ``numpy.random.default_rng(seed)`` as in tinynet's
    `DataLoader`, so the batches match tinynet's and torch's.
    """

    def __init__(
        self,
        weights: list[DenseWeights],
        x: FloatArray,
        y: IntArray,
        batch: int,
        seed: int,
        lr: float = 1e-3,
    ) -> None:
        super().__init__(weights, lr)
        self.x, self.y, self.batch = x, y, batch
        self.rng = np.random.default_rng(seed)
        self.logs: dict[str, float] = {}

    def epoch(self) -> float:
        """Train one epoch; return its seconds (``logs`` gets its loss and accuracy)."""
        return timed(self._epoch)

    def _epoch(self) -> None:
        n = len(self.x)
        order = self.rng.permutation(n)
        loss_sum, correct = 0.0, 0
        for start in range(0, n, self.batch):
            index = order[start : start + self.batch]
            x, y = self.x[index], self.y[index]
            loss, logits = self.train_step(x, y)
            loss_sum += loss * len(index)
            correct += int(np.count_nonzero(logits.argmax(axis=1) == y))
        self.logs = {"loss": loss_sum / n, "accuracy": correct / n}


class NumpyInference:
    """Labels for a whole test set, one batch."""

    def __init__(self, weights: list[DenseWeights], x: FloatArray) -> None:
        self.mlp = NumpyMLP(weights)
        self.x = x

    def steps(self, n: int) -> float:
        """Predict the set ``n`` times; return the seconds."""

        def run() -> None:
            for _ in range(n):
                self.mlp.predict(self.x)

        return timed(run)
