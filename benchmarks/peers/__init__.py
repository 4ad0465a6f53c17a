"""Reference implementations tinynet is measured against, each optional.

- `benchmarks.peers.torch_mlp`: PyTorch CPU, the same network and initial weights,
  the same batches in the same order, ``torch.optim.Adam``.
- `benchmarks.peers.sklearn_mlp`: scikit-learn's ``MLPClassifier`` (its own
  initialization and shuffling; only the settings are matched).
- `benchmarks.peers.numpy_mlp`: a plain hand-written NumPy loop, as in the classic
  from-scratch tutorials, with no tinynet inside.

`available` tells which can be imported here; a missing one is skipped with a note.
"""

from __future__ import annotations

import importlib.util

PEERS = ("torch", "sklearn", "numpy")
MODULES = {"torch": "torch", "sklearn": "sklearn", "numpy": "numpy"}


def available(names: tuple[str, ...] | list[str] = PEERS) -> dict[str, bool]:
    """For each peer name, whether its library can be imported (without importing it)."""
    unknown = [name for name in names if name not in MODULES]
    if unknown:
        raise ValueError(f"benchmarks: unknown peers {unknown}; expected some of {list(PEERS)}")
    return {name: importlib.util.find_spec(MODULES[name]) is not None for name in names}
