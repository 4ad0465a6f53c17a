"""PyTorch CPU: the same MLP, initial weights, batches and optimizer as tinynet's.

The network is rebuilt as ``nn.Sequential(nn.Linear, nn.ReLU, ...)`` with tinynet's
weights copied in (transposed: ``nn.Linear`` stores (out, in)). Training is the loop
every PyTorch tutorial writes: ``model(x)``, ``F.cross_entropy``, ``zero_grad``,
``backward``, ``torch.optim.Adam(lr=1e-3)`` with its defaults (on CPU, a Python loop
over the parameters). ``fused=True`` asks for the fused Adam kernel instead (CPU
support since torch 2.4), the fastest update torch offers. Inputs are
``torch.from_numpy`` views of the same arrays, so no copy is timed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmarks.nets import DenseWeights
from benchmarks.timing import BatchCursor, timed
from tinynet.typing import FloatArray, IntArray


def set_threads(threads: int) -> None:
    """Use ``threads`` intra-op threads (the suite passes NumPy's BLAS thread count)."""
    torch.set_num_threads(threads)


def threads() -> int:
    """torch's intra-op threads."""
    return torch.get_num_threads()


def build(weights: list[DenseWeights]) -> nn.Sequential:
    """``nn.Sequential`` of Linear/ReLU holding copies of tinynet's weights and dtype;
    each ReLU is in place where tinynet's is."""
    layers: list[nn.Module] = []
    for i, w in enumerate(weights):
        if i:
            layers.append(nn.ReLU(inplace=w.relu_before_inplace))
        fan_in, fan_out = w.weight.shape
        dtype = torch.from_numpy(w.weight).dtype
        linear = nn.Linear(fan_in, fan_out, dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.weight.T)))
            linear.bias.copy_(torch.from_numpy(w.bias))
        layers.append(linear)
    return nn.Sequential(*layers)


def fused_adam_available() -> bool:
    """Whether this torch has a fused Adam for CPU tensors."""
    try:
        torch.optim.Adam([nn.Parameter(torch.zeros(1))], fused=True)
    except (RuntimeError, TypeError, ValueError):
        return False
    return True


class TorchMLP:
    """A PyTorch copy of a tinynet MLP with its Adam optimizer (``fused`` or the default)."""

    def __init__(
        self, weights: list[DenseWeights], lr: float = 1e-3, *, fused: bool = False
    ) -> None:
        self.model = build(weights)
        parameters = self.model.parameters()
        self.optimizer = (
            torch.optim.Adam(parameters, lr=lr, fused=True)
            if fused
            else torch.optim.Adam(parameters, lr=lr)
        )
        self.loss = nn.CrossEntropyLoss()

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Labels of ``x``, in inference mode."""
        self.model.eval()
        with torch.inference_mode():
            labels: torch.Tensor = self.model(x).argmax(dim=1)
        self.model.train()
        return labels

    def labels(self, x: FloatArray) -> IntArray:
        """Predicted labels of a NumPy batch, as a NumPy array."""
        labels: IntArray = self.predict(torch.from_numpy(x)).numpy()
        return labels

    def accuracy(self, x: FloatArray, y: IntArray) -> float:
        """Fraction of ``x`` classified as ``y``."""
        return float(np.mean(self.labels(x) == y))


class StepLoop:
    """The bare step loop over consecutive batches of pre-shuffled arrays, for a class
    that sets ``model``, ``loss``, ``optimizer``, ``x``, ``y`` and ``cursor``."""

    model: nn.Sequential
    loss: nn.CrossEntropyLoss
    optimizer: torch.optim.Adam
    x: torch.Tensor
    y: torch.Tensor
    cursor: BatchCursor

    def steps(self, n: int) -> float:
        """Run ``n`` steps; return their seconds."""
        starts = self.cursor.take(n)
        return timed(lambda: self._run(starts))

    def _run(self, starts: list[int]) -> None:
        model, loss_fn, optimizer = self.model, self.loss, self.optimizer
        x, y, b = self.x, self.y, self.cursor.batch
        for i in starts:
            loss = loss_fn(model(x[i : i + b]), y[i : i + b])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


class TorchSteps(TorchMLP, StepLoop):
    """`StepLoop` on the MLP: consecutive batches of pre-shuffled arrays."""

    def __init__(
        self,
        weights: list[DenseWeights],
        x: FloatArray,
        y: IntArray,
        batch: int,
        lr: float = 1e-3,
        *,
        fused: bool = False,
    ) -> None:
        super().__init__(weights, lr, fused=fused)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.cursor = BatchCursor(len(x), batch)


class TorchEpochs(TorchMLP):
    """An ordinary PyTorch epoch: shuffle, index each batch, step, keep loss and accuracy.

    The permutation of each epoch is drawn from ``numpy.random.default_rng(seed)``,
    the generator tinynet's `DataLoader` draws from for the same seed, so both see
    the same batches in the same order. (``torch.utils.data.DataLoader`` over a
    ``TensorDataset`` gathers sample by sample and would be several times slower.)
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
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.batch = batch
        self.rng = np.random.default_rng(seed)
        self.logs: dict[str, float] = {}

    def epoch(self) -> float:
        """Train one epoch; return its seconds (``logs`` gets its loss and accuracy)."""
        return timed(self._epoch)

    def _epoch(self) -> None:
        model, loss_fn, optimizer = self.model, self.loss, self.optimizer
        model.train()
        n = self.x.shape[0]
        order = torch.from_numpy(self.rng.permutation(n))
        loss_sum, correct = 0.0, 0
        for start in range(0, n, self.batch):
            index = order[start : start + self.batch]
            x, y = self.x[index], self.y[index]
            out = model(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(index)
            correct += int((out.argmax(dim=1) == y).sum().item())
        self.logs = {"loss": loss_sum / n, "accuracy": correct / n}


class TorchInference:
    """Labels for a whole test set with ``inference_mode``, one batch."""

    def __init__(self, weights: list[DenseWeights], x: FloatArray) -> None:
        self.mlp = TorchMLP(weights)
        self.x = torch.from_numpy(x)

    def steps(self, n: int) -> float:
        """Predict the set ``n`` times; return the seconds."""

        def run() -> None:
            for _ in range(n):
                self.mlp.predict(self.x)

        return timed(run)
