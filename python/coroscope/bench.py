"""Every mechanism side by side: ``python -m coroscope.bench`` (``make demo`` runs ``--quick``).

Each *group* measures one job done several ways. Every way (a *variant*) runs the
same workload in the same process, on the same loop, in interleaved rounds, and
its time per operation is divided by the group's *baseline* (asyncio's own way,
or the classic way): the ratio, not the nanoseconds, is the result, because only
the ratio survives a busy machine. Each group runs on asyncio's loop and on uvloop.

Writes ``bench-results/<timestamp>.json`` (with provenance) and a PNG chart of the
ratios; ``--report FILE.json`` turns a results file into ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import gc
import importlib.metadata
import json
import os
import pathlib
import platform
import sys
import time
import tracemalloc
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import asdict, dataclass
from typing import Any

import uvloop

import coroscope
from coroscope._memory import c_heap_bytes, python_bytes
from coroscope.await_from_rust import await_foo, drive_send, task_factory
from coroscope.awaitable import (
    Future,
    Ready,
    ReadySend,
    TimerFuture,
    hop_awaitable,
    ready_awaitable,
    sleep_awaitable,
    yield_awaitable,
)
from coroscope.bridge import (
    hop_async_fn,
    hop_fast,
    hop_future_into_py,
    order_async_fn,
    order_fast,
    order_future_into_py,
    ready_async_fn,
    ready_fast,
    ready_future_into_py,
    sleep_fast,
    sleep_future_into_py,
    yield_async_fn,
    yield_fast,
    yield_future_into_py,
)

LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}

Workload = Callable[[int], Awaitable[object]]


@dataclass(frozen=True)
class Group:
    """One job, several ways; ``variants[0]`` is the baseline."""

    name: str
    what: str
    variants: list[tuple[str, Workload]]
    ops: int  # operations per run (full mode); quick mode divides it
    reading: str
    # (variant, versus, bound): variant / versus must be <= bound; with versus
    # None, the variant's own value per operation must be <= bound.
    goals: tuple[tuple[str, str | None, float], ...] = ()
    unit: str = "ns/op"  # "B/await": the workload returns bytes, not time
    rounds: int | None = None  # full-mode rounds, when the default 7 is too slow


@dataclass
class Result:
    loop: str
    group: str
    variant: str
    baseline: str
    ops: int
    per_op: float
    unit: str
    ratio: float


# --- workloads ------------------------------------------------------------------------


@types.coroutine
def _bare_yield() -> Generator[None, None, None]:
    yield


async def _awaits(n: int) -> int:
    for _ in range(n):
        await _bare_yield()
    return n


def _python_send_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        while True:
            coro.send(None)
    except StopIteration as stop:
        return stop.value


def _drive(driver: Callable[[Any], Any]) -> Workload:
    async def run(n: int) -> object:
        for _ in range(n // 100):
            driver(_awaits(100))
        return None

    return run


class _PythonStopIteration:
    def __init__(self, value: object) -> None:
        self.value = value

    def __await__(self) -> _PythonStopIteration:
        return self

    def __next__(self) -> None:
        raise StopIteration(self.value)


async def _python_coroutine(value: object) -> object:
    return value


def _await_each(make: Callable[[], Any]) -> Workload:
    async def run(n: int) -> object:
        for _ in range(n):
            await make()
        return None

    return run


async def _await_done_c_future(n: int) -> object:
    future = asyncio.get_running_loop().create_future()
    future.set_result(1)
    for _ in range(n):
        await future
    return None


def _round_trip(cls: Callable[..., Any]) -> Workload:
    async def run(n: int) -> object:
        loop = asyncio.get_running_loop()
        for _ in range(n):
            future = cls(loop=loop)
            future.set_result(1)
            await future
        return None

    return run


def _sequential(call: Callable[[], Awaitable[object]]) -> Workload:
    async def run(n: int) -> object:
        for _ in range(n):
            await call()
        return None

    return run


def _fanout(make: Callable[[], Awaitable[object]]) -> Workload:
    async def run(n: int) -> object:
        return await asyncio.gather(*(make() for _ in range(n)))

    return run


def _with_tasks(factory: Any, body: Callable[[int], Coroutine[Any, Any, object]]) -> Workload:
    async def run(n: int) -> object:
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        loop.set_task_factory(factory)
        try:
            return await asyncio.ensure_future(body(n))
        finally:
            loop.set_task_factory(previous)

    return run


async def _spinners(n: int) -> object:
    async def spin() -> None:
        for _ in range(100):
            await asyncio.sleep(0)

    return await asyncio.gather(*(spin() for _ in range(max(1, n // 100))))


async def _gather_tree(n: int) -> object:
    async def node(depth: int) -> int:
        if depth == 0:
            return 1
        return sum(await asyncio.gather(node(depth - 1), node(depth - 1)))

    return await node(max(1, n.bit_length() - 1))


def _heap_bytes() -> int:
    """Bytes in use: Python's objects plus the C heap. Large Python objects are
    in both, so this errs high, never low."""
    return python_bytes() + c_heap_bytes()


def _pending_memory(make: Callable[[], Awaitable[object]]) -> Workload:
    """Heap bytes per pending await: ``n`` tasks each waiting on ``make()``."""

    async def run(n: int) -> float:
        gc.collect()
        tracemalloc.start()
        try:
            before = _heap_bytes()
            tasks = [asyncio.ensure_future(make()) for _ in range(n)]
            await asyncio.sleep(0)  # every task has taken its first step and waits
            during = _heap_bytes()
        finally:
            tracemalloc.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return max(1.0, (during - before) / n)

    return run


FAST_MENU = {"burger": 0.0, "fries": 0.0, "soda": 0.0}

GROUPS = [
    Group(
        "drive_100_awaits",
        "run an async def that awaits 100 bare yields, from start to result",
        [
            ("python_send_loop", _drive(_python_send_loop)),
            ("await_foo", _drive(lambda c: await_foo(c))),
            ("drive_send", _drive(lambda c: drive_send(c))),
        ],
        ops=20_000,
        reading="Most of a step is the coroutine's own resume, which no driver can skip: "
        "drive_send saves the Python-level loop and the StopIteration, await_foo pays "
        "the StopIteration on top of the loop.",
        goals=(("drive_send", "python_send_loop", 0.5),),
    ),
    Group(
        "await_ready_value",
        "await something that is already finished (made per await, except the C future)",
        [
            ("done_c_future", _await_done_c_future),
            ("ready", _await_each(lambda: Ready(1))),
            ("ready_send", _await_each(lambda: ReadySend(1))),
            ("python_stop_iteration", _await_each(lambda: _PythonStopIteration(1))),
            ("python_coroutine", _await_each(lambda: _python_coroutine(1))),
        ],
        ops=200_000,
        reading="Finishing through StopIteration costs an exception object per await; "
        "the am_send slot (ReadySend) removes it on 3.10/3.11. The C future is reused, "
        "so it pays no allocation at all: a floor, not a peer.",
        goals=(
            ("ready", "done_c_future", 2.0),
            ("ready", "python_stop_iteration", 0.5),
            ("ready_send", "done_c_future", 2.0),
            ("ready_send", "python_stop_iteration", 0.5),
        ),
    ),
    Group(
        "future_round_trip",
        "create a future, set its result, await it",
        [
            ("c_future", _round_trip(asyncio.Future)),
            ("rust_future", _round_trip(Future)),
            ("python_future", _round_trip(asyncio.futures._PyFuture)),  # type: ignore[attr-defined]
        ],
        ops=100_000,
        reading="A future is mostly bookkeeping; the Rust one pays PyO3's object "
        "creation and argument parsing, the pure-Python one pays the interpreter.",
        goals=(("rust_future", "c_future", 1.25), ("rust_future", "python_future", 0.5)),
    ),
    Group(
        "bridge_ready",
        "await a Rust future that is ready at once, through each way across",
        [
            ("future_into_py", _sequential(lambda: ready_future_into_py(1))),
            ("pyo3_async_fn", _sequential(lambda: ready_async_fn(1))),
            ("rust_awaitable", _sequential(lambda: ready_awaitable(1))),
            ("fast_bridge", _sequential(lambda: ready_fast(1))),
        ],
        ops=20_000,
        reading="future_into_py pays for a spawn, an asyncio future, a done callback "
        "and a thread hop even when nothing waits; polling the Rust future on the "
        "loop's thread (PyO3's async fn, RustAwaitable, the fast bridge) finishes at "
        "the first step.",
        goals=(("fast_bridge", "future_into_py", 0.05),),
    ),
    Group(
        "bridge_pending_same_thread",
        "await a Rust future that is pending once and wakes itself on its own thread",
        [
            ("future_into_py", _sequential(lambda: yield_future_into_py(1))),
            ("pyo3_async_fn", _sequential(lambda: yield_async_fn(1))),
            ("rust_awaitable", _sequential(lambda: yield_awaitable(1))),
            ("fast_bridge", _sequential(lambda: yield_fast(1))),
        ],
        ops=20_000,
        reading="A wake from inside the poll needs no other thread: the bridges that "
        "poll on the loop's thread yield one bare step to the loop and poll again; "
        "future_into_py polls on tokio and still crosses back through "
        "call_soon_threadsafe.",
        goals=(("fast_bridge", "future_into_py", 1 / 3),),
    ),
    Group(
        "sleep_zero",
        "await a zero-length sleep, one after another",
        [
            ("asyncio_sleep", _sequential(lambda: asyncio.sleep(0))),
            ("sleep_awaitable", _sequential(lambda: sleep_awaitable(0))),
            ("timer_future", _sequential(lambda: TimerFuture(None, 0))),
            ("future_into_py", _sequential(lambda: sleep_future_into_py(0))),
            ("fast_bridge", _sequential(lambda: sleep_fast(0))),
        ],
        ops=500,
        reading="tokio's timer wheel ticks every millisecond, so a zero-length tokio "
        "sleep still waits for the next tick: the Rust variants measure the tick, "
        "asyncio's sleep(0) is only a yield.",
    ),
    Group(
        "order_value_meal",
        "PyBurger: an order of burger, soda and fries with zero prep times",
        [
            (
                "future_into_py",
                _sequential(lambda: order_future_into_py(["value_meal"], prep_times=FAST_MENU)),
            ),
            (
                "pyo3_async_fn",
                _sequential(lambda: order_async_fn(["value_meal"], prep_times=FAST_MENU)),
            ),
            (
                "fast_bridge",
                _sequential(lambda: order_fast(["value_meal"], prep_times=FAST_MENU)),
            ),
        ],
        ops=2_000,
        reading="Every bridge runs the same Rust kitchen on tokio, and each order is "
        "woken from a tokio thread; the difference is how the wake gets back to the "
        "loop: through the GIL and call_soon_threadsafe, or a byte on a socket. The "
        "kitchen's own spawns are most of an order, so wake_from_tokio measures the "
        "wake alone.",
    ),
    Group(
        "wake_from_tokio",
        "gather awaits that are each woken from a tokio worker thread (ops = wakes)",
        [
            ("future_into_py", _fanout(lambda: hop_future_into_py(1))),
            ("pyo3_async_fn", _fanout(lambda: hop_async_fn(1))),
            ("rust_awaitable", _fanout(lambda: hop_awaitable(1))),
            ("fast_bridge", _fanout(lambda: hop_fast(1))),
        ],
        ops=20_000,
        reading="Each wake crosses from a tokio worker to the loop. The classic routes "
        "make the worker wait for the GIL and call call_soon_threadsafe per wake; the "
        "fast bridge queues the wake and writes one byte per batch.",
        goals=(("fast_bridge", "future_into_py", 1 / 3), ("fast_bridge", "pyo3_async_fn", 1.0)),
    ),
    Group(
        "pending_memory",
        "heap bytes per task waiting on a 60 s timer, task included (ops = tasks)",
        [
            ("asyncio_sleep", _pending_memory(lambda: asyncio.sleep(60))),
            ("sleep_awaitable", _pending_memory(lambda: sleep_awaitable(60))),
            ("timer_future", _pending_memory(lambda: TimerFuture(None, 60))),
            ("fast_bridge", _pending_memory(lambda: sleep_fast(60))),
        ],
        ops=100_000,
        unit="B/await",
        rounds=1,
        reading="A pending await costs its Task and coroutine wrapper on every route; "
        "the Rust ones add a boxed future, a waker and a tokio timer entry, and the "
        "waiter future asyncio's Task sleeps on.",
        goals=(("fast_bridge", None, 1024),),
    ),
    Group(
        "fanout_10ms_timers",
        "gather 100,000 concurrent 10 ms timers (ops = timers; wall time per timer)",
        [
            ("asyncio_sleep", _fanout(lambda: asyncio.sleep(0.01))),
            ("sleep_awaitable", _fanout(lambda: sleep_awaitable(0.01))),
            ("timer_future", _fanout(lambda: TimerFuture(None, 0.01))),
            ("future_into_py", _fanout(lambda: sleep_future_into_py(0.01))),
            ("fast_bridge", _fanout(lambda: sleep_fast(0.01))),
        ],
        ops=100_000,
        rounds=2,
        reading="Every timer shares one timer wheel (asyncio's heap or tokio's); the "
        "cost that grows with the count is the wake-up of each waiting task.",
        goals=(("sleep_awaitable", "asyncio_sleep", 1.0), ("fast_bridge", "asyncio_sleep", 1.0)),
    ),
    Group(
        "task_sleep_zero_loops",
        "tasks doing `await asyncio.sleep(0)` 100 times each (ops = steps)",
        [
            ("c_task", _with_tasks(None, _spinners)),
            ("rust_task", _with_tasks(task_factory, _spinners)),
        ],
        ops=20_000,
        reading="A task step is mostly the loop's own Python code (call_soon, "
        "Handle._run); the Task's share is small, so the two stay close.",
        goals=(("rust_task", "c_task", 0.9),),
    ),
    Group(
        "task_gather_tree",
        "a binary tree of gathers (ops = leaves)",
        [
            ("c_task", _with_tasks(None, _gather_tree)),
            ("rust_task", _with_tasks(task_factory, _gather_tree)),
        ],
        ops=4_096,
        reading="gather makes a task per child and waits on each: task creation, done "
        "callbacks and wake-ups.",
        goals=(("rust_task", "c_task", 0.9),),
    ),
]


NOT_MEASURED = [
    "wake throughput from exactly 4 tokio threads: the shared runtime has one worker "
    "per core (2 here), so wake_from_tokio uses those;",
    "memory exactly: pending_memory adds tracemalloc's Python bytes to glibc's C heap, "
    "so Python objects larger than 512 bytes count twice (it errs high).",
]


# --- running --------------------------------------------------------------------------


def _measure_once(runner: asyncio.Runner, group: Group, workload: Workload, n: int) -> float:
    """One run's value per operation: nanoseconds, or what a memory workload returns."""

    async def once() -> float:
        start = time.perf_counter()
        returned = await workload(n)
        if group.unit != "ns/op":
            assert isinstance(returned, float)
            return returned
        return (time.perf_counter() - start) / n * 1e9

    return runner.run(once())


def measure(quick: bool, loops: list[str], log: Callable[[str], None]) -> list[Result]:
    default_rounds = 3 if quick else 7
    results: list[Result] = []
    total = sum(len(g.variants) for g in GROUPS) * len(loops)
    done = 0
    for loop_name in loops:
        for group in GROUPS:
            n = max(100, group.ops // (10 if quick else 1))
            rounds = default_rounds if quick or group.rounds is None else group.rounds
            log(f"{loop_name}: {group.name} ({group.what}) ...")
            best = {name: float("inf") for name, _ in group.variants}
            with asyncio.Runner(loop_factory=LOOPS[loop_name]) as runner:
                for _, workload in group.variants:  # warm-up
                    runner.run(_run(workload, min(n, 100)))
                for _ in range(rounds):  # interleaved: noise hits every variant alike
                    for name, workload in group.variants:
                        value = _measure_once(runner, group, workload, n)
                        best[name] = min(best[name], value)
            baseline = group.variants[0][0]
            for name, _ in group.variants:
                done += 1
                value, unit = best[name], group.unit
                ratio = value / best[baseline]
                log(f"[{done:>2}/{total}] {loop_name:<7} {group.name}/{name}: {value:,.0f} {unit}")
                results.append(Result(loop_name, group.name, name, baseline, n, value, unit, ratio))
    return results


async def _run(workload: Workload, n: int) -> None:
    await workload(n)


def provenance(quick: bool, loops: list[str]) -> dict[str, Any]:
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
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": "quick" if quick else "full",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "loops": loops,
        "uvloop": importlib.metadata.version("uvloop"),
        **{key: info[key] for key in sorted(info)},
    }


# --- reporting ------------------------------------------------------------------------


def goal_verdicts(results: list[Result]) -> list[tuple[str, str, str, str]]:
    """(loop, measure, goal, outcome) for every goal of every group."""
    rows = []
    by_key = {(r.loop, r.group, r.variant): r for r in results}
    for loop_name in dict.fromkeys(r.loop for r in results):
        for group in GROUPS:
            for variant, versus, bound in group.goals:
                mine = by_key.get((loop_name, group.name, variant))
                if mine is None:
                    continue
                if versus is None:
                    measure_name = f"{group.name}: {variant}"
                    goal, value = f"<= {bound:,.0f} {mine.unit}", mine.per_op
                    shown = f"{value:,.0f} {mine.unit}"
                else:
                    theirs = by_key.get((loop_name, group.name, versus))
                    if theirs is None:
                        continue
                    measure_name = f"{group.name}: {variant} / {versus}"
                    goal, value = f"<= {bound:.3g}x", mine.per_op / theirs.per_op
                    shown = f"{value:.3g}x"
                verdict = "met" if value <= bound else "missed"
                rows.append((loop_name, measure_name, goal, f"{shown} ({verdict})"))
    return rows


def table(results: list[Result]) -> str:
    lines = [f"{'loop':<8} {'group/variant':<44} {'per op':>16} {'ratio':>8}"]
    for r in results:
        mark = " (baseline)" if r.variant == r.baseline else ""
        label = f"{r.group}/{r.variant}{mark}"
        per_op = f"{r.per_op:,.0f} {r.unit}"
        lines.append(f"{r.loop:<8} {label:<44} {per_op:>16} {r.ratio:>7.3g}x")
    return "\n".join(lines)


def chart(results: list[Result], path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.group}/{r.variant}" for r in results if r.loop == results[0].loop]
    loops = sorted({r.loop for r in results})
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(labels) + 1.5))
    height = 0.8 / len(loops)
    for i, loop_name in enumerate(loops):
        ratios = [r.ratio for r in results if r.loop == loop_name]
        ax.barh(
            [y + i * height for y in range(len(ratios))], ratios, height=height, label=loop_name
        )
    ax.set_yticks([y + height * (len(loops) - 1) / 2 for y in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("time ÷ the group's baseline (log scale; < 1 is faster)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(data: dict[str, Any], source: str) -> str:
    prov = data["provenance"]
    results = [Result(**r) for r in data["results"]]
    out = [
        "# Benchmarks",
        "",
        f"Generated by `python -m coroscope.bench --report {source}` from a "
        f"{prov['mode']} run; rerun with `python -m coroscope.bench` (`make demo` "
        "runs `--quick`). Each ratio divides a variant's time per operation by its "
        "group's baseline, measured in the same run on the same loop; below 1 is faster.",
        "",
        "| provenance | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in prov.items()),
        "",
        "## Goals",
        "",
        "| loop | measure | goal | this run |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in goal_verdicts(results)),
        "",
    ]
    for group in GROUPS:
        rows = [r for r in results if r.group == group.name]
        if not rows:
            continue
        out += [f"## {group.name}", "", f"{group.what}.", ""]
        out += [
            f"| loop | variant | {group.unit} | ratio | per second |",
            "|---|---|---:|---:|---:|",
        ]
        for r in rows:
            name = f"{r.variant} (baseline)" if r.variant == r.baseline else r.variant
            rate = f"{1e9 / r.per_op:,.0f}" if r.unit == "ns/op" else ""
            out.append(f"| {r.loop} | {name} | {r.per_op:,.0f} | {r.ratio:.3g}x | {rate} |")
        out += ["", f"What it teaches: {group.reading}", ""]
    out += ["## Not measured yet", "", *(f"- {gap}" for gap in NOT_MEASURED), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coroscope.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller runs (< 1 min)")
    parser.add_argument("--loops", default="asyncio,uvloop", help="comma-separated loops")
    parser.add_argument("--out", default="bench-results", help="directory for results")
    parser.add_argument("--report", metavar="FILE", help="print BENCHMARKS.md for a results file")
    args = parser.parse_args(argv)

    if args.report:
        print(markdown(json.loads(pathlib.Path(args.report).read_text()), args.report))
        return 0
    if coroscope.build_info()["profile"] != "release":
        print(
            "coroscope is a debug build: its timings would mislead. "
            "Rebuild in release mode (`make develop`) and run again.",
            file=sys.stderr,
        )
        return 2
    loops = [name for name in args.loops.split(",") if name]
    unknown = set(loops) - set(LOOPS)
    if unknown:
        parser.error(f"unknown loop(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    results = measure(args.quick, loops, lambda line: print(line, file=sys.stderr, flush=True))
    data = {"provenance": provenance(args.quick, loops), "results": [asdict(r) for r in results]}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = out / f"{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    chart(results, out / f"{stamp}.png")

    print(table(results))
    print("\ngoals:")
    for loop_name, measure_name, goal, outcome in goal_verdicts(results):
        print(f"  {loop_name:<8} {measure_name:<48} {goal:<8} {outcome}")
    took = time.monotonic() - started
    print(f"\nwrote {json_path} and {json_path.with_suffix('.png')} in {took:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
