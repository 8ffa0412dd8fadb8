"""What is measured: each *group* is one job done several ways (its *variants*).

``variants[0]`` is the group's baseline (asyncio's own way, or the classic way);
every other variant's time per operation is divided by it, in the same run. The
crossings (a Rust future awaited through a bridge) come from
``coroscope.catalogue``: a variant is named by its bridge, as in the Rust benches
(``bridge_ready/fast`` times ``ready_fast``).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import sys
import tracemalloc
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from functools import partial
from typing import Any

from coroscope._compat import eager_factory
from coroscope._memory import c_heap_bytes, python_bytes
from coroscope.await_from_rust import Task, await_foo, drive_send, task_factory
from coroscope.awaitable import Future, Ready, ReadySend, TimerFuture
from coroscope.catalogue import Crossing, crossings
from coroscope.timeline import record


def _uvloop() -> asyncio.AbstractEventLoop:
    # An optional dependency (the bench extra), imported by a run that asks for it.
    import uvloop

    return uvloop.new_event_loop()


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": _uvloop,
}


Workload = Callable[[int], Awaitable[object]]


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


def _c_floor(coro: Coroutine[Any, Any, Any]) -> None:
    """The same coroutine consumed entirely in C (``deque`` pulls its iterator to
    the end): the resumes alone, with no driver at all; the result is dropped."""
    collections.deque(coro.__await__(), maxlen=0)


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


async def _await_reused_done_c_future(n: int) -> object:
    future = asyncio.get_running_loop().create_future()
    future.set_result(1)
    for _ in range(n):
        await future
    return None


async def _await_fresh_done_c_future(n: int) -> object:
    loop = asyncio.get_running_loop()
    for _ in range(n):
        future = loop.create_future()
        future.set_result(1)
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


def _task_variants(
    body: Callable[[int], Coroutine[Any, Any, object]],
) -> list[tuple[str, Workload]]:
    """The C Task and the Rust Task, each lazy (the first step one loop iteration
    later) and, from 3.12, eager (the first step inside ``create_task``)."""
    variants = [("c_task", _with_tasks(None, body)), ("rust_task", _with_tasks(task_factory, body))]
    if sys.version_info >= (3, 12):
        variants += [
            ("c_task_eager", _with_tasks(eager_factory(asyncio.Task), body)),
            ("rust_task_eager", _with_tasks(eager_factory(Task), body)),
        ]
    return variants


def _recorded(body: Callable[[int], Coroutine[Any, Any, object]]) -> Workload:
    """``body`` with ``coroscope.timeline.record()`` watching every step."""

    async def run(n: int) -> object:
        async with record():
            return await asyncio.ensure_future(body(n))

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


async def _await_a_bare_future() -> object:
    """The least a waiting task can hold: its coroutine awaits a C future that
    nothing will finish (no timer, no handle, no Rust)."""
    return await asyncio.get_running_loop().create_future()


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


Maker = Callable[[], Awaitable[object]]


def _by_bridge(
    shape: str, workload: Callable[[Maker], Workload], seconds: float = 0.0
) -> list[tuple[str, Workload]]:
    """One variant per bridge that has ``shape``, named by the bridge."""
    return [(c.bridge.name, workload(_maker(c, seconds))) for c in crossings(shape)]


def _maker(c: Crossing, seconds: float) -> Maker:
    return partial(c, 1, seconds)


GROUPS = [
    Group(
        "drive_100_awaits",
        "run an async def that awaits 100 bare yields, from start to result",
        [
            ("c_floor", _drive(_c_floor)),
            ("python_send_loop", _drive(_python_send_loop)),
            ("await_foo", _drive(lambda c: await_foo(c))),
            ("drive_send", _drive(lambda c: drive_send(c))),
        ],
        ops=20_000,
        goals=(("drive_send", "c_floor", 1.15),),
    ),
    Group(
        "await_ready_value",
        "await something that is already finished, made fresh for each await "
        "(reused_done_c_future, the one exception, is a curiosity: it makes nothing)",
        [
            ("python_coroutine", _await_each(lambda: _python_coroutine(1))),
            ("fresh_done_c_future", _await_fresh_done_c_future),
            ("ready", _await_each(lambda: Ready(1))),
            ("ready_send", _await_each(lambda: ReadySend(1))),
            ("python_stop_iteration", _await_each(lambda: _PythonStopIteration(1))),
            ("reused_done_c_future", _await_reused_done_c_future),
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
            ("c_future", _round_trip(asyncio.Future)),
            ("rust_future", _round_trip(Future)),
            ("python_future", _round_trip(asyncio.futures._PyFuture)),  # type: ignore[attr-defined]
        ],
        ops=100_000,
        goals=(("rust_future", "c_future", 1.25), ("rust_future", "python_future", 0.5)),
    ),
    Group(
        "bridge_ready",
        "await a Rust future that is ready at once, through each way across",
        _by_bridge("ready", _sequential),
        ops=20_000,
        goals=(("fast", "future_into_py", 0.05),),
    ),
    Group(
        "bridge_pending_same_thread",
        "await a Rust future that is pending once and wakes itself on its own thread",
        _by_bridge("yield", _sequential),
        ops=20_000,
        goals=(("fast", "future_into_py", 1 / 3),),
    ),
    Group(
        "sleep_zero",
        "await a zero-length sleep, one after another",
        [
            ("asyncio_sleep", _sequential(lambda: asyncio.sleep(0))),
            ("timer_future", _sequential(lambda: TimerFuture(None, 0))),
            *_by_bridge("sleep", _sequential),
        ],
        ops=500,
        goals=(("awaitable", "asyncio_sleep", 2.0), ("fast", "asyncio_sleep", 2.0)),
    ),
    Group(
        "order_value_meal",
        "PyBurger: an order of burger, soda and fries with zero prep times",
        _by_bridge("order", _sequential),
        ops=2_000,
    ),
    Group(
        "wake_from_tokio",
        "gather awaits that are each woken from a tokio worker thread (ops = wakes)",
        _by_bridge("hop", _fanout),
        ops=20_000,
        goals=(("fast", "future_into_py", 1 / 3), ("fast", "async_fn", 1.0)),
    ),
    Group(
        "pending_memory",
        "heap bytes per task waiting on a 60 s timer, task included (ops = tasks)",
        [
            ("asyncio_sleep", _pending_memory(lambda: asyncio.sleep(60))),
            ("task_floor", _pending_memory(_await_a_bare_future)),
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
            ("asyncio_sleep", _fanout(lambda: asyncio.sleep(0.01))),
            ("timer_future", _fanout(lambda: TimerFuture(None, 0.01))),
            *_by_bridge("sleep", _fanout, 0.01),
        ],
        ops=100_000,
        rounds=2,
        goals=(("awaitable", "asyncio_sleep", 1.0), ("fast", "asyncio_sleep", 1.0)),
    ),
    Group(
        "task_sleep_zero_loops",
        "tasks doing `await asyncio.sleep(0)` 100 times each (ops = steps)",
        _task_variants(_spinners),
        ops=20_000,
        goals=(("rust_task", "c_task", 1.0),),
    ),
    Group(
        "timeline_overhead",
        "tasks doing `await asyncio.sleep(0)` 100 times each, watched by "
        "`coroscope.timeline.record()` or not (ops = steps)",
        [
            ("c_task", _with_tasks(None, _spinners)),
            ("rust_task", _with_tasks(task_factory, _spinners)),
            ("rust_task_recorded", _recorded(_spinners)),
        ],
        ops=20_000,
    ),
    Group(
        "task_gather_tree",
        "a binary tree of gathers (ops = leaves)",
        _task_variants(_gather_tree),
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
