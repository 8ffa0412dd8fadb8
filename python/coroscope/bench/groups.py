"""What is measured: each *group* is one job done several ways (its *variants*).

``variants[0]`` is the group's baseline (asyncio's own way, or the classic way);
every other variant's time per operation is divided by it, in the same run. The
crossings (a Rust future awaited through a bridge) come from
``coroscope.catalogue``: a variant is named by its bridge, as in the Rust benches
(``bridge_ready/fast`` times ``ready_fast``).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from coroscope._compat import eager_factory
from coroscope._memory import c_heap_bytes, python_bytes
from coroscope.await_from_rust import Task, await_foo, drive_send, task_factory
from coroscope.awaitable import Future, Ready, ReadySend, TimerFuture
from coroscope.bench.workloads import (
    Maker,
    PythonStopIteration,
    Workload,
    await_a_bare_future,
    await_fresh_done_c_future,
    await_reused_done_c_future,
    c_floor,
    drive,
    fanout,
    gather_tree,
    python_coroutine,
    python_send_loop,
    round_trip,
    sequential,
    spinners,
    with_tasks,
)
from coroscope.bridge import crossing_floor
from coroscope.catalogue import crossings
from coroscope.timeline import record


@dataclass(frozen=True)
class Group:
    """One job, several ways; ``variants[0]`` is the baseline. What it means,
    in words, is in ``notes.toml`` under its name."""

    name: str
    what: str
    variants: list[tuple[str, Workload]]
    ops: int  # operations per run (full mode); quick mode divides it
    # (variant, versus, bound): variant / versus must be <= bound; with versus
    # None, the variant's own value per operation must be <= bound.
    goals: tuple[tuple[str, str | None, float], ...] = ()
    unit: str = "ns/op"  # "B/await": the workload returns bytes, not time
    rounds: int | None = None  # full-mode rounds, when the default 7 is too slow

    @property
    def instruction_ops(self) -> int:
        """Operations per case when counted under Callgrind (``make
        bench-instructions``): a tenth of a full run, at least 100."""
        return max(100, self.ops // 10)


# --- what only the runner needs (the shared jobs are in workloads.py) ---------------


def _task_variants(body: Workload) -> list[tuple[str, Workload]]:
    """The C Task and the Rust Task, each lazy (the first step one loop iteration
    later) and, from 3.12, eager (the first step inside ``create_task``)."""
    variants = [("c_task", with_tasks(None, body)), ("rust_task", with_tasks(task_factory, body))]
    if sys.version_info >= (3, 12):
        variants += [
            ("c_task_eager", with_tasks(eager_factory(asyncio.Task), body)),
            ("rust_task_eager", with_tasks(eager_factory(Task), body)),
        ]
    return variants


def _recorded(body: Workload) -> Workload:
    """``body`` with ``coroscope.timeline.record()`` watching every step."""

    async def run(n: int) -> object:
        async with record():
            return await asyncio.ensure_future(body(n))

    return run


async def _crossing_floor(n: int) -> int:
    """``n`` round trips to a tokio worker with no Python in them (the floor
    under a hop: see ``coroscope.bridge.crossing_floor``)."""
    return crossing_floor(n)


def _heap_bytes() -> int:
    """Bytes in use: Python's objects plus the C heap. Large Python objects are
    in both, so this errs high, never low."""
    return python_bytes() + c_heap_bytes()


def _pending_memory(make: Maker, _gives: object = None) -> Workload:
    """Heap bytes per pending await: ``n`` tasks each waiting on ``make()``
    (which never gives anything: the tasks are cancelled)."""

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


def _by_bridge(
    shape: str, workload: Callable[[Maker, object], Workload], seconds: float = 0.0
) -> list[tuple[str, Workload]]:
    """One variant per bridge that has ``shape``, named by the bridge: the
    workload awaits ``c(1, seconds)`` and expects what the shape gives for 1."""
    return [
        (c.bridge.name, workload(partial(c, 1, seconds), c.shape.gives(1)))
        for c in crossings(shape)
    ]


GROUPS = [
    Group(
        "drive_100_awaits",
        "run an async def that awaits 100 bare yields, from start to result",
        [
            ("c_floor", drive(c_floor, checked=False)),
            ("python_send_loop", drive(python_send_loop)),
            ("await_foo", drive(await_foo)),
            ("drive_send", drive(drive_send)),
        ],
        ops=20_000,
        goals=(("drive_send", "c_floor", 1.15),),
    ),
    Group(
        "await_ready_value",
        "await something that is already finished, made fresh for each await "
        "(reused_done_c_future, the one exception, is a curiosity: it makes nothing)",
        [
            ("python_coroutine", sequential(lambda: python_coroutine(1), 1)),
            ("fresh_done_c_future", await_fresh_done_c_future),
            ("ready", sequential(lambda: Ready(1), 1)),
            ("ready_send", sequential(lambda: ReadySend(1), 1)),
            ("python_stop_iteration", sequential(lambda: PythonStopIteration(1), 1)),
            ("reused_done_c_future", await_reused_done_c_future),
        ],
        ops=200_000,
        goals=(
            ("ready_send", "python_coroutine", 1.0),
            ("ready_send", "fresh_done_c_future", 1.0),
            ("ready", "python_stop_iteration", 0.5),
        ),
    ),
    Group(
        "future_round_trip",
        "create a future, set its result, await it",
        [
            ("c_future", round_trip(asyncio.Future)),
            ("rust_future", round_trip(Future)),
            ("python_future", round_trip(asyncio.futures._PyFuture)),  # type: ignore[attr-defined]
        ],
        ops=100_000,
        goals=(("rust_future", "c_future", 1.25), ("rust_future", "python_future", 0.5)),
    ),
    Group(
        "bridge_ready",
        "await a Rust future that is ready at once, through each way across",
        _by_bridge("ready", sequential),
        ops=20_000,
        goals=(("fast", "future_into_py", 0.05),),
    ),
    Group(
        "bridge_pending_same_thread",
        "await a Rust future that is pending once and wakes itself on its own thread",
        _by_bridge("yield", sequential),
        ops=20_000,
        goals=(("fast", "future_into_py", 1 / 3),),
    ),
    Group(
        "sleep_zero",
        "await a zero-length sleep, one after another",
        [
            ("asyncio_sleep", sequential(lambda: asyncio.sleep(0), None)),
            ("timer_future", sequential(lambda: TimerFuture(None, 0), None)),
            *_by_bridge("sleep", sequential),
        ],
        ops=500,
        goals=(("awaitable", "asyncio_sleep", 2.0), ("fast", "asyncio_sleep", 2.0)),
    ),
    Group(
        "order_value_meal",
        "PyBurger: an order of burger, soda and fries with zero prep times",
        _by_bridge("order", sequential),
        ops=2_000,
    ),
    Group(
        "hop_sequential",
        "await a Rust future woken from a tokio worker, one after another, against the "
        "floor of that crossing: a round trip to a worker with no Python in it",
        [("crossing_floor", _crossing_floor), *_by_bridge("hop", sequential)],
        ops=5_000,
    ),
    Group(
        "wake_from_tokio",
        "gather awaits that are each woken from a tokio worker thread (ops = wakes)",
        _by_bridge("hop", fanout),
        ops=20_000,
        goals=(("fast", "future_into_py", 1 / 3), ("fast", "async_fn", 1.0)),
    ),
    Group(
        "pending_memory",
        "heap bytes per task waiting on a 60 s timer, task included (ops = tasks)",
        [
            ("asyncio_sleep", _pending_memory(lambda: asyncio.sleep(60))),
            ("task_floor", _pending_memory(await_a_bare_future)),
            ("timer_future", _pending_memory(lambda: TimerFuture(None, 60))),
            # future_into_py is left out: its Rust future waits on tokio, not in
            # the task, so the task's memory would not show what it holds.
            *[v for v in _by_bridge("sleep", _pending_memory, 60) if v[0] != "future_into_py"],
        ],
        ops=100_000,
        unit="B/await",
        rounds=1,
        goals=(("fast", "asyncio_sleep", 0.5),),
    ),
    Group(
        "fanout_10ms_timers",
        "gather 100,000 concurrent 10 ms timers (ops = timers; wall time per timer)",
        [
            ("asyncio_sleep", fanout(lambda: asyncio.sleep(0.01), None)),
            ("timer_future", fanout(lambda: TimerFuture(None, 0.01), None)),
            *_by_bridge("sleep", fanout, 0.01),
        ],
        ops=100_000,
        rounds=2,
        goals=(("awaitable", "asyncio_sleep", 1.0), ("fast", "asyncio_sleep", 1.0)),
    ),
    Group(
        "task_sleep_zero_loops",
        "tasks doing `await asyncio.sleep(0)` 100 times each (ops = steps)",
        _task_variants(spinners),
        ops=20_000,
        goals=(("rust_task", "c_task", 1.0),),
    ),
    Group(
        "timeline_overhead",
        "tasks doing `await asyncio.sleep(0)` 100 times each, watched by "
        "`coroscope.timeline.record()` or not (ops = steps)",
        [
            ("c_task", with_tasks(None, spinners)),
            ("rust_task", with_tasks(task_factory, spinners)),
            ("rust_task_recorded", _recorded(spinners)),
        ],
        ops=20_000,
    ),
    Group(
        "timeline_rust_side",
        "gather awaits that are each woken from a tokio worker, under the Rust Task, "
        "with `coroscope.timeline.record()` recording both sides or not (ops = wakes)",
        [
            variant
            for bridge, body in _by_bridge("hop", fanout)
            for variant in (
                (bridge, with_tasks(task_factory, body)),
                (f"{bridge}_recorded", _recorded(body)),
            )
        ],
        ops=20_000,
    ),
    Group(
        "task_gather_tree",
        "a binary tree of gathers (ops = leaves)",
        _task_variants(gather_tree),
        ops=4_096,
        goals=(("rust_task", "c_task", 1.0),),
    ),
]


NOT_MEASURED = [
    "wake throughput from exactly 4 tokio threads: the shared runtime has one worker "
    "per core (2 here), so wake_from_tokio uses those;",
    "memory exactly: pending_memory adds tracemalloc's Python bytes to glibc's C heap, "
    "so Python objects larger than 512 bytes count twice (it errs high).",
]
