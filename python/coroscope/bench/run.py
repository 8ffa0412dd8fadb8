"""Measuring: every variant of a group in the same process, on the same loop, in
interleaved rounds, so that noise hits every variant alike; the best round is
the result, and the spread of the rounds says how much to trust it."""

from __future__ import annotations

import datetime
import gc
import importlib.metadata
import os
import pathlib
import platform
import time
from asyncio import Runner
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import coroscope
from coroscope._loops import LOOPS
from coroscope.bench.groups import Group
from coroscope.bench.workloads import Workload


@dataclass
class Result:
    """One variant of one group on one loop."""

    loop: str
    group: str
    variant: str
    baseline: str
    ops: int
    per_op: float  # best round: ns per operation, or bytes for a memory group
    unit: str
    ratio: float  # per_op / the baseline's per_op, same loop, same run
    spread: float | None = None  # (worst round - best round) / best round
    # Of per_op, the nanoseconds spent in the cycle collector (its passes fall
    # inside the timed code, wherever allocations cross its threshold).
    collector: float | None = None


class _Collector:
    """The time the cycle collector has run, heard through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.spent = 0.0
        self._since = 0.0

    def __call__(self, phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            self._since = time.perf_counter()
        else:
            self.spent += time.perf_counter() - self._since


def _measure_once(
    runner: Runner, group: Group, workload: Workload, n: int, collector: _Collector
) -> tuple[float, float | None]:
    """One run's value per operation (nanoseconds, or what a memory workload
    returns) and, for time, the nanoseconds of it the cycle collector took."""

    async def once() -> tuple[float, float | None]:
        start, collected = time.perf_counter(), collector.spent
        returned = await workload(n)
        if group.unit != "ns/op":
            assert isinstance(returned, float)
            return returned, None
        elapsed = time.perf_counter() - start
        return elapsed / n * 1e9, (collector.spent - collected) / n * 1e9

    return runner.run(once())


def _check(runner: Runner, group: Group, name: str, workload: Workload, n: int) -> None:
    """Run ``workload(n)`` once, untimed (it warms up too), and stop the run if
    a timed workload's ``n`` operations did not all give what was expected."""
    good = runner.run(workload(n))
    if group.unit == "ns/op" and good != n:
        raise AssertionError(
            f"{group.name}/{name}: {good} of {n} operations gave what was expected"
        )


def measure(
    groups: list[Group], quick: bool, loops: list[str], log: Callable[[str], None]
) -> list[Result]:
    """Run ``groups`` on each loop; ``log`` hears one line per group as it starts."""
    collector = _Collector()
    gc.callbacks.append(collector)
    try:
        return _measure(groups, quick, loops, log, collector)
    finally:
        gc.callbacks.remove(collector)


def _measure(
    groups: list[Group],
    quick: bool,
    loops: list[str],
    log: Callable[[str], None],
    collector: _Collector,
) -> list[Result]:
    default_rounds = 3 if quick else 7
    results: list[Result] = []
    for loop_name in loops:
        for group in groups:
            n = max(100, group.ops // (10 if quick else 1))
            rounds = default_rounds if quick or group.rounds is None else group.rounds
            log(f"{loop_name}: {group.name} ({group.what}) ...")
            samples: dict[str, list[tuple[float, float | None]]] = {
                name: [] for name, _ in group.variants
            }
            with Runner(loop_factory=LOOPS[loop_name]) as runner:
                for name, workload in group.variants:
                    _check(runner, group, name, workload, min(n, 100))
                for _ in range(rounds):  # interleaved: noise hits every variant alike
                    for name, workload in group.variants:
                        samples[name].append(_measure_once(runner, group, workload, n, collector))
            baseline = group.variants[0][0]
            for name, _ in group.variants:
                (best, collected), (worst, _) = min(samples[name]), max(samples[name])
                results.append(
                    Result(
                        loop_name,
                        group.name,
                        name,
                        baseline,
                        n,
                        best,
                        group.unit,
                        best / min(samples[baseline])[0],
                        (worst - best) / best,
                        collected,
                    )
                )
    return results


# The results file's format: a reader refuses a file of a later one (and reads a
# file without the field as format 1, which is what every file was before it).
FORMAT = 1


def provenance(quick: bool, loops: list[str]) -> dict[str, Any]:
    """What produced the numbers: machine, interpreter, build, versions."""
    cpu = "unknown"
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = coroscope.build_info()
    return {
        "format": FORMAT,
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "loops": loops,
        **{
            name: importlib.metadata.version(name) if name in loops else None
            for name in LOOPS
            if name != "asyncio"
        },
        **{key: info[key] for key in sorted(info)},
    }
