"""The benchmark suite: its timing arithmetic, its peers, and the files a run writes.

The suite runs once in its smoke mode (toy sizes, seconds) into a temporary folder;
the tests then check the JSON is complete and self-consistent and the Markdown shows
every measurement. No test asserts a time or a speed: only that they are there,
positive, finite, and that every ratio is the quotient of the medians it names.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import formatting, machine, nets, noise, run
from benchmarks.loops import GemmCeiling, TinynetSteps, TinynetTextSteps
from benchmarks.peers.numpy_mlp import NumpySteps
from benchmarks.timing import Case, alternate, calibrate_steps
from tinynet import Dense, ReLU, Sequential
from tinynet.modelfile import load_model_file

SECTIONS = (
    "step",
    "inference",
    "epochs",
    "time_to_accuracy",
    "scaling",
    "memory",
    "dtypes",
    "cnn",
    "sequence",
)
POSITIVE_KEYS = {
    "seconds",
    "median_seconds",
    "min_seconds",
    "samples_per_second",
    "seconds_per_step",
    "samples_per_round",
    "steps_per_round",
    "flops_per_step",
    "flops_per_sample",
    "gemm_seconds_per_step",
    "tinynet_seconds_per_step",
    "gemm_gflops",
    "tinynet_gflops",
    "efficiency",
    "train_seconds",
    "median_epoch_seconds",
    "rss_after_imports",
    "rss_after_data",
    "peak_rss_training",
    "peak_rss_process",
    "parameters",
    "step_ms",
}


# --- the arithmetic ------------------------------------------------------------------------


def test_alternate_runs_cases_in_turn_and_keeps_every_round() -> None:
    calls: list[str] = []

    def case(name: str, seconds: float) -> Case:
        def run_round() -> float:
            calls.append(name)
            return seconds

        return Case(name, run_round, samples=10, steps=2)

    comparison = alternate(
        "t", [case("a", 1.0), case("b", 2.0), case("c", 4.0)], rounds=2, warmup_rounds=1
    )
    assert calls == ["a", "b", "c"] * 3  # one warm-up round, then two timed ones
    assert comparison["a"].seconds == [1.0, 1.0]
    assert comparison["b"].samples_per_second == 5.0
    assert comparison["c"].seconds_per_step == 2.0
    assert comparison.ratio("a", "c") == 4.0  # a does the same work in a quarter of the time
    assert comparison.ratio("a", "missing") is None


def test_ratio_is_the_quotient_of_median_speeds_not_a_mean_of_round_ratios() -> None:
    times = {"a": iter([1.0, 9.0, 2.0]), "b": iter([2.0, 2.0, 100.0])}

    def replay(name: str) -> Case:
        return Case(name, lambda: next(times[name]), samples=6)

    cases = [replay("a"), replay("b")]
    comparison = alternate("t", cases, rounds=3, warmup_rounds=0)
    # medians: a 2.0 s, b 2.0 s -> equal speed, whatever the per-round quotients say
    assert comparison.ratio("a", "b") == 1.0
    assert comparison.to_json([("a", "b")])["ratios"] == {"a/b": 1.0}


def test_calibrate_steps_targets_the_slowest_case() -> None:
    def probe(per_step: float) -> Any:
        return lambda steps: per_step * steps

    assert calibrate_steps([probe(0.001), probe(0.01)], target_seconds=0.5) == 50
    assert calibrate_steps([probe(10.0)], target_seconds=0.5) == 1


def test_calibrate_steps_survives_one_stall() -> None:
    calls = []

    def stalls_once(steps: int) -> float:  # 1 ms a step, but the first timed run stalls
        calls.append(steps)
        return 0.001 * steps + (0.2 if len(calls) == 2 else 0.0)

    # without the repeat, the stalled 1-step run (0.201 s) would give 2 steps a round
    assert calibrate_steps([stalls_once], target_seconds=0.5) == 500


def test_step_flops_of_the_mnist_net() -> None:
    # forward and weight gradients 2 x 109,184 each, input gradients of two layers 2 x 8,832
    assert nets.step_flops((784, 128, 64, 10), 1) == 454_400
    assert nets.step_flops((784, 128, 64, 10), 128) == 128 * 454_400
    assert nets.parameter_count((784, 128, 64, 10)) == 109_386
    ceiling = GemmCeiling((784, 128, 64, 10), 8, "float32")
    assert len(ceiling.products) == len(nets.gemm_shapes((784, 128, 64, 10), 8)) == 8
    assert ceiling.steps(2) > 0


def mnist_like(n: int = 64, dtype: str = "float64") -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.random((n, 784)).astype(dtype), rng.integers(0, 10, n)


def test_peers_train_the_same_network_number_for_number() -> None:
    """Same weights, same batches, same Adam: tinynet, torch and the NumPy loop agree."""
    torch_mlp = pytest.importorskip("benchmarks.peers.torch_mlp")
    x, y = mnist_like()
    model = nets.mlp((784, 16, 8, 10), seed=0, dtype="float64")
    start = nets.dense_weights(model)
    tiny = TinynetSteps(model, x, y, batch=16)
    torch_steps = torch_mlp.TorchSteps(start, x, y, batch=16)
    numpy_steps = NumpySteps(start, x, y, batch=16)
    for runner in (tiny, torch_steps, numpy_steps):
        runner.steps(6)  # wraps around the 4 batches
    final = nets.dense_weights(model)
    moved = max(float(np.abs(a.weight - b.weight).max()) for a, b in zip(start, final, strict=True))
    assert moved > 1e-4
    torch_weights = [
        layer.weight.detach().numpy().T
        for layer in torch_steps.model
        if isinstance(layer, torch_mlp.nn.Linear)
    ]
    for ours, theirs, plain in zip(final, torch_weights, numpy_steps.W, strict=True):
        np.testing.assert_allclose(theirs, ours.weight, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(plain, ours.weight, rtol=1e-9, atol=1e-12)


def test_torch_copy_has_relus_in_place_where_tinynet_does() -> None:
    torch_mlp = pytest.importorskip("benchmarks.peers.torch_mlp")
    model = Sequential(Dense(4, 3, seed=0), ReLU(inplace=True), Dense(3, 3, seed=1), ReLU())
    model.append(Dense(3, 2, seed=2))
    weights = nets.dense_weights(model)
    assert [w.relu_before_inplace for w in weights] == [False, True, False]
    relus = [m for m in torch_mlp.build(weights) if isinstance(m, torch_mlp.nn.ReLU)]
    assert [relu.inplace for relu in relus] == [True, False]


# --- a smoke run of the whole suite ----------------------------------------------------------


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    out = tmp_path_factory.mktemp("bench")
    assert run(["--smoke", "--out", str(out), "--name", "smoke"]) == 0
    results = json.loads((out / "smoke.json").read_text())
    return results, (out / "smoke.md").read_text(), out


def numbers(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, number) in a JSON value, lists of numbers reported under their key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from numbers(v, str(k))
    elif isinstance(value, list):
        for v in value:
            yield from numbers(v, key)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


@pytest.mark.slow
def test_smoke_run_writes_every_section(smoke: tuple[dict[str, Any], str, Path]) -> None:
    results, _, out = smoke
    assert results["kind"] == "suite"
    assert set(SECTIONS) <= set(results["sections"])
    machine = results["machine"]
    for key in ("cpu", "cores", "numpy", "blas", "blas_threads", "torch", "dtype"):
        assert key in machine
    assert results["settings"]["mode"] == "smoke"
    step = results["sections"]["step"]
    assert len(step["comparisons"]) == len(step["gemm_ceiling"]) > 0
    assert {"tinynet", "gemm"} <= set(step["comparisons"][0]["cases"])
    assert results["sections"]["epochs"]["comparison"]["test_accuracy"]["tinynet"] > 0
    assert results["sections"]["memory"]["runs"]["tinynet"]["peak_rss_process"] > 0
    assert [r["dtype"] for r in results["sections"]["dtypes"]["runs"]] == ["float32", "float64"]
    targets = results["sections"]["time_to_accuracy"]["targets"]
    assert [t["target"] for t in targets] == [0.97, 0.98]
    for t in targets:  # reached, or None throughout and a note says so
        assert t["reached"] == (t["seconds"] is not None) == (t["epoch"] is not None)
    if (out / "smoke.png").exists():
        assert (out / "smoke.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        pytest.importorskip("matplotlib")
        pytest.fail("matplotlib is installed but no plot was written")


@pytest.mark.slow
def test_smoke_numbers_are_finite_and_positive(smoke: tuple[dict[str, Any], str, Path]) -> None:
    results, _, _ = smoke
    found = 0
    for key, value in numbers(results["sections"]):
        assert math.isfinite(value), key
        if key in POSITIVE_KEYS or "/" in key:  # "/" marks a ratio such as tinynet/torch
            assert value > 0, key
            found += 1
    assert found > 100


@pytest.mark.slow
def test_smoke_ratios_come_from_the_medians(smoke: tuple[dict[str, Any], str, Path]) -> None:
    results, _, _ = smoke
    comparisons = list(noise.iter_comparisons(results["sections"]))
    assert len(comparisons) >= 10
    for _, comparison in comparisons:
        cases = comparison["cases"]
        assert comparison["order"] == list(cases)
        for case in cases.values():
            assert len(case["seconds"]) == comparison["rounds"]
            assert case["median_seconds"] == pytest.approx(statistics.median(case["seconds"]))
            assert case["min_seconds"] == min(case["seconds"])
            assert case["samples_per_second"] == pytest.approx(
                case["samples_per_round"] / case["median_seconds"]
            )
        assert comparison["ratios"]
        for name, value in comparison["ratios"].items():
            a, b = name.split("/")
            speed_a, speed_b = cases[a]["samples_per_second"], cases[b]["samples_per_second"]
            assert value == pytest.approx(speed_a / speed_b), (comparison["title"], name)
    step = results["sections"]["step"]
    for row, comparison in zip(step["gemm_ceiling"], step["comparisons"], strict=True):
        assert (row["dtype"], row["batch"]) == (
            comparison["params"]["dtype"],
            comparison["params"]["batch"],
        )
        assert row["efficiency"] == pytest.approx(comparison["ratios"]["tinynet/gemm"])
        gemm = comparison["cases"]["gemm"]
        assert row["gemm_seconds_per_step"] == pytest.approx(
            gemm["median_seconds"] / gemm["steps_per_round"]
        )


@pytest.mark.slow
def test_smoke_markdown_shows_every_measurement(smoke: tuple[dict[str, Any], str, Path]) -> None:
    results, markdown, _ = smoke
    for heading in (
        "## Training step",
        "## The GEMM ceiling",
        "## Inference",
        "## A training epoch",
        "## Time to accuracy",
        "## Scaling",
        "## Peak memory",
        "## float32 against float64",
    ):
        assert heading in markdown
    for section, comparison in noise.iter_comparisons(results["sections"]):
        for name, case in comparison["cases"].items():
            shown = {
                formatting.fmt_rate(case["samples_per_second"]),
                formatting.fmt_ms(case.get("seconds_per_step")),
            }
            assert any(f"| {text} |" in markdown for text in shown), (section, name)
    for row in results["sections"]["step"]["gemm_ceiling"]:
        assert f"| {formatting.fmt_percent(row['efficiency'])} |" in markdown
    for row in results["sections"]["dtypes"]["runs"]:
        assert f"| {formatting.fmt_percent(row['test_accuracy'], 2)} |" in markdown
    for note in results["notes"]:
        assert note in markdown
    assert "not reached" in markdown  # one epoch on 1,024 images cannot reach 97%


# --- the models command ----------------------------------------------------------------------

TINY_MODEL = '''
"""A tiny model file for the test: 784-16-10."""

import numpy as np

from tinynet import Dense, ReLU, Sequential
from tinynet.modelfile import load_model_file
from tinynet.recipe import Recipe

REPORTED = "12.34%"


def build(seed: int) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(Dense(784, 16, rng=rng), ReLU(), Dense(16, 10, rng=rng))


RECIPE = Recipe(epochs=5, batch_size=64)
'''


def test_models_command_on_a_tiny_model_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny_mlp.py"
    path.write_text(TINY_MODEL)
    argv = ["models", str(path), "--seeds", "0", "1", "--epochs", "1", "--subset", "512"]
    argv += ["--test-subset", "256", "--out", str(tmp_path), "--name", "table"]
    assert run(argv) == 0
    results = json.loads((tmp_path / "table.json").read_text())
    assert results["kind"] == "models"
    (model,) = results["models"]
    assert (model["name"], model["recipe_name"]) == ("tiny_mlp", "default")
    assert model["parameters"] == 784 * 16 + 16 + 16 * 10 + 10
    assert model["epochs"] == 1  # --epochs overrides the recipe's 5
    assert (model["train_samples"], model["test_samples"]) == (512, 256)
    assert [r["seed"] for r in model["runs"]] == [0, 1]
    accuracies = [r["test_accuracy"] for r in model["runs"]]
    # each a count of the 256 test images, seeded: seed 0 again gives seed 0's figure
    assert all(0 <= a * 256 <= 256 and a * 256 == round(a * 256) for a in accuracies)
    assert accuracies[0] != accuracies[1]
    again = [*argv[:3], "0", *argv[5:]]
    again[again.index("table")] = "again"
    assert run(again) == 0
    rerun = json.loads((tmp_path / "again.json").read_text())["models"][0]["runs"]
    assert [r["test_accuracy"] for r in rerun] == accuracies[:1]
    assert model["test_accuracy_mean"] == pytest.approx(statistics.fmean(accuracies))
    assert model["test_accuracy_std"] == pytest.approx(statistics.stdev(accuracies))
    assert all(r["train_seconds"] > 0 and r["samples_per_second"] > 0 for r in model["runs"])
    assert model["reported"] == "12.34%"
    assert "batch 64" in model["recipe_summary"]
    markdown = (tmp_path / "table.md").read_text()
    assert "| tiny_mlp | default |" in markdown
    assert "12.34%" in markdown
    assert formatting.fmt_percent(model["test_accuracy_mean"], 2) in markdown


def test_models_command_gives_each_recipe_a_row_and_the_reported_figure_to_the_original(
    tmp_path: Path,
) -> None:
    path = tmp_path / "two_recipes.py"
    path.write_text(
        TINY_MODEL.replace(
            "RECIPE = Recipe(epochs=5, batch_size=64)",
            'RECIPES = {"original": Recipe(batch_size=64), "tuned": Recipe(batch_size=32)}',
        )
    )
    argv = ["models", str(path), "--seeds", "0", "--epochs", "1", "--subset", "256"]
    argv += ["--test-subset", "128", "--out", str(tmp_path)]
    assert run(argv) == 0
    rows = json.loads((tmp_path / "models.json").read_text())["models"]
    assert [(m["recipe_name"], m["reported"]) for m in rows] == [
        ("original", "12.34%"),
        ("tuned", None),
    ]
    assert ["batch 64" in m["recipe_summary"] for m in rows] == [True, False]
    markdown = (tmp_path / "models.md").read_text()
    assert "| two_recipes | original |" in markdown
    assert "| two_recipes | tuned |" in markdown

    assert run([*argv, "--recipes", "tuned", "--name", "only"]) == 0
    (row,) = json.loads((tmp_path / "only.json").read_text())["models"]
    assert row["recipe_name"] == "tuned"
    with pytest.raises(ValueError, match="no recipe named"):
        run([*argv, "--recipes", "nonesuch"])


def test_models_command_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing\.py"):
        run(["models", str(tmp_path / "nothing.py"), "--out", str(tmp_path)])


def test_missing_peers_are_skipped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import benchmarks.cli

    monkeypatch.setattr(
        benchmarks.cli, "available", lambda names: {name: name == "numpy" for name in names}
    )
    argv = ["--smoke", "--sections", "step", "epochs", "--out", str(tmp_path), "--no-plot"]
    assert run(argv) == 0
    results = json.loads((tmp_path / "smoke.json").read_text())
    assert set(results["sections"]) == {"step", "epochs"}
    for _, comparison in noise.iter_comparisons(results["sections"]):
        assert not {"torch", "torch_fused", "sklearn"} & set(comparison["cases"])
        assert "numpy" in comparison["cases"]
        assert all(not name.endswith(("/torch", "/sklearn")) for name in comparison["ratios"])
    assert any(note.startswith("torch: not installed") for note in results["notes"])
    assert any(note.startswith("sklearn: not installed") for note in results["notes"])
    markdown = (tmp_path / "smoke.md").read_text()
    assert "torch: not installed" in markdown
    assert not (tmp_path / "smoke.png").exists()


def test_alternate_pauses_before_every_round_without_timing_the_pause() -> None:
    from benchmarks.timing import Case, alternate

    starts: list[float] = []

    def work() -> float:
        starts.append(time.perf_counter())
        return 0.001

    cases = [Case("a", work, samples=1), Case("b", work, samples=1)]
    comparison = alternate("t", cases, rounds=2, warmup_rounds=1, settle_seconds=0.02)
    assert len(starts) == 6  # (1 warm-up + 2 rounds) x 2 cases, each after a pause
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.02
    assert comparison["a"].seconds == [0.001, 0.001]  # the pause is not charged


def test_forced_openblas_kernels_are_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    overrides = machine.blas_overrides()
    assert overrides == {"OPENBLAS_CORETYPE": "Haswell"}
    note = machine.override_note(overrides)
    assert note is not None
    assert "OPENBLAS_CORETYPE=Haswell" in note
    assert "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks" in note
    monkeypatch.delenv("OPENBLAS_CORETYPE")
    assert machine.blas_overrides() == {}
    assert machine.override_note({}) is None


def test_model_file_reported_figure_is_read_when_loaded(tmp_path: Path) -> None:
    path = tmp_path / "tiny_mlp.py"
    path.write_text(TINY_MODEL)
    assert load_model_file(path).reported == "12.34%"
    path.write_text(TINY_MODEL.replace('REPORTED = "12.34%"', ""))
    assert load_model_file(path).reported is None


def test_every_section_has_a_markdown_renderer_in_the_same_order() -> None:
    from benchmarks.markdown.suite import RENDERERS
    from benchmarks.suites import RUNNERS

    assert list(RENDERERS) == list(RUNNERS) == list(SECTIONS)


def test_the_suite_runs_again_without_the_kernel_pin_and_says_so() -> None:
    """A pinned OPENBLAS_CORETYPE measures the wrong kernels: the command re-runs itself
    in this environment, which lacks the pins and names what it removed."""
    from benchmarks.__main__ import unpinned_environment
    from benchmarks.machine import UNPINNED, describe, machine_info

    env = unpinned_environment({"OPENBLAS_CORETYPE": "Haswell", "HOME": "/root"})
    assert env == {"HOME": "/root", UNPINNED: "OPENBLAS_CORETYPE=Haswell"}
    assert unpinned_environment({"HOME": "/root"}) is None  # nothing pinned: run as is
    lines = describe({**machine_info(), "unpinned": env[UNPINNED]})
    assert any("OPENBLAS_CORETYPE=Haswell removed for this run" in line for line in lines)


# --- the sequence section ---------------------------------------------------------------------


def test_sequence_peers_are_one_model_loss_for_loss() -> None:
    """char_gpt and char_lstm in float64: tinynet and its `to_torch` copy compute the same
    loss on every batch of three AdamW steps, so the weights moved alike too."""
    pytest.importorskip("torch")
    from benchmarks.peers.torch_sequence import TorchTextSteps
    from benchmarks.suites.sequence import windows
    from tinynet.lm import text_recipe
    from tinynet.modelfile import import_path

    for name in ("char_gpt", "char_lstm"):
        module = import_path(nets.MODELS / f"{name}.py")
        recipe = text_recipe(module)
        assert recipe is not None
        x, y = windows(recipe, 2 * 4, seed=0)
        model = module.build(0).astype("float64")
        torch_steps = TorchTextSteps(model, recipe, x, y, batch=4)
        tiny = TinynetTextSteps(model, recipe.make_optimizer(model), x, y, batch=4)
        losses = [(tiny.step(i), torch_steps.step(i)) for i in (0, 4, 0)]
        np.testing.assert_allclose(*zip(*losses, strict=True), rtol=1e-9)
        assert losses[2][0] < losses[0][0]  # the first batch again, after two updates


def test_sequence_section_reports_both_contenders_and_where_the_time_goes(
    tmp_path: Path,
) -> None:
    pytest.importorskip("torch")
    argv = ["--smoke", "--sections", "sequence", "--out", str(tmp_path), "--no-plot"]
    assert run(argv) == 0
    results = json.loads((tmp_path / "smoke.json").read_text())
    section = results["sections"]["sequence"]
    assert [m["name"] for m in section["models"]] == ["char_gpt", "char_lstm"]
    markdown = (tmp_path / "smoke.md").read_text()
    assert "## Sequence models" in markdown
    for model, comparison in zip(section["models"], section["comparisons"], strict=True):
        assert comparison["params"]["model"] == model["name"]
        tokens = model["batch"] * model["context"]
        for case in comparison["cases"].values():  # tokens per second
            assert case["samples_per_round"] == case["steps_per_round"] * tokens
        ratio = comparison["ratios"]["tinynet/torch"]
        speeds = {k: c["samples_per_second"] for k, c in comparison["cases"].items()}
        assert ratio == pytest.approx(speeds["tinynet"] / speeds["torch"])
        loss = model["first_batch_loss"]  # float32: one model, summed in another order
        assert loss["tinynet"] == pytest.approx(loss["torch"], rel=1e-5)
        assert math.log(65) - 0.5 < loss["tinynet"] < math.log(65) + 0.5  # untrained
        profile = model["profile"]
        assert set(profile["parts"]) == {"forward", "loss", "backward", "optimizer"}
        assert profile["step_ms"] == pytest.approx(sum(profile["parts"].values()))
        layers = {row["layer"] for row in profile["layers"]}
        assert {"Dense", "Embedding"} <= layers
        assert ("MultiheadAttention" in layers) == (model["name"] == "char_gpt")
        memory = model["memory"]["runs"]["tinynet"]
        assert memory["peak_rss_training"] > memory["rss_after_data"] > 0
        assert memory["steps"] == model["memory"]["steps"]
        assert f"| {model['name']} | {model['parameters']:,} |" in markdown
        assert f"| {formatting.fmt_ratio(ratio)} |" in markdown
        assert f"{loss['tinynet']:.6f} / {loss['torch']:.6f}" in markdown
