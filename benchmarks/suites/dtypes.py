"""float32 against float64: the recipe trained in each dtype, test accuracy and time.

Same seed, so the same initial weights (drawn in float64, rounded to float32 for the
float32 run) and the same batches; the only difference is the arithmetic.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.context import Context


def run(ctx: Context) -> dict[str, Any]:
    """Train the model file's net with its recipe in every dtype of the settings."""
    settings = ctx.settings
    recipe = ctx.model_file.recipe
    epochs = settings.dtype_epochs or recipe.epochs
    results = []
    for dtype in settings.dtypes:
        x_train, x_test = ctx.data.as_dtype(dtype)
        model = ctx.model_file.build(settings.seed).astype(dtype)
        history = recipe.fit(
            model, x_train, ctx.data.y_train, seed=settings.seed, epochs=epochs, verbose=0
        )
        scores = recipe.evaluate(model, x_test, ctx.data.y_test)
        seconds = history["seconds"]
        row: dict[str, Any] = {
            "dtype": dtype,
            "epochs": len(history.epoch),
            "test_accuracy": scores["accuracy"],
            "test_loss": scores["loss"],
            "train_seconds": sum(seconds),
            "median_epoch_seconds": statistics.median(seconds),
            "samples_per_second": len(x_train) / statistics.median(seconds),
        }
        results.append(row)
        ctx.log(
            f"dtype {dtype}: test accuracy {100 * row['test_accuracy']:.2f}% after {epochs} "
            f"epochs, {row['median_epoch_seconds']:.2f} s/epoch"
        )
    return {
        "description": "the recipe trained in each dtype from the same seed; not alternated "
        "(one run each), so the epoch times are indicative only",
        "epochs": epochs,
        "runs": results,
    }
