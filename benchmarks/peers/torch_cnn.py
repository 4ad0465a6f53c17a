"""PyTorch CPU: the same convolutional net, initial weights, batches and optimizer as tinynet's.

Each tinynet layer of a flat `tinynet.Sequential` becomes its ``torch.nn`` twin built
from the layer's own ``config()`` (its arguments are PyTorch's: ``Conv2d``,
``MaxPool2d``, ``AvgPool2d``, ``BatchNorm2d``, ``Dropout``, ``ReLU(inplace)``, ``Tanh``,
``Flatten``; a `Dense` is an ``nn.Linear``), and the weights and BatchNorm buffers are
loaded strictly from tinynet's state dict (Linear weights transposed). Training is the
loop every PyTorch tutorial writes, with ``torch.optim.Adam``'s defaults; inference runs
in ``inference_mode`` in batches of 1,024, as `tinynet.inference.predict` does. Inputs
are ``torch.from_numpy`` views of the same (N, 1, 28, 28) arrays: no copy is timed.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from benchmarks.peers.torch_mlp import StepLoop
from benchmarks.timing import BatchCursor, timed
from tinynet.containers import Sequential
from tinynet.io.safetensors_format import to_torch_layout
from tinynet.layers.base import Layer
from tinynet.typing import FloatArray, IntArray

TWINS: dict[str, type[nn.Module]] = {
    "Conv2d": nn.Conv2d,
    "MaxPool2d": nn.MaxPool2d,
    "AvgPool2d": nn.AvgPool2d,
    "BatchNorm2d": nn.BatchNorm2d,
    "Dropout": nn.Dropout,
    "ReLU": nn.ReLU,
    "Tanh": nn.Tanh,
    "Flatten": nn.Flatten,
    "Dense": nn.Linear,
}
"""tinynet layer class name -> the ``torch.nn`` module built from its ``config()``."""

INFERENCE_BATCH = 1024


def twin(layer: Layer) -> nn.Module:
    """The ``torch.nn`` module of the same class and arguments as ``layer``."""
    name = type(layer).__name__
    if name not in TWINS:
        raise TypeError(f"benchmarks: no torch twin for {name} (known: {', '.join(TWINS)})")
    config = {k: tuple(v) if isinstance(v, list) else v for k, v in layer.config().items()}
    module: nn.Module = TWINS[name](**config)
    return module


def build(model: Layer) -> nn.Sequential:
    """``nn.Sequential`` of the twins of ``model``'s layers, holding copies of its weights,
    buffers and dtype (``strict`` loading: every name and shape must match)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"benchmarks: expected a flat tinynet Sequential, got {model!r}")
    net = nn.Sequential(*(twin(layer) for layer in model))
    state = {
        name: torch.from_numpy(np.ascontiguousarray(array))
        for name, array in to_torch_layout(model).items()
    }
    net = net.to(state[next(iter(state))].dtype)
    net.load_state_dict(state, strict=True)
    return net


class TorchCNN:
    """A PyTorch copy of a tinynet CNN with ``torch.optim.Adam`` (its defaults but ``lr``)."""

    def __init__(self, model: Layer, lr: float = 1e-3) -> None:
        self.model = build(model)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.loss = nn.CrossEntropyLoss()

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        """Labels of ``x`` in inference mode, ``INFERENCE_BATCH`` images at a time."""
        self.model.eval()
        with torch.inference_mode():
            parts = [
                self.model(x[i : i + INFERENCE_BATCH]).argmax(dim=1)
                for i in range(0, x.shape[0], INFERENCE_BATCH)
            ]
        self.model.train()
        return torch.cat(parts)


class TorchCNNSteps(TorchCNN, StepLoop):
    """The MLP's bare step loop (`benchmarks.peers.torch_mlp.StepLoop`) on images."""

    def __init__(
        self, model: Layer, x: FloatArray, y: IntArray, batch: int, lr: float = 1e-3
    ) -> None:
        super().__init__(model, lr)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.cursor = BatchCursor(len(x), batch)


class TorchCNNInference:
    """Labels for a whole test set per call."""

    def __init__(self, model: Layer, x: FloatArray) -> None:
        self.net = TorchCNN(model)
        self.x = torch.from_numpy(x)

    def steps(self, n: int) -> float:
        """Label the set ``n`` times; return the seconds."""

        def run() -> None:
            for _ in range(n):
                self.net.labels(self.x)

        return timed(run)


class TorchCNNEpochs(TorchCNN):
    """Ordinary epochs (shuffle by ``numpy.random.default_rng(seed)``, index, step), for
    the memory probe."""

    def __init__(self, model: Layer, x: FloatArray, y: IntArray, batch: int, seed: int, lr: float):
        super().__init__(model, lr)
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)
        self.batch, self.rng = batch, np.random.default_rng(seed)

    def epoch(self) -> None:
        """Train one epoch."""
        order = torch.from_numpy(self.rng.permutation(self.x.shape[0]))
        for start in range(0, self.x.shape[0], self.batch):
            index = order[start : start + self.batch]
            loss = self.loss(self.model(self.x[index]), self.y[index])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
