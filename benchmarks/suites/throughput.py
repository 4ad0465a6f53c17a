"""Bare training steps, the GEMM ceiling, and inference: samples per second.

For each dtype and batch size, one alternating comparison on the 784-128-64-10 net:
tinynet's bare step loop, the same loop in PyTorch (default and fused Adam) and in
plain NumPy (same initial weights, same pre-shuffled batches) and the GEMM ceiling
(the step's matrix products alone). tinynet's efficiency is the ceiling's time over
tinynet's step time. Inference labels the whole test set per call.
"""

from __future__ import annotations

from typing import Any

from benchmarks import loops
from benchmarks.context import Context
from benchmarks.data import batch_order
from benchmarks.formatting import summary_line
from benchmarks.nets import dense_weights, layer_sizes, step_flops
from benchmarks.timing import Runner, alternate, calibrate_steps, step_cases
from tinynet.layers.base import Layer

STEP_RATIOS = [
    ("tinynet", "torch"),
    ("tinynet", "torch_fused"),
    ("tinynet", "numpy"),
    ("tinynet", "gemm"),
]
INFERENCE_RATIOS = [
    ("tinynet", "torch"),
    ("tinynet", "numpy"),
    ("tinynet", "sklearn"),
    ("tinynet_forward", "torch"),
]


def build(ctx: Context, dtype: str) -> Layer:
    """The model file's net from the run's seed, cast to ``dtype`` (before any optimizer)."""
    return ctx.model_file.build(ctx.settings.seed).astype(dtype)


def step(ctx: Context) -> dict[str, Any]:
    """Step throughput per dtype and batch size, with the GEMM ceiling beside it.

    PyTorch runs twice: with ``torch.optim.Adam``'s defaults (``torch``) and with its
    fused CPU kernel (``torch_fused``), the fastest update it has.
    """
    settings = ctx.settings
    comparisons = []
    ceiling = []
    for dtype in settings.dtypes:
        x, y = batch_order(ctx.data, settings.seed, dtype)
        for batch in settings.batch_sizes:
            model = build(ctx, dtype)
            weights = dense_weights(model)
            sizes = layer_sizes(model)
            runners: dict[str, Runner] = {"tinynet": loops.TinynetSteps(model, x, y, batch)}
            if ctx.has("torch"):
                from benchmarks.peers.torch_mlp import TorchSteps, fused_adam_available

                runners["torch"] = TorchSteps(weights, x, y, batch)
                if fused_adam_available():
                    runners["torch_fused"] = TorchSteps(weights, x, y, batch, fused=True)
                else:
                    ctx.note("torch: no fused Adam for CPU in this version (needs 2.4+)")
            if ctx.has("numpy"):
                from benchmarks.peers.numpy_mlp import NumpySteps

                runners["numpy"] = NumpySteps(weights, x, y, batch)
            runners["gemm"] = loops.GemmCeiling(sizes, batch, dtype, settings.seed)
            n = calibrate_steps([r.steps for r in runners.values()], settings.round_seconds)
            cases = step_cases(runners, n, batch)
            title = f"step {dtype} batch {batch}"
            flops = step_flops(sizes, batch)
            params = {"dtype": dtype, "batch": batch, "sizes": list(sizes), "flops_per_step": flops}
            comparison = alternate(
                title,
                cases,
                rounds=settings.rounds,
                warmup_rounds=settings.warmup_rounds,
                params=params,
                settle_seconds=ctx.settle_seconds,
            )
            result = comparison.to_json(STEP_RATIOS)
            comparisons.append(result)
            gemm, tiny = comparison["gemm"], comparison["tinynet"]
            efficiency = comparison.ratio("tinynet", "gemm")
            ceiling.append(
                {
                    "dtype": dtype,
                    "batch": batch,
                    "flops_per_step": flops,
                    "gemm_seconds_per_step": gemm.seconds_per_step,
                    "tinynet_seconds_per_step": tiny.seconds_per_step,
                    "gemm_gflops": flops / gemm.median_seconds * gemm.steps / 1e9,
                    "tinynet_gflops": flops / tiny.median_seconds * tiny.steps / 1e9,
                    "efficiency": efficiency,
                }
            )
            ctx.log(summary_line(title, result, efficiency_of="gemm"))
    return {
        "description": "forward + backward + Adam, samples/s over the median round",
        "flops_per_sample": step_flops(layer_sizes(build(ctx, "float32")), 1),
        "comparisons": comparisons,
        "gemm_ceiling": ceiling,
    }


def inference(ctx: Context) -> dict[str, Any]:
    """Labels for the whole test set per call: tinynet (``predict`` and a bare forward)
    against the peers, per dtype."""
    settings = ctx.settings
    comparisons = []
    for dtype in settings.dtypes:
        _, x_test = ctx.data.as_dtype(dtype)
        model = build(ctx, dtype)
        weights = dense_weights(model)
        runners: dict[str, Runner] = {
            "tinynet": loops.TinynetInference(model, x_test),
            "tinynet_forward": loops.TinynetInference(model, x_test, forward_only=True),
        }
        if ctx.has("torch"):
            from benchmarks.peers.torch_mlp import TorchInference

            runners["torch"] = TorchInference(weights, x_test)
        if ctx.has("numpy"):
            from benchmarks.peers.numpy_mlp import NumpyInference

            runners["numpy"] = NumpyInference(weights, x_test)
        if ctx.has("sklearn"):
            from benchmarks.peers.sklearn_mlp import SklearnInference

            x_train, _ = ctx.data.as_dtype(dtype)
            hidden = layer_sizes(model)[1:-1]
            runners["sklearn"] = SklearnInference(
                hidden, x_train, ctx.data.y_train, x_test, seed=settings.seed
            )
        n = calibrate_steps([r.steps for r in runners.values()], settings.round_seconds)
        cases = step_cases(runners, n, len(x_test))
        title = f"inference {dtype}"
        comparison = alternate(
            title,
            cases,
            rounds=settings.rounds,
            warmup_rounds=settings.warmup_rounds,
            params={"dtype": dtype, "test_samples": len(x_test)},
            settle_seconds=ctx.settle_seconds,
        )
        result = comparison.to_json(INFERENCE_RATIOS)
        comparisons.append(result)
        ctx.log(summary_line(title, result))
    return {
        "description": (
            "labels for the whole test set per call; tinynet = tinynet.train.predict "
            "(batches of 1024, input checks), tinynet_forward = model.forward(x).argmax(1) "
            "in eval mode; peers predict the whole set in one batch"
        ),
        "comparisons": comparisons,
    }
