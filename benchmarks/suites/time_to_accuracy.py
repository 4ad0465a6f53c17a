"""Training seconds until the test accuracy first reaches each target (97%, 98%).

The model file's recipe trains the net with the test set as validation data, so
`fit` evaluates it after every epoch; its ``seconds`` log counts training only,
evaluation excluded. The run stops once every target is reached, or after
``tta_epochs`` epochs (a target not reached by then is reported as such).
"""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context
from tinynet.callbacks import Callback, Run


def run(ctx: Context) -> dict[str, Any]:
    """Train with the recipe, epoch by epoch, until every target accuracy is reached."""
    settings = ctx.settings
    recipe = ctx.model_file.recipe
    data = ctx.data
    targets = sorted(settings.tta_targets)
    model = ctx.model_file.build(settings.seed)
    reached: dict[float, dict[str, Any]] = {}
    elapsed = 0.0

    class UntilTargets(Callback):
        def on_epoch_end(self, run: Run, logs: dict[str, float]) -> None:
            nonlocal elapsed
            elapsed += logs["seconds"]
            accuracy = logs["val_accuracy"]
            ctx.log(
                f"  epoch {run.epoch + 1}: test accuracy {100 * accuracy:.2f}%, "
                f"{elapsed:.1f} s of training so far"
            )
            for target in targets:
                if target not in reached and accuracy >= target:
                    reached[target] = {"epoch": run.epoch + 1, "seconds": elapsed}
            if len(reached) == len(targets):
                run.stop_training = True

    ctx.log(
        f"time to accuracy: {ctx.model_file.name} recipe, up to {settings.tta_epochs} epochs, "
        f"targets {', '.join(f'{100 * t:g}%' for t in targets)}"
    )
    history = recipe.fit(
        model,
        data.x_train,
        data.y_train,
        seed=settings.seed,
        epochs=settings.tta_epochs,
        validation_data=(data.x_test, data.y_test),
        callbacks=[UntilTargets()],
        verbose=0,
    )
    results = []
    for target in targets:
        hit = reached.get(target)
        results.append(
            {
                "target": target,
                "reached": hit is not None,
                "epoch": None if hit is None else hit["epoch"],
                "seconds": None if hit is None else hit["seconds"],
            }
        )
        if hit is None:
            ctx.note(
                f"time to accuracy: {100 * target:g}% not reached in "
                f"{len(history.epoch)} epochs of the {ctx.model_file.name} recipe"
            )
    return {
        "description": "training seconds (evaluation excluded) until the test accuracy, "
        "evaluated after each epoch, first reaches the target",
        "model": ctx.model_file.name,
        "recipe": recipe.to_dict(),
        "max_epochs": settings.tta_epochs,
        "epochs_run": len(history.epoch),
        "train_samples": len(data.x_train),
        "targets": results,
        "history": {
            "seconds": history["seconds"],
            "test_accuracy": history["val_accuracy"],
            "loss": history["loss"],
        },
    }
