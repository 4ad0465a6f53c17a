"""How long and how big each mode measures: `Settings` and the three modes.

``full`` is the default and the one to quote; ``quick`` takes about a minute with one
BLAS thread (several with two threads on a busy machine); ``smoke`` runs every section at
toy sizes in seconds (for the tests).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

MODES = ("smoke", "quick", "full")


@dataclass(frozen=True)
class Settings:
    """The sizes of one run. Times are seconds; ``None`` subsets mean all the data.

    - ``rounds``/``warmup_rounds``: alternating rounds per comparison (the median is
      over ``rounds``; warm-up rounds run every case once first and are discarded).
    - ``round_seconds``: the target length of one round of one case; the number of
      steps per round is calibrated to it, the same for every case of a comparison.
    - ``train_subset``/``test_subset``: the first N MNIST images used (``None``: all).
    - ``epoch_rounds``/``epoch_subset``: epochs (one per round) and training images of
      the whole-epoch comparison, whose final test accuracy is reported too.
    - ``tta_epochs``: the most epochs the time-to-accuracy run may take.
    - ``scaling_*``: batch sizes and hidden widths W (784-W-W/2-10) of the scaling
      section, with its own number of rounds.
    - ``memory_epochs``, ``dtype_epochs``: epochs of the memory run and of the float32
      versus float64 runs (``None``: the recipe's); ``memory_peers``: whether torch's
      memory is measured too (a second subprocess, a few seconds of imports).
    - ``cnn_*``: the CNN section's batch size, test images labelled per inference call
      (``None``: all), and the epochs and training images (``None``: all) of its memory
      runs.
    - ``sequence_*``: the sequence section's batches of windows (walked in turn by
      both contenders), timed steps of its per-layer profile, and steps of its
      memory runs.
    """

    mode: str
    rounds: int
    warmup_rounds: int
    round_seconds: float
    dtypes: tuple[str, ...]
    batch_sizes: tuple[int, ...]
    train_subset: int | None
    test_subset: int | None
    epoch_rounds: int | None
    epoch_subset: int | None
    tta_epochs: int
    tta_targets: tuple[float, ...]
    scaling_batches: tuple[int, ...]
    scaling_widths: tuple[int, ...]
    scaling_batch: int
    scaling_rounds: int
    memory_epochs: int | None
    memory_peers: bool
    dtype_epochs: int | None
    cnn_batch: int = 128
    cnn_test_subset: int | None = None
    cnn_memory_train: int | None = None
    cnn_memory_epochs: int = 1
    sequence_windows: int = 16
    sequence_profile_steps: int = 20
    sequence_memory_steps: int = 50
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


SMOKE = Settings(
    mode="smoke",
    rounds=3,
    warmup_rounds=1,
    round_seconds=0.005,
    dtypes=("float32", "float64"),
    batch_sizes=(32, 128),
    train_subset=1024,
    test_subset=256,
    epoch_rounds=2,
    epoch_subset=None,
    tta_epochs=1,
    tta_targets=(0.97, 0.98),
    scaling_batches=(16, 64),
    scaling_widths=(32, 64),
    scaling_batch=32,
    scaling_rounds=3,
    memory_epochs=1,
    memory_peers=False,
    dtype_epochs=1,
    cnn_batch=32,
    cnn_test_subset=64,
    cnn_memory_train=256,
    sequence_windows=4,
    sequence_profile_steps=2,
    sequence_memory_steps=2,
)

QUICK = Settings(
    mode="quick",
    rounds=7,
    warmup_rounds=1,
    round_seconds=0.08,
    dtypes=("float32", "float64"),
    batch_sizes=(32, 128, 512),
    train_subset=None,
    test_subset=None,
    epoch_rounds=3,
    epoch_subset=20_000,
    tta_epochs=3,
    tta_targets=(0.97, 0.98),
    scaling_batches=(16, 64, 256, 1024),
    scaling_widths=(32, 128, 512, 1024),
    scaling_batch=128,
    scaling_rounds=5,
    memory_epochs=1,
    memory_peers=False,
    dtype_epochs=1,
    cnn_test_subset=512,
    cnn_memory_train=2560,
    sequence_profile_steps=5,
    sequence_memory_steps=10,
)

FULL = Settings(
    mode="full",
    rounds=11,
    warmup_rounds=1,
    round_seconds=0.4,
    dtypes=("float32", "float64"),
    batch_sizes=(32, 128, 512),
    train_subset=None,
    test_subset=None,
    epoch_rounds=None,
    epoch_subset=None,
    tta_epochs=20,
    tta_targets=(0.97, 0.98),
    scaling_batches=(16, 32, 64, 128, 256, 512, 1024),
    scaling_widths=(32, 64, 128, 256, 512, 1024),
    scaling_batch=128,
    scaling_rounds=7,
    memory_epochs=None,
    memory_peers=True,
    dtype_epochs=None,
    cnn_memory_train=12800,
)

PRESETS = {"smoke": SMOKE, "quick": QUICK, "full": FULL}


def settings_for(mode: str, *, seed: int = 0, rounds: int | None = None) -> Settings:
    """The preset of ``mode`` (see `MODES`), with ``seed`` and optionally ``rounds`` set."""
    if mode not in PRESETS:
        raise ValueError(f"benchmarks: mode must be one of {MODES}, got {mode!r}")
    preset = replace(PRESETS[mode], seed=seed)
    if rounds is not None:
        if rounds < 1:
            raise ValueError(f"benchmarks: --rounds must be at least 1, got {rounds}")
        preset = replace(preset, rounds=rounds, scaling_rounds=rounds)
    return preset
