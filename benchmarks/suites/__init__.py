"""The sections of a suite run, one module each; each returns a JSON-ready dict.

- `throughput`: bare training steps (with the GEMM ceiling) and inference, per dtype
  and batch size, for tinynet and the peers.
- `epochs`: whole training epochs (shuffling, batching, metrics) and the final test
  accuracy after the same epochs.
- `time_to_accuracy`: training seconds until the test accuracy reaches each target.
- `scaling`: step time against batch size and hidden width, with FLOPs.
- `memory`: peak RSS of a full training run, measured in a subprocess.
- `dtypes`: the recipe trained in float32 and float64.
- `cnn`: LeNet-5 and mnist_cnn: training steps (with the GEMM ceiling of their im2col
  products) and inference against PyTorch, and peak memory.
- `sequence`: char_gpt and char_lstm: training steps (tokens/s) against the same model
  in PyTorch (`tinynet.io.to_torch`), tinynet's step split by layer, and peak memory.

`RUNNERS` names them: a new section is a module here and one row of that table. The
peers they compare against are imported only when a section runs with them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.context import Context
from benchmarks.suites import (
    cnn,
    dtypes,
    epochs,
    memory,
    scaling,
    sequence,
    throughput,
    time_to_accuracy,
)

RUNNERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "step": throughput.step,
    "inference": throughput.inference,
    "epochs": epochs.run,
    "time_to_accuracy": time_to_accuracy.run,
    "scaling": scaling.run,
    "memory": memory.run,
    "dtypes": dtypes.run,
    "cnn": cnn.run,
    "sequence": sequence.run,
}
"""Each section's name -> the function that measures it, in the order a run measures them."""

SECTIONS = tuple(RUNNERS)
"""Section names, in the order a run measures them (``--sections`` picks some)."""
