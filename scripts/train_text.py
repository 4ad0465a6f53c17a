"""Train a text model file (``build(seed)`` and ``TEXT_RECIPE``) and report what it scores.

    PYTHONPATH=. python scripts/train_text.py models/char_gpt.py --seed 0 \
        --save char_gpt.npz --json char_gpt.json

Loads ``--data`` (default: tiny-shakespeare, from ``data/``), trains with
`tinynet.lm.train_lm`, prints the held-out loss over the whole last 10% of the text
and a generated sample, and saves the model with its vocabulary as metadata. A
stand-in for ``tinynet train MODEL --data input.txt`` until the CLI reads text.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import tinynet
from tinynet.datasets.text import load_text
from tinynet.generate import generate
from tinynet.lm import TextRecipe, heldout_loss, train_lm
from tinynet.modelfile import import_path


def smooth_loss(losses: list[float], context: int, vocab_size: int) -> dict[int, float]:
    """min-char-rnn's running figure every 1,000 iterations: the loss summed over a
    chunk (mean * context), smoothed ``s = 0.999 s + 0.001 loss`` from ``context * ln V``."""
    smooth, shown = context * math.log(vocab_size), {}
    for i, value in enumerate(losses):
        smooth = 0.999 * smooth + 0.001 * value * context
        if (i + 1) % 1000 == 0 or i + 1 == len(losses):
            shown[i + 1] = smooth
    return shown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--data", default=None, help="a UTF-8 text file (default: tiny-shakespeare)"
    )
    parser.add_argument("--recipe", default=None, help="a name in the file's TEXT_RECIPES")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--save", default=None, help="write the trained model here (.npz)")
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--prompt", default="\n")
    args = parser.parse_args()
    module = import_path(args.model_file)
    recipe: TextRecipe = module.TEXT_RECIPE
    if args.recipe is not None:
        recipes = getattr(module, "TEXT_RECIPES", {})
        if args.recipe not in recipes:
            parser.error(f"{args.model_file} has no recipe {args.recipe!r}: {', '.join(recipes)}")
        recipe = recipes[args.recipe]
    if args.iterations is not None:
        recipe = replace(recipe, iterations=args.iterations)
    splits = load_text(args.data or recipe.data, context=recipe.context)
    model = module.build(args.seed, splits.vocab.size)
    result = train_lm(
        model, splits, recipe, seed=args.seed, log=lambda line: print(line, flush=True)
    )
    start = time.perf_counter()
    test_loss = heldout_loss(model, splits.val, recipe.context, carry=recipe.sequential)
    print(f"held-out loss {test_loss:.4f} ({time.perf_counter() - start:.1f} s to compute)")
    sample = generate(model, splits.vocab, args.prompt, 200, seed=args.seed)
    print("sample:\n" + sample)
    if args.save:
        tinynet.save(model, args.save, metadata={**splits.vocab.to_metadata(), "seed": args.seed})
    figures = {
        "model_file": Path(args.model_file).name,
        "seed": args.seed,
        "recipe_name": args.recipe,
        "recipe": recipe.to_dict(),
        "test_loss": test_loss,
        "train_seconds": result.seconds,
        "history": result.history,
        "smooth_loss": smooth_loss(result.losses, recipe.context, splits.vocab.size),
        "sample": sample,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
