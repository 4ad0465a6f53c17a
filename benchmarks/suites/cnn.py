"""Convolutional nets: training steps, the GEMM ceiling, inference and peak memory.

For each CNN model file (`benchmarks.convnets.CNN_MODELS`: LeNet-5 and mnist_cnn), one
alternating comparison of bare training steps (forward, backward, Adam at 1e-3, batch
``cnn_batch``, float32) between tinynet, the same layers in PyTorch (same initial
weights and buffers, same pre-shuffled (N, 1, 28, 28) batches) and the step's matrix
products alone on the im2col shapes (`benchmarks.convnets.ConvGemmCeiling`); the
efficiency is the products' time over tinynet's step time. Then labels for
``cnn_test_subset`` test images per call (both in batches of 1,024), and the peak RSS
of training the model file with its own recipe in a fresh process
(`benchmarks.memory_probe`).
"""

from __future__ import annotations

from typing import Any

from benchmarks import loops
from benchmarks.context import Context
from benchmarks.convnets import ConvGemmCeiling, cnn_model_files, step_flops, step_products
from benchmarks.data import batch_order
from benchmarks.formatting import summary_line
from benchmarks.suites.memory import MIB, probe
from benchmarks.timing import Runner, alternate, calibrate_steps, step_cases
from tinynet.datasets import model_layout
from tinynet.modelfile import ModelFile

STEP_RATIOS = [("tinynet", "torch"), ("tinynet", "gemm")]
INFERENCE_RATIOS = [("tinynet", "torch")]


def run(ctx: Context) -> dict[str, Any]:
    """Every CNN model file's step, ceiling, inference and memory."""
    comparisons: list[dict[str, Any]] = []
    models = []
    for model_file in cnn_model_files():
        step = measure_step(ctx, model_file)
        inference = measure_inference(ctx, model_file)
        comparisons += [step["comparison"], inference]
        models.append(
            {
                "name": model_file.name,
                "parameters": model_file.build(0).num_parameters(),
                **{k: v for k, v in step.items() if k != "comparison"},
                "memory": measure_memory(ctx, model_file),
            }
        )
    return {
        "description": "CNN training steps (forward + backward + Adam) and inference, "
        "samples/s over the median round; memory in bytes",
        "batch": ctx.settings.cnn_batch,
        "comparisons": comparisons,
        "models": models,
    }


def measure_step(ctx: Context, model_file: ModelFile) -> dict[str, Any]:
    """The alternating step comparison of one model file, and its GEMM ceiling."""
    settings, batch = ctx.settings, ctx.settings.cnn_batch
    x, y = batch_order(ctx.data, settings.seed, "float32")
    images = model_layout(x, model_file.input_shape)
    model = model_file.build(settings.seed)
    products = step_products(model, model_file.input_shape or (), batch)
    runners: dict[str, Runner] = {}
    if ctx.has("torch"):  # copies the initial weights before tinynet trains them
        from benchmarks.peers.torch_cnn import TorchCNNSteps

        runners["torch"] = TorchCNNSteps(model, images, y, batch)
    runners = {"tinynet": loops.TinynetSteps(model, images, y, batch), **runners}
    runners["gemm"] = ConvGemmCeiling(products, "float32", settings.seed)
    n = calibrate_steps([r.steps for r in runners.values()], settings.round_seconds)
    title = f"cnn step {model_file.name} batch {batch}"
    flops = step_flops(products)
    comparison = alternate(
        title,
        step_cases(runners, n, batch),
        rounds=settings.rounds,
        warmup_rounds=settings.warmup_rounds,
        params={"model": model_file.name, "kind": "step", "batch": batch, "flops_per_step": flops},
        settle_seconds=ctx.settle_seconds,
    )
    result = comparison.to_json(STEP_RATIOS)
    ctx.log(summary_line(title, result, efficiency_of="gemm"))
    gemm, tiny = comparison["gemm"], comparison["tinynet"]
    return {
        "comparison": result,
        "flops_per_step": flops,
        "products": [
            {"layer": p.layer, "kind": p.kind, "m": p.m, "k": p.k, "n": p.n} for p in products
        ],
        "gemm_seconds_per_step": gemm.seconds_per_step,
        "tinynet_seconds_per_step": tiny.seconds_per_step,
        "gemm_gflops": flops / gemm.median_seconds * gemm.steps / 1e9,
        "tinynet_gflops": flops / tiny.median_seconds * tiny.steps / 1e9,
        "efficiency": comparison.ratio("tinynet", "gemm"),
    }


def measure_inference(ctx: Context, model_file: ModelFile) -> dict[str, Any]:
    """Labels for the first ``cnn_test_subset`` test images per call."""
    settings = ctx.settings
    x_test = model_layout(ctx.data.x_test[: settings.cnn_test_subset], model_file.input_shape)
    model = model_file.build(settings.seed)
    runners: dict[str, Runner] = {"tinynet": loops.TinynetInference(model, x_test)}
    if ctx.has("torch"):
        from benchmarks.peers.torch_cnn import TorchCNNInference

        runners["torch"] = TorchCNNInference(model, x_test)
    n = calibrate_steps([r.steps for r in runners.values()], settings.round_seconds)
    title = f"cnn inference {model_file.name}"
    comparison = alternate(
        title,
        step_cases(runners, n, len(x_test)),
        rounds=settings.rounds,
        warmup_rounds=settings.warmup_rounds,
        params={"model": model_file.name, "kind": "inference", "test_samples": len(x_test)},
        settle_seconds=ctx.settle_seconds,
    )
    result = comparison.to_json(INFERENCE_RATIOS)
    ctx.log(summary_line(title, result))
    return result


def measure_memory(ctx: Context, model_file: ModelFile) -> dict[str, Any]:
    """Peak RSS of ``cnn_memory_epochs`` of the model file's recipe on the first
    ``cnn_memory_train`` training images: tinynet, then torch (if asked for)."""
    settings = ctx.settings
    train = min(settings.cnn_memory_train or len(ctx.data.x_train), len(ctx.data.x_train))
    runs = {}
    for framework in ("tinynet", "torch"):
        if framework == "torch" and not (settings.memory_peers and ctx.has("torch")):
            continue
        result = probe(ctx, framework, settings.cnn_memory_epochs, train, model_file.path)
        if result is None:
            continue
        runs[framework] = result
        peak, data = result["peak_rss_training"], result["rss_after_data"]
        if peak is not None and data is not None:
            ctx.log(
                f"memory {model_file.name} {framework}: training peak {peak / MIB:.0f} MiB "
                f"(+{(peak - data) / MIB:.0f} MiB over the data)"
            )
    return {"epochs": settings.cnn_memory_epochs, "train_samples": train, "runs": runs}
