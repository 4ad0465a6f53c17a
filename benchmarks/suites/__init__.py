"""The sections of a suite run, one module each; each returns a JSON-ready dict.

- `throughput`: bare training steps (with the GEMM ceiling) and inference, per dtype
  and batch size, for tinynet and the peers.
- `epochs`: whole training epochs (shuffling, batching, metrics) and the final test
  accuracy after the same epochs.
- `time_to_accuracy`: training seconds until the test accuracy reaches each target.
- `scaling`: step time against batch size and hidden width, with FLOPs.
- `memory`: peak RSS of a full training run, measured in a subprocess.
- `dtypes`: the recipe trained in float32 and float64.
"""

SECTIONS = (
    "step",
    "inference",
    "epochs",
    "time_to_accuracy",
    "scaling",
    "memory",
    "dtypes",
)
"""Section names, in the order a run measures them (``--sections`` picks some)."""
