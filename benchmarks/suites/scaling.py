"""Step time against batch size and against hidden width, with FLOPs per step.

If a framework's step time grows in proportion to the FLOPs, it is bound by its
matrix products; if it stays flat while FLOPs shrink (small batches, narrow layers),
it is bound by per-layer Python and call overhead. The GEMM ceiling of each point
shows what the products alone cost.
"""

from __future__ import annotations

from typing import Any

from benchmarks import loops
from benchmarks.context import Context
from benchmarks.data import batch_order
from benchmarks.formatting import summary_line
from benchmarks.nets import dense_weights, mlp, parameter_count, step_flops, width_sizes
from benchmarks.timing import Runner, alternate, calibrate_steps, step_cases

RATIOS = [("tinynet", "torch"), ("tinynet", "numpy"), ("tinynet", "gemm")]


def point(
    ctx: Context, title: str, sizes: tuple[int, ...], batch: int, *, with_numpy: bool
) -> dict[str, Any]:
    """One alternating comparison of float32 steps for one architecture and batch size."""
    settings = ctx.settings
    x, y = batch_order(ctx.data, settings.seed, "float32")
    model = mlp(sizes, settings.seed)
    weights = dense_weights(model)
    runners: dict[str, Runner] = {"tinynet": loops.TinynetSteps(model, x, y, batch)}
    if ctx.has("torch"):
        from benchmarks.peers.torch_mlp import TorchSteps

        runners["torch"] = TorchSteps(weights, x, y, batch)
    if with_numpy and ctx.has("numpy"):
        from benchmarks.peers.numpy_mlp import NumpySteps

        runners["numpy"] = NumpySteps(weights, x, y, batch)
    runners["gemm"] = loops.GemmCeiling(sizes, batch, "float32", settings.seed)
    n = calibrate_steps([r.steps for r in runners.values()], settings.round_seconds)
    params = {
        "batch": batch,
        "sizes": list(sizes),
        "parameters": parameter_count(sizes),
        "flops_per_step": step_flops(sizes, batch),
    }
    comparison = alternate(
        title,
        step_cases(runners, n, batch),
        rounds=settings.scaling_rounds,
        warmup_rounds=settings.warmup_rounds,
        params=params,
        settle_seconds=ctx.settle_seconds,
    )
    result = comparison.to_json(RATIOS)
    ctx.log(summary_line(title, result, efficiency_of="gemm"))
    return result


def run(ctx: Context) -> dict[str, Any]:
    """Both sweeps: batch sizes on the model file's net, widths at ``scaling_batch``."""
    settings = ctx.settings
    base = (ctx.data.features, 128, 64, 10)
    by_batch = [
        point(ctx, f"scaling batch {batch}", base, batch, with_numpy=True)
        for batch in settings.scaling_batches
        if batch <= len(ctx.data.x_train)
    ]
    by_width = [
        point(
            ctx,
            f"scaling width {width}",
            width_sizes(width, ctx.data.features),
            settings.scaling_batch,
            with_numpy=False,
        )
        for width in settings.scaling_widths
    ]
    return {
        "description": "float32 step time against batch size (784-128-64-10) and hidden "
        f"width (784-W-W/2-10 at batch {settings.scaling_batch})",
        "by_batch": by_batch,
        "by_width": by_width,
    }
