"""Where a text model's training step spends its time, layer by layer.

    OPENBLAS_NUM_THREADS=1 PYTHONPATH=. python scripts/profile_text_step.py models/char_gpt.py

Runs `benchmarks.layer_profile.profile_steps` (every leaf layer's ``forward``,
``backward`` and ``backward_params`` timed) for ``--steps`` steps on one random batch
of the recipe's shape and prints milliseconds per step by part and by layer class. The
benchmark suite's ``sequence`` section reports the same split.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.layer_profile import profile_steps
from tinynet.modelfile import import_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_file")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    module = import_path(args.model_file)
    model, recipe = module.build(0), module.TEXT_RECIPE
    rng = np.random.default_rng(0)
    x, y = (rng.integers(0, 65, (recipe.batch_size, recipe.context)) for _ in range(2))
    result = profile_steps(model, recipe.make_optimizer(model), [(x, y)], args.steps)
    print(f"step {result['step_ms']:.1f} ms")
    for name, ms in result["parts"].items():
        print(f"  {name:10s} {ms:8.2f} ms")
    for row in result["layers"]:
        print(f"  {row['layer']:20s} {row['method']:16s} {row['ms']:8.2f} ms")


if __name__ == "__main__":
    main()
