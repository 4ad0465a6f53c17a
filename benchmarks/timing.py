"""Alternating rounds and medians: how every comparison in the suite is timed.

A comparison is a list of `Case` objects, each able to run one round of its work and
report the seconds it took. `alternate` runs them A, B, C, A, B, C, ... so that a
machine that slows down (another process, frequency scaling) slows every case alike,
and keeps every round's time. A case's speed is its samples per round over the
MEDIAN of its round times; a ratio is the quotient of two such speeds, never a mean
of per-round ratios, so ``ratio(a, b) * speed(b) == speed(a)`` exactly.

With several threads, a pause before each round (``settle_seconds``, not timed) lets
the thread pool of the case that ran before go to sleep: OpenBLAS's idle threads spin
for about 0.1 s after each call (2**28 cycles) and OpenMP's for a while too, and a
pool still spinning takes cores from the next case, so two libraries in one process
would slow each other down by turn.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


def timed(work: Callable[[], object]) -> float:
    """Seconds ``work()`` took (``time.perf_counter``), with the garbage collector off.

    Collection is paused as ``timeit`` does, so a cycle collection triggered by one
    case is not charged to whichever case happens to run next.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        work()
        return time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()


@dataclass
class Case:
    """One contender of a comparison.

    ``run()`` does one round of work and returns the seconds to charge for it (a case
    times itself, so it can leave out set-up such as building a batch list).
    ``samples`` is the number of samples one round processes and ``steps`` the number
    of optimizer steps or calls in it (0 when that means nothing for the case).
    """

    name: str
    run: Callable[[], float]
    samples: int
    steps: int = 0


@dataclass
class CaseResult:
    """Every round's seconds of one case, and the figures derived from their median."""

    name: str
    samples: int
    steps: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median_seconds(self) -> float:
        """The median of the round times."""
        return float(statistics.median(self.seconds))

    @property
    def samples_per_second(self) -> float:
        """Samples per round over the median round time."""
        return self.samples / self.median_seconds

    @property
    def seconds_per_step(self) -> float | None:
        """The median round time over the steps per round (``None`` without steps)."""
        return self.median_seconds / self.steps if self.steps else None

    @property
    def spread(self) -> float:
        """(max - min) / median of the round times: how noisy the rounds were."""
        return (max(self.seconds) - min(self.seconds)) / self.median_seconds

    def to_json(self) -> dict[str, Any]:
        """Raw rounds and derived figures, JSON-ready."""
        out: dict[str, Any] = {
            "samples_per_round": self.samples,
            "steps_per_round": self.steps,
            "seconds": self.seconds,
            "median_seconds": self.median_seconds,
            "min_seconds": min(self.seconds),
            "samples_per_second": self.samples_per_second,
            "spread": self.spread,
        }
        if self.steps:
            out["seconds_per_step"] = self.seconds_per_step
        return out


class Runner(Protocol):
    """Anything with ``steps(n) -> seconds``: runs ``n`` more steps and times them.

    A step runner takes its batches with a `BatchCursor`, so every contender of a
    comparison walks the same rows in the same order.
    """

    def steps(self, n: int) -> float:
        """Run ``n`` steps (or calls); return the seconds they took."""
        ...


class BatchCursor:
    """Consecutive batches of ``batch`` rows, wrapping to the start before a short one."""

    def __init__(self, samples: int, batch: int) -> None:
        if batch > samples:
            raise ValueError(f"benchmarks: batch {batch} exceeds the {samples} samples")
        self.batch = batch
        self.limit = samples - samples % batch
        self.position = 0

    def take(self, n: int) -> list[int]:
        """The start rows of the next ``n`` batches (computed before the timer starts)."""
        starts = []
        for _ in range(n):
            if self.position >= self.limit:
                self.position = 0
            starts.append(self.position)
            self.position += self.batch
        return starts


def step_cases(runners: Mapping[str, Runner], steps: int, samples_per_step: int) -> list[Case]:
    """One `Case` per runner, each round being ``steps`` steps of ``samples_per_step``."""

    def round_of(runner: Runner) -> Callable[[], float]:
        return lambda: runner.steps(steps)

    return [
        Case(name, round_of(runner), samples=steps * samples_per_step, steps=steps)
        for name, runner in runners.items()
    ]


def ratio(a: CaseResult, b: CaseResult) -> float:
    """How many times faster ``a`` is than ``b``: the quotient of their median speeds."""
    return a.samples_per_second / b.samples_per_second


@dataclass
class Comparison:
    """The result of one alternating comparison: its cases, in the order they ran."""

    title: str
    params: dict[str, Any]
    results: dict[str, CaseResult]
    rounds: int
    warmup_rounds: int

    def __getitem__(self, name: str) -> CaseResult:
        return self.results[name]

    def __contains__(self, name: object) -> bool:
        return name in self.results

    def ratio(self, a: str, b: str) -> float | None:
        """``ratio`` of two cases by name, ``None`` if either did not run."""
        if a not in self.results or b not in self.results:
            return None
        return ratio(self.results[a], self.results[b])

    def to_json(self, ratios: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        """Parameters, every case's rounds and the ``"a/b"`` ratios asked for that ran."""
        computed = {f"{a}/{b}": self.ratio(a, b) for a, b in ratios}
        return {
            "title": self.title,
            "params": self.params,
            "rounds": self.rounds,
            "warmup_rounds": self.warmup_rounds,
            "order": list(self.results),
            "cases": {name: result.to_json() for name, result in self.results.items()},
            "ratios": {name: value for name, value in computed.items() if value is not None},
        }


def alternate(
    title: str,
    cases: Sequence[Case],
    *,
    rounds: int,
    warmup_rounds: int = 1,
    params: dict[str, Any] | None = None,
    on_round: Callable[[int, dict[str, float]], object] | None = None,
    settle_seconds: float = 0.0,
) -> Comparison:
    """Run ``warmup_rounds`` then ``rounds`` rounds of every case, alternating.

    Round r runs cases[0], cases[1], ..., then round r + 1 starts again at cases[0].
    Warm-up rounds are run the same way and discarded. ``on_round(r, seconds_by_case)``
    is called after each timed round (r from 0), e.g. to print progress.
    ``settle_seconds``: an untimed pause before every case's round (see above).
    """
    if rounds < 1:
        raise ValueError(f"alternate: rounds must be at least 1, got {rounds}")
    names = [case.name for case in cases]
    if len(set(names)) != len(names):
        raise ValueError(f"alternate: case names must be distinct, got {names}")
    results = {case.name: CaseResult(case.name, case.samples, case.steps) for case in cases}

    def run(case: Case) -> float:
        if settle_seconds > 0:
            time.sleep(settle_seconds)
        return case.run()

    for _ in range(warmup_rounds):
        for case in cases:
            run(case)
    for r in range(rounds):
        this_round = {}
        for case in cases:
            seconds = run(case)
            if not (seconds > 0 and math.isfinite(seconds)):
                raise RuntimeError(f"{title}: case {case.name} reported {seconds} seconds")
            results[case.name].seconds.append(seconds)
            this_round[case.name] = seconds
        if on_round is not None:
            on_round(r, this_round)
    return Comparison(title, dict(params or {}), results, rounds, warmup_rounds)


def calibrate_steps(
    probes: Sequence[Callable[[int], float]], target_seconds: float, max_steps: int = 1 << 16
) -> int:
    """Steps per round so that the slowest case's round lasts about ``target_seconds``.

    Each probe is ``run(steps) -> seconds``. After one warm-up step, each is run for
    1, 2, 4, ... steps until a run lasts a fifth of the target, then once more with as
    many steps; the faster of those two runs gives its time per step, so one stall of
    the machine during calibration (seen on shared VMs: a run 10x its usual length)
    cannot shrink every round of the comparison. Returns at least 1 and at most
    ``max_steps``.
    """
    slowest = 0.0
    for probe in probes:
        probe(1)
        steps = 1
        seconds = probe(steps)
        while seconds < target_seconds / 5 and steps < max_steps:
            steps *= 2
            seconds = probe(steps)
        seconds = min(seconds, probe(steps))
        slowest = max(slowest, seconds / steps)
    if slowest <= 0:
        return max_steps
    return max(1, min(max_steps, round(target_seconds / slowest)))
