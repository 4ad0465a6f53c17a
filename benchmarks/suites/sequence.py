"""Text models: char_gpt's and char_lstm's training steps against PyTorch, memory, profile.

For each text model file (`TEXT_MODELS`), one alternating comparison of bare training
steps (forward, cross-entropy over (N, T, vocab), backward, the recipe's AdamW; no
clipping or schedule) between tinynet and `tinynet.io.to_torch` of the same model in
PyTorch (`benchmarks.peers.torch_sequence`): the same weights, the same batches of
tiny-shakespeare windows (the recipe's batch and context, float32). Speeds are tokens
(batch x context) per second. Both first compute the loss of the first batch before
training: the same figure, the evidence that they are one model. Then where
tinynet's step goes (`benchmarks.layer_profile`, on a copy) and the peak RSS of
``sequence_memory_steps`` steps in a fresh process (`benchmarks.memory_probe`).
"""

from __future__ import annotations

from typing import Any

from benchmarks import loops
from benchmarks.context import Context
from benchmarks.formatting import summary_line
from benchmarks.layer_profile import profile_steps
from benchmarks.nets import MODELS
from benchmarks.suites.memory import MIB, probe
from benchmarks.timing import Runner, alternate, calibrate_steps, step_cases
from tinynet.datasets import load_text
from tinynet.datasets.text import TextWindows
from tinynet.lm import TextRecipe, forward_tokens, text_recipe
from tinynet.losses import CrossEntropyLoss
from tinynet.modelfile import import_path
from tinynet.typing import IntArray

TEXT_MODELS = ("char_gpt", "char_lstm")
"""The model files under ``models/`` this section measures."""

RATIOS = [("tinynet", "torch")]


def windows(
    recipe: TextRecipe, count: int, seed: int, tokens: IntArray | None = None
) -> tuple[IntArray, IntArray]:
    """``count`` random windows of ``tokens`` (default: tiny-shakespeare's training split):
    x and y int64 (count, recipe.context)."""
    if tokens is None:
        tokens = load_text(context=recipe.context).train
    sampler = TextWindows(tokens, recipe.context, count, seed=seed)
    return sampler.sample()


def run(ctx: Context) -> dict[str, Any]:
    """Every text model's step comparison, profile and memory."""
    comparisons, models = [], []
    for name in TEXT_MODELS:
        step = measure_step(ctx, name)
        comparisons.append(step.pop("comparison"))
        models.append({**step, "memory": measure_memory(ctx, name)})
    return {
        "description": "text models' training steps (forward + backward + AdamW), tokens/s "
        "over the median round; tinynet's step split by layer, ms; memory in bytes",
        "comparisons": comparisons,
        "models": models,
    }


def measure_step(ctx: Context, name: str) -> dict[str, Any]:
    """The alternating step comparison of one text model file, its first-batch losses
    and tinynet's per-layer profile."""
    settings = ctx.settings
    module = import_path(MODELS / f"{name}.py")
    recipe = text_recipe(module)
    assert recipe is not None, f"models/{name}.py has no TEXT_RECIPE"
    batch, tokens = recipe.batch_size, recipe.batch_size * recipe.context
    x, y = windows(recipe, settings.sequence_windows * batch, settings.seed)
    model = module.build(settings.seed)
    first = {"tinynet": CrossEntropyLoss().forward(forward_tokens(model, x[:batch]), y[:batch])}
    runners: dict[str, Runner] = {}
    if ctx.has("torch"):  # copies the initial weights before tinynet trains them
        from benchmarks.peers.torch_sequence import TorchTextSteps

        torch_steps = TorchTextSteps(model, recipe, x, y, batch)
        first["torch"] = torch_loss(torch_steps, x[:batch], y[:batch])
        runners["torch"] = torch_steps
    copy = module.build(settings.seed)
    profile = profile_steps(
        copy,
        recipe.make_optimizer(copy),
        [(x[i : i + batch], y[i : i + batch]) for i in range(0, 4 * batch, batch)],
        settings.sequence_profile_steps,
    )
    tiny = loops.TinynetTextSteps(model, recipe.make_optimizer(model), x, y, batch)
    runners = {"tinynet": tiny, **runners}
    n = calibrate_steps([r.steps for r in runners.values()], settings.round_seconds)
    title = f"sequence step {name} batch {batch} context {recipe.context}"
    comparison = alternate(
        title,
        step_cases(runners, n, tokens),
        rounds=settings.rounds,
        warmup_rounds=settings.warmup_rounds,
        params={"model": name, "kind": "step", "batch": batch, "context": recipe.context},
        settle_seconds=ctx.settle_seconds,
    )
    result = comparison.to_json(RATIOS)
    ctx.log(summary_line(title, result))
    return {
        "name": name,
        "parameters": model.num_parameters(),
        "batch": batch,
        "context": recipe.context,
        "optimizer": {"name": recipe.optimizer, **recipe.to_dict()["optimizer_args"]},
        "first_batch_loss": first,
        "profile": profile,
        "comparison": result,
    }


def torch_loss(steps: Any, x: IntArray, y: IntArray) -> float:
    """The torch model's loss on one batch, without training."""
    import torch

    with torch.no_grad():
        logits = steps.model(torch.from_numpy(x))
        return float(steps.loss(logits.flatten(0, 1), torch.from_numpy(y).flatten()))


def measure_memory(ctx: Context, name: str) -> dict[str, Any]:
    """Peak RSS of ``sequence_memory_steps`` training steps of the model file, each
    framework in a fresh process (torch if ``memory_peers``)."""
    steps, runs = ctx.settings.sequence_memory_steps, {}
    for framework in ("tinynet", "torch"):
        if framework == "torch" and not (ctx.settings.memory_peers and ctx.has("torch")):
            continue
        extra = ["--text-steps", str(steps)]
        result = probe(ctx, framework, 1, 0, MODELS / f"{name}.py", extra=extra)
        if result is None:
            continue
        runs[framework] = result
        peak, data = result["peak_rss_training"], result["rss_after_data"]
        if peak is not None and data is not None:
            ctx.log(f"memory {name} {framework}: +{(peak - data) / MIB:.0f} MiB over the data")
    return {"steps": steps, "runs": runs}


def text_steps(
    model_file: str, framework: str, steps: int, seed: int, tokens: IntArray
) -> dict[str, Any]:
    """Train a text model file for ``steps`` steps (for the memory probe): batches of
    windows of ``tokens`` (L,) are drawn first, then the model is built and trained
    with tinynet or torch."""
    module = import_path(model_file)
    recipe = text_recipe(module)
    assert recipe is not None, f"{model_file} has no TEXT_RECIPE"
    x, y = windows(recipe, recipe.batch_size * min(steps, 16), seed, tokens)
    model, batch = module.build(seed), recipe.batch_size
    runner: Runner
    if framework == "torch":  # the tinynet model it is copied from stays: a few MiB
        from benchmarks.peers.torch_sequence import TorchTextSteps

        runner = TorchTextSteps(model, recipe, x, y, batch)
    else:
        runner = loops.TinynetTextSteps(model, recipe.make_optimizer(model), x, y, batch)
    runner.steps(steps)
    return {"parameters": model.num_parameters(), "steps": steps}
