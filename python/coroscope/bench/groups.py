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
    # Why a goal of this group can be missed, in a line (shown with the miss).
    if_missed: str = ""
    # What the Callgrind profile of the group showed, and what was done about it
    # (BENCHMARKS.md, under "Where the time goes").
    profiled: str = ""

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
        reading="The baseline is the floor: the same coroutine consumed entirely in C, "
        "its resumes and nothing else, so each driver's ratio minus one is its own "
        "overhead. drive_send saves the Python-level loop and the StopIteration; "
        "await_foo pays the StopIteration on top of the loop.",
        goals=(("drive_send", "c_floor", 1.15),),
        if_missed="the floor keeps the result nowhere and checks nothing; a driver must "
        "look at each yield",
        profiled="Nothing to take: for every driver the interpreter resuming the coroutine "
        "is nearly all of an await. drive_send adds one PyIter_Send call and a look at "
        "each yield; python_send_loop and await_foo add a Python-level loop, and "
        "await_foo a StopIteration per coroutine.",
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
        reading="The baseline is the cheapest peer: a trivial async def, made and awaited. "
        "Finishing through StopIteration costs an exception object per await; the am_send "
        "slot (ReadySend) removes it. A C future made and finished per await is the "
        "asyncio peer; awaiting one already-done C future again and again allocates "
        "nothing at all, a floor no peer can reach, shown for curiosity.",
        goals=(
            ("ready_send", "python_coroutine", 1.0),
            ("ready_send", "fresh_done_c_future", 1.0),
            ("ready", "python_stop_iteration", 0.5),
        ),
        if_missed="from 3.12 to 3.14 CPython's SEND calls am_send for nothing but a "
        "generator: it calls tp_iternext, so a value other than None must travel in a "
        "StopIteration, an exception per await no awaitable class can avoid (3.11 and "
        "3.15 reach the slot)",
        profiled="Before this round ready_send was 1.27x the trivial coroutine on 3.11: "
        "about a quarter of its instructions made the object the ordinary way (type_call "
        "packs the argument into a tuple, PyO3's __new__ trampoline parses it back out). "
        "Now a hand-filled tp_vectorcall (src/awaitable/vectorcall.rs) builds it straight "
        "from the argument array, as C classes are built; Ready got the same slot, and "
        "finish() makes StopIteration(value) itself instead of PyO3's boxed closure and "
        "1-tuple (ready against python_stop_iteration went from 0.60x to under 0.5x in "
        "instructions). On 3.12 to 3.14 the StopIteration is most of what is left of "
        "ready_send (see the goal).",
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
        if_missed="every method call from Python goes through a PyO3 trampoline (GIL "
        "count, panic guard), and each await makes an iterator that C takes from a freelist",
        profiled="Before this round: 1.46x the C future in instructions. PyO3's glue was "
        "a quarter of it: Future(loop=l) went through __new__ (its *args, **kwargs "
        "copied into a new dict) and __init__, two trampolines parsing the same "
        "arguments; our __init__ built a whole new state and freed the old one; letting "
        "go of a result went through the trashcan's thread-local even for a shared "
        "small int. Changed: tp_vectorcall for Future() and Future(loop=l) (one parse, "
        "no tuple, no dict), __init__ fills the shell in place, the trashcan skips "
        "objects that are not the last reference. The profile of that first vectorcall "
        'then showed one more: `name == "loop"` through PyO3\'s eq with a &str made a '
        "new string per call (now a pointer test on the interned name first). PyO3's "
        "freelist for the iterator was tried and dropped: it hands reused objects back "
        "untracked by the cycle collector (CPython's test_log_destroyed_pending_task "
        "caught the leak). Then the wall time, still 1.07-1.11x with the count at "
        "1.07x: a sampling profile on the real CPU (perf, cpu-clock) put most of "
        "Future.get_loop's samples on the two atomic instructions of the state's "
        "Mutex, which Callgrind counts as one instruction each. On a build with a GIL "
        "the GIL is now the lock (src/support/state_lock.rs: a flag, no atomic instruction), "
        "a future's first done callback is kept inline instead of in a heap Vec (a "
        "malloc and a free less, one cache line less for the collector), and callback "
        "ids come from the future, not from a shared atomic counter.",
    ),
    Group(
        "bridge_ready",
        "await a Rust future that is ready at once, through each way across",
        _by_bridge("ready", _sequential),
        ops=20_000,
        reading="future_into_py pays for a spawn, an asyncio future, a done callback "
        "and a thread hop even when nothing waits; polling the Rust future on the "
        "loop's thread (PyO3's async fn, RustAwaitable, the fast bridge) finishes at "
        "the first step.",
        goals=(("fast", "future_into_py", 0.05),),
    ),
    Group(
        "bridge_pending_same_thread",
        "await a Rust future that is pending once and wakes itself on its own thread",
        _by_bridge("yield", _sequential),
        ops=20_000,
        reading="A wake from inside the poll needs no other thread: the bridges that "
        "poll on the loop's thread yield one bare step to the loop and poll again; "
        "future_into_py polls on tokio and still crosses back through "
        "call_soon_threadsafe.",
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
        reading="tokio's timer wheel ticks every millisecond, so a zero-length sleep "
        "on a tokio timer would wait for the next tick; the kit's zero sleeps make no "
        "timer and finish at once (the Rust awaitables without leaving the loop's "
        "thread), while asyncio's sleep(0) yields to the loop once.",
        goals=(("awaitable", "asyncio_sleep", 2.0), ("fast", "asyncio_sleep", 2.0)),
    ),
    Group(
        "order_value_meal",
        "PyBurger: an order of burger, soda and fries with zero prep times",
        _by_bridge("order", _sequential),
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
        _by_bridge("hop", _fanout),
        ops=20_000,
        reading="Each wake crosses from a tokio worker to the loop. The classic routes "
        "make the worker wait for the GIL and call call_soon_threadsafe per wake; the "
        "fast bridge queues the wake and writes one byte per batch.",
        goals=(("fast", "future_into_py", 1 / 3), ("fast", "async_fn", 1.0)),
        profiled="Instructions count work, not waiting: a worker blocked on the GIL or "
        "a loop parked in epoll executes nothing, and Callgrind runs one thread at a "
        "time, so the contention the classic routes suffer never shows in their counts. "
        "The counts say what each wake costs in work; the ns/op, what it costs in time.",
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
        reading="A pending await costs its Task and coroutine wrapper on every route: "
        "task_floor, a task whose coroutine awaits a bare C future (no timer, no Rust), "
        "is the least any of them can hold. Above it, the Rust routes add a boxed "
        "future, a waker, a tokio timer entry and the waiter future the Task sleeps on; "
        "asyncio's sleep adds a timer handle and its future. timer_future has no task "
        "at all (ensure_future returns a future as it is).",
        goals=(("fast", "asyncio_sleep", 0.5),),
        if_missed="a waiting Task and its coroutine, awaiting a bare future, already hold "
        "about two thirds of asyncio.sleep's bytes (task_floor): below 0.5x needs no "
        "task per wait",
        profiled="Measured in bytes, not instructions (its own section has them, and they "
        "do not move from run to run). fast less task_floor is what the Rust side holds "
        "per wait (the boxed sleep, its waker, the tokio timer entry, the waiter future "
        "and the RustAwaitable); task_floor itself is what any route with a task per "
        "wait holds.",
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
        reading="Every timer shares one timer wheel (asyncio's heap or tokio's); the "
        "cost that grows with the count is the wake-up of each waiting task.",
        goals=(("awaitable", "asyncio_sleep", 1.0), ("fast", "asyncio_sleep", 1.0)),
        if_missed="the awaitable route takes the GIL once per wake, from tokio's timer "
        "thread, while the loop's thread wants it to run the woken tasks: the two can "
        "fall into handing the GIL back and forth, and then a whole run takes about 5x "
        "longer (about one process in six on asyncio, before this round's changes too); "
        "the fast bridge batches its wakes without the GIL and never does",
    ),
    Group(
        "task_sleep_zero_loops",
        "tasks doing `await asyncio.sleep(0)` 100 times each (ops = steps)",
        _task_variants(_spinners),
        ops=20_000,
        reading="A task step is mostly the loop's own Python code (call_soon, "
        "Handle._run); the Task's share is small, so the two stay close.",
        goals=(("rust_task", "c_task", 1.0),),
        if_missed="each step calls back into the loop's Python code, as the C Task does, "
        "plus PyO3's call overhead",
        profiled="Before this round: 1.06x the C Task in instructions. Each step called "
        "loop.call_soon(step, context=ctx) through PyO3's call_method with a tuple and "
        "a dict, which CPython unpacks again for a Python method; the done callback was "
        "added the same way. Both now go by vectorcall with the keyword's name "
        "(call_with_context in task.rs), as the C Task calls them. What is left is the "
        "loop's own Python code (call_soon, Handle._run), the same for both Tasks. On "
        "uvloop, whose loop is C, the Task's own share is larger, and it was still "
        "1.07x in wall time at 0.97x in instructions: the state's Mutex, taken several "
        "times a step (two atomic instructions each), was most of the difference; with "
        "the GIL as the lock (src/support/state_lock.rs) the steps are faster than the C "
        "Task's on both loops.",
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
        reading="What watching costs: two Python calls per step (the recorder's begin "
        "and end) and the wrapped call_soon that carries who woke whom; the difference "
        "between rust_task_recorded and rust_task, per step, is the recorder's overhead.",
    ),
    Group(
        "task_gather_tree",
        "a binary tree of gathers (ops = leaves)",
        _task_variants(_gather_tree),
        ops=4_096,
        reading="gather makes a task per child and waits on each: task creation, done "
        "callbacks and wake-ups. Eager tasks (3.12+) skip all three for a leaf, which "
        "returns without suspending.",
        goals=(("rust_task", "c_task", 1.0),),
        if_missed="a gather tree keeps every task alive until its leaves finish, and a "
        "quarter to a third of its wall time is the cycle collector passing over them; its passes "
        "cost more per Rust Task (PyO3's traverse: two trampolines, a walk up the "
        "base types, a thread-local toggled per object; a 232-byte object against "
        "the C Task's 176), and the loop's own code outside the count's reach "
        "(cache misses) does the rest: the ratio outside the collector is beside "
        "the miss",
        profiled="Task creation was the gap: task_factory called the Task class (a tuple, "
        "a second keyword dict, the arguments parsed by __new__ and __init__) and every "
        "coroutine went through asyncio.iscoroutine. Now task_factory builds the Task "
        "directly with its keywords parsed by PyO3 (no dict of them), a plain "
        "coroutine is recognised by its type, as the C Task does, _wakeup is made only "
        "by a task that waits (a leaf never does), a future's loop is asked without "
        "asyncio's Python helper, the name Task-<n> is written without a String: about "
        "1.0x the C Task in instructions on both loops. The wall time needed what the "
        "count cannot weigh, found with a sampling profile (perf) and the collector's "
        "own timing (gc.callbacks): the state's atomic instructions (gone: "
        "src/support/state_lock.rs), a heap Vec per done callback (now inline), and the "
        "collector, which ran more often and longer because each waiting Rust Task "
        "kept its _step bound method alive (a thousand objects more per tree); the "
        "C Task holds no step object while it waits, and now neither does ours.",
    ),
]


NOT_MEASURED = [
    "wake throughput from exactly 4 tokio threads: the shared runtime has one worker "
    "per core (2 here), so wake_from_tokio uses those;",
    "memory exactly: pending_memory adds tracemalloc's Python bytes to glibc's C heap, "
    "so Python objects larger than 512 bytes count twice (it errs high).",
]
