"""Reliability under load, with figures: ``python -m coroscope.soak`` (``make soak``).

Three trials. ``make soak`` runs them at full size and prints one summary
table (the README quotes it); ``tests/test_reliability.py`` runs the same
trials with sizes that take seconds and asserts what the table reports.

- **leak**: each mechanism awaited ``n`` times (1,000,000 in ``make soak``)
  after a warm-up. Growth of Python's heap (tracemalloc), of the C heap (where
  Rust's boxes, wakers and tokio's tasks live) and of RSS; change in the
  refcount of the value passed through every await and of the mechanism's own
  function or class; Rust futures left alive (``alive()``).
- **storm**: 100,000 tasks awaiting Rust futures, cancelled mid-flight: Rust
  futures dropped, anything the loop reported (a destroyed pending task, an
  exception never retrieved), tasks left over.
- **threads**: 8 threads ringing ``Doorbell``s 100,000 times each while the
  loop answers (in a burst, and paced so that nearly every wait parks), and 8
  threads each running a loop woken 100,000 times from tokio; all with the GIL's
  switch interval lowered to provoke races. Wakeups lost.

A row passes when memory grows by less than a byte per await (past a fixed
allowance for caches that warm up; a growth past it counts only if a second
run grows again, as a leak does and a pool enlarged once does not), refcounts
come back to within a handful of where they were, no Rust future is left
alive, the loop reported nothing, and no wakeup was lost. A storm's memory is
shown in parentheses and not judged: 100,000 tasks at once size
asyncio's task set and glibc's arenas for the peak, and what they keep
afterwards depends on where the last storm left them, not on a leak (the leak
trials judge memory, over work repeated a million times).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import threading
import time
import tracemalloc
import types
from asyncio import Runner
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from coroscope import alive, quiesce
from coroscope._cli import count
from coroscope._memory import c_heap_bytes, python_bytes, rss_bytes
from coroscope._settle import SETTLE_SECONDS, settle
from coroscope.await_from_rust import await_foo, drive_send, task_factory, trace
from coroscope.awaitable import Delegate, Future, Ready, ReadySend, TimerFuture, YieldN
from coroscope.bridge import Doorbell, call_python, ticks
from coroscope.catalogue import CROSSINGS, crossing, crossings

# Allowances past which growth is a leak: what caches, free lists and tokio's
# slabs may still take after the warm-up, whatever the number of awaits.
# (Seen: tokio's queues and glibc's per-thread arenas settle near 1 MiB after
# a few hundred thousand future_into_py calls, whatever came before.)
PYTHON_SLACK = 64 * 1024
C_SLACK = 2 * 1024 * 1024
RSS_SLACK = 8 * 1024 * 1024
# Bytes per await that still count as flat (a leaked object is at least 16).
PER_AWAIT = 1.0
# References that may sit elsewhere at the moment of reading, whatever the
# number of awaits (a free list, a cache): a reference leaked per await, or per
# batch of 1,000, moves by thousands. Both readings are taken with tokio idle
# (``_quiet``), so nothing in flight is counted.
REFS_SLACK = 16


class _Value:
    """What every leak trial passes through its awaits: its refcount is watched."""

    def __repr__(self) -> str:
        return "VALUE"


VALUE = _Value()


@types.coroutine
def _bare_yield() -> Generator[None, None, None]:
    yield


async def _passes(value: object) -> object:
    """A coroutine that yields to its driver once, then returns ``value``."""
    await _bare_yield()
    return value


def _future_round_trip(value: object) -> Future[object]:
    future: Future[object] = Future()
    future.set_result(value)
    return future


async def _tick_once() -> object:
    async for _ in ticks(1, 0):
        pass
    return VALUE


# --- the mechanisms -------------------------------------------------------------------


@dataclass(frozen=True)
class Mechanism:
    """One way of awaiting: ``make()`` gives an awaitable whose result must equal
    ``expect``. ``batch`` awaits run concurrently (a ``gather``) when they wait
    on timers or threads, one after another otherwise. ``driver``: run ``make()``
    with this Rust driver instead of awaiting it. ``tasks``: the loop's task
    factory while it runs. ``watched``: the object whose refcount must not move."""

    name: str
    make: Callable[[], Any]
    watched: object
    expect: object = VALUE
    batch: int = 1
    driver: Callable[[Any], Any] | None = None
    tasks: Any = None


def _batch(crossing: Any) -> int:
    """Awaits that wait on tokio run a thousand (timers, orders) or a hundred at
    a time, as a busy program's would; the rest one after another."""
    if crossing.shape.name in ("sleep", "order"):
        return 1000
    return 100 if crossing.other_thread else 1


# The shortest timer there is: tokio's 1 ms tick.
TIMER = 1e-4

MECHANISMS = [
    Mechanism("control: asyncio.sleep(0)", lambda: asyncio.sleep(0, VALUE), asyncio.sleep),
    Mechanism("await_foo", lambda: _passes(VALUE), await_foo, driver=await_foo),
    Mechanism("drive_send", lambda: _passes(VALUE), drive_send, driver=drive_send),
    Mechanism("trace", lambda: _passes(VALUE), trace, driver=lambda c: trace(c)[-1].value),
    Mechanism("Ready", lambda: Ready(VALUE), Ready),
    Mechanism("ReadySend", lambda: ReadySend(VALUE), ReadySend),
    Mechanism("YieldN", lambda: YieldN(1, VALUE), YieldN),
    Mechanism("Delegate", lambda: Delegate(_passes(VALUE)), Delegate),
    Mechanism("Future", lambda: _future_round_trip(VALUE), Future),
    # Timers get a delay above zero: a zero delay makes no timer, and the timer
    # is what is tried (tokio rounds it up to its next 1 ms tick).
    Mechanism("TimerFuture", lambda: TimerFuture(VALUE, TIMER), TimerFuture, batch=1000),
    *(
        Mechanism(
            c.name,
            partial(c, VALUE, TIMER if c.shape.name == "sleep" else 0.0),
            c.make,
            c.shape.gives(VALUE),
            _batch(c),
        )
        for c in CROSSINGS
    ),
    Mechanism("call_python", lambda: call_python(_passes(VALUE)), call_python, batch=100),
    Mechanism("ticks", _tick_once, ticks, batch=100),
    Mechanism("Rust Task", lambda: _passes(VALUE), task_factory, batch=100, tasks=task_factory),
]

# What a storm cancels: Rust futures that wait for a minute unless cancelled.
STORM: dict[str, Callable[[], Awaitable[object]]] = {
    **{c.name: partial(c, None, 60.0) for shape in ("sleep", "order") for c in crossings(shape)},
    "TimerFuture": lambda: TimerFuture(None, 60),
    "Doorbell.wait": lambda: Doorbell().wait(),
    "sleep_awaitable in Rust Tasks": partial(crossing("sleep", "awaitable"), None, 60.0),
}


# --- measuring -----------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary table."""

    trial: str
    awaits: int
    python_growth: int = 0
    c_growth: int = 0
    rss_growth: int = 0
    refs_moved: int = 0  # refcount change of the watched objects
    left_alive: int = 0  # Rust futures still alive at the end
    dropped: int | None = None  # storms: Rust futures dropped by the cancellation
    lost: int | None = None  # thread trials: wakeups that never arrived
    reports: list[str] = field(default_factory=list)  # what the loop reported
    seconds: float = 0.0
    memory_judged: bool = True  # storms: shown, not judged (see the module doc)

    def memory_past_allowance(self) -> list[str]:
        """The memory columns that grew past their allowance (when judged)."""
        found = []
        for name, growth, slack in (
            ("Python heap", self.python_growth, PYTHON_SLACK),
            ("C heap", self.c_growth, C_SLACK),
            ("RSS", self.rss_growth, RSS_SLACK),
        ):
            if self.memory_judged and growth > slack + PER_AWAIT * self.awaits:
                found.append(f"{name} grew {growth:,} bytes over {self.awaits:,} awaits")
        return found

    def problems(self) -> list[str]:
        """Why this row fails; empty when it passes."""
        found = self.memory_past_allowance()
        if self.refs_moved > REFS_SLACK:
            found.append(f"refcounts moved by {self.refs_moved}")
        if self.left_alive:
            found.append(f"{self.left_alive} Rust futures left alive")
        if self.lost:
            found.append(f"{self.lost} wakeups lost")
        found.extend(f"the loop reported: {report}" for report in self.reports)
        return found


class _Watch:
    """Snapshots before and after a trial; fills a row with the differences."""

    def __init__(self, row: Row, watched: tuple[object, ...]) -> None:
        self.row, self.watched = row, watched
        # The baseline, like the final reading, is taken with tokio idle: what
        # the warm-up left in flight must not count as "before".
        _quiet(row)
        self.alive = alive()
        gc.collect()
        self.refs = self._refcounts()
        self.python, self.c, self.rss = python_bytes(), c_heap_bytes(), rss_bytes()
        self.start = time.perf_counter()

    def _refcounts(self) -> list[int]:
        # Taken the same way both times, so the references the reading itself
        # holds cancel out.
        return [sys.getrefcount(obj) for obj in self.watched]

    def finish(self) -> None:
        row = self.row
        row.seconds = time.perf_counter() - self.start
        _quiet(row)
        gc.collect()
        row.left_alive = max(0, alive() - self.alive)
        row.refs_moved = sum(
            abs(after - before) for after, before in zip(self._refcounts(), self.refs, strict=True)
        )
        row.python_growth = python_bytes() - self.python
        row.c_growth = c_heap_bytes() - self.c
        row.rss_growth = rss_bytes() - self.rss


def _quiet(row: Row) -> None:
    """Wait until tokio has nothing of the kit's in flight (``quiesce``): the
    point after which every reference a Rust future or a pyo3-async-runtimes
    completion held has been let go. Polling refcounts instead would be a guess:
    a cancelled ``future_into_py`` future is still held (with its loop) by a
    blocking closure queued on tokio after its Rust future is gone, and the
    decrefs a tokio thread makes without the GIL wait for the next call into Rust."""
    if not quiesce(SETTLE_SECONDS):
        row.reports.append(f"tokio still busy after {SETTLE_SECONDS:g} s")


@contextmanager
def _tracing() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def _reporting(loop: asyncio.AbstractEventLoop, reports: list[str]) -> None:
    """Route everything the loop reports into ``reports`` instead of stderr."""
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))


def _workload(mechanism: Mechanism) -> Callable[[int], Coroutine[Any, Any, int]]:
    """``run(n)``: ``n`` awaits of the mechanism; how many gave what they should."""
    make, expect, batch, driver = (
        mechanism.make,
        mechanism.expect,
        mechanism.batch,
        mechanism.driver,
    )

    async def run(n: int) -> int:
        good = 0
        if driver is not None:
            for _ in range(n):
                good += driver(make()) == expect
            return good
        if batch == 1:
            for _ in range(n):
                good += (await make()) == expect
            return good
        for done in range(0, n, batch):
            results = await asyncio.gather(*[make() for _ in range(min(batch, n - done))])
            good += results.count(expect)
        return good

    if mechanism.tasks is None:
        return run

    async def in_tasks(n: int) -> int:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(mechanism.tasks)
        try:
            return await run(n)
        finally:
            loop.set_task_factory(None)

    return in_tasks


def _judged(row: Row, watched: tuple[object, ...], trial: Callable[[], int]) -> int:
    """Run ``trial`` under a ``_Watch`` that fills ``row``; returns what it returns.

    A leak grows again in a second run; a pool, free list or arena that one
    burst enlarged does not (seen: the Python heap up 130 KiB once in a few
    dozen 10,000-await runs of sleep_awaitable, where a tokio tick wakes a
    thousand sleeps at once; and on 3.10 in most runs of eight fresh loops in
    eight fresh threads, as plain ``asyncio.sleep`` does there too). So a
    growth past the allowance counts only if it recurs: the second run is judged.
    """
    watch = _Watch(row, watched)
    outcome = trial()
    watch.finish()
    if row.memory_past_allowance():
        watch = _Watch(row, watched)
        outcome = trial()
        watch.finish()
    return outcome


def leak(mechanism: Mechanism, awaits: int) -> Row:
    """Await ``mechanism`` ``awaits`` times after a warm-up; see the module doc."""
    row = Row(f"leak: {mechanism.name}", awaits)
    run = _workload(mechanism)
    with _tracing(), Runner() as runner:
        _reporting(runner.get_loop(), row.reports)
        runner.run(run(max(awaits // 10, 10 * mechanism.batch, 1000)))
        watched = (VALUE, mechanism.watched, runner.get_loop())
        good = _judged(row, watched, lambda: runner.run(run(awaits)))
    if good != awaits:
        row.reports.append(f"only {good:,} of {awaits:,} awaits gave {mechanism.expect!r}")
    return row


def storm(name: str, tasks: int, *, warm_up: int | None = None) -> Row:
    """``tasks`` tasks each awaiting ``STORM[name]()``, cancelled once all wait,
    after a storm of ``warm_up`` tasks (by default as many): the first storm
    grows the pools a storm of its size needs, and makes what a loop makes once."""
    make = STORM[name]
    row = Row(f"storm: {name}", tasks, memory_judged=False)

    async def wait(awaitable: Awaitable[object]) -> object:
        return await awaitable

    async def one_storm(tasks: int) -> int:
        """Rust futures dropped by the cancellation."""
        loop = asyncio.get_running_loop()
        if "Rust Tasks" in name:
            # typeshed's factory type has no generic form for a Task class of its own.
            loop.set_task_factory(task_factory)  # type: ignore[arg-type]
        before = alive()
        waiting = [asyncio.ensure_future(wait(make())) for _ in range(tasks)]
        await asyncio.sleep(0)  # every task has taken its first step and waits
        # Spawned Rust futures start on tokio a moment later: all are in flight.
        await asyncio.to_thread(settle, lambda: alive() - before >= tasks)
        in_flight = alive() - before
        for task in waiting:
            task.cancel()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        not_cancelled = sum(not isinstance(o, asyncio.CancelledError) for o in outcomes)
        if not_cancelled:
            row.reports.append(f"{not_cancelled} tasks were not cancelled")
        del waiting, outcomes
        loop.set_task_factory(None)
        await asyncio.to_thread(settle, lambda: alive() <= before)
        left_over = len(asyncio.all_tasks()) - 1
        if left_over:
            row.reports.append(f"{left_over} tasks left over")
        return in_flight - max(0, alive() - before)

    with _tracing(), Runner() as runner:
        _reporting(runner.get_loop(), row.reports)
        runner.run(one_storm(tasks if warm_up is None else warm_up))
        watch = _Watch(row, (runner.get_loop(),))
        row.dropped = runner.run(one_storm(tasks))
        watch.finish()
    return row


@contextmanager
def _switching_fast() -> Iterator[None]:
    """The GIL changes hands every microsecond: races get every chance."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


def doorbells(threads: int, rings: int, *, fast: bool, paced: bool) -> Row:
    """``threads`` threads each ring their own ``Doorbell`` ``rings`` times; one
    task per bell answers. Paced: a thread rings only once the last ring was
    answered, so nearly every wait parks and the ring races the parking."""
    route = "fast" if fast else "classic"
    row = Row(
        f"threads: {threads} x Doorbell({route}), {'paced' if paced else 'burst'}", threads * rings
    )

    async def ring_and_answer(rings: int) -> int:
        """Rings answered."""
        bells = [Doorbell(fast=fast) for _ in range(threads)]
        answered = [0] * threads

        async def answer(i: int) -> None:
            for _ in range(rings):
                await bells[i].wait()
                answered[i] += 1

        def ring(bell: Doorbell) -> None:
            for _ in range(rings):
                while paced and bell.unanswered:
                    time.sleep(0)
                bell.ring()

        ringers = [threading.Thread(target=ring, args=(bell,)) for bell in bells]
        for ringer in ringers:
            ringer.start()
        try:
            # Generous: a lost wakeup hangs forever, a slow machine does not.
            await asyncio.wait_for(
                asyncio.gather(*(answer(i) for i in range(threads))), 30 + rings * threads / 1000
            )
        except TimeoutError:
            pass
        for ringer in ringers:
            ringer.join()
        return sum(answered)

    with _tracing(), _switching_fast(), Runner() as runner:
        _reporting(runner.get_loop(), row.reports)
        runner.run(ring_and_answer(max(rings // 10, 100)))
        watch = _Watch(row, (Doorbell,))
        row.lost = row.awaits - runner.run(ring_and_answer(rings))
        watch.finish()
    return row


def loops_woken_from_tokio(threads: int, wakes: int, *, fast: bool) -> Row:
    """``threads`` threads each run their own loop awaiting ``wakes`` Rust futures
    woken from tokio's workers, 100 at a time: many loops, one runtime."""
    hop = crossing("hop", "fast" if fast else "awaitable").make
    row = Row(f"threads: {threads} loops x {hop.__name__}", threads * wakes)

    def many_loops(wakes: int) -> int:
        """Wakes that arrived."""
        woken = [0] * threads

        def one_loop(i: int) -> None:
            async def main() -> None:
                for _ in range(0, wakes, 100):
                    results: list[object] = await asyncio.gather(*[hop(VALUE) for _ in range(100)])
                    woken[i] += results.count(VALUE)

            with Runner() as runner:
                _reporting(runner.get_loop(), row.reports)
                runner.run(main())

        loops = [threading.Thread(target=one_loop, args=(i,)) for i in range(threads)]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        return sum(woken)

    with _tracing(), _switching_fast():
        many_loops(max(wakes // 10, 100))
        row.lost = row.awaits - _judged(row, (VALUE, hop), lambda: many_loops(wakes))
    return row


# --- the table ------------------------------------------------------------------------


def _bytes(n: int) -> str:
    sign = "+" if n >= 0 else "-"
    n = abs(n)
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{sign}{n:,.0f} {unit}" if unit == "B" else f"{sign}{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def table(rows: list[Row]) -> str:
    """The summary table, as Markdown (it reads as plain text too)."""
    header = (
        "| trial | awaits | Python heap | C heap | RSS | refcounts | Rust futures "
        "| wakeups lost | loop reports | seconds | verdict |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for row in rows:
        futures = (
            f"{row.dropped:,} dropped, {row.left_alive} left"
            if row.dropped is not None
            else f"{row.left_alive} left"
        )
        lost = "-" if row.lost is None else f"{row.lost:,}"
        verdict = "ok" if not row.problems() else "FAIL"
        memory = [_bytes(n) for n in (row.python_growth, row.c_growth, row.rss_growth)]
        if not row.memory_judged:
            memory = [f"({cell})" for cell in memory]
        lines.append(
            f"| {row.trial} | {row.awaits:,} | {' | '.join(memory)} | {row.refs_moved:+d} "
            f"| {futures} | {lost} | {len(row.reports)} | {row.seconds:.1f} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coroscope.soak",
        description="Reliability under load: every mechanism awaited a million times "
        "(leaks), storms of cancelled tasks, threads waking loops (lost wakeups); one "
        "table at the end (the README quotes it). About 40 minutes at full size.",
        epilog="A row passes when memory grows by less than a byte per await past a fixed "
        "allowance, refcounts come back, no Rust future is left alive, the loop reported "
        "nothing and no wakeup was lost. `make soak` also runs the exit trials "
        "(python -m coroscope.exits). tests/test_reliability.py runs the same trials small.",
    )
    parser.add_argument(
        "--awaits", type=count, default=1_000_000, help="awaits per mechanism (leak)"
    )
    parser.add_argument("--tasks", type=count, default=100_000, help="tasks per storm")
    parser.add_argument("--threads", type=count, default=8, help="threads per thread trial")
    parser.add_argument("--wakes", type=count, default=100_000, help="wakes per thread")
    args = parser.parse_args(argv)

    rows: list[Row] = []

    def record(row: Row) -> None:
        rows.append(row)
        print(f"[{len(rows):2d}] {row.trial}: {row.seconds:.1f} s", file=sys.stderr, flush=True)
        for problem in row.problems():
            print(f"     {problem}", file=sys.stderr, flush=True)

    for mechanism in MECHANISMS:
        record(leak(mechanism, args.awaits))
    for name in STORM:
        record(storm(name, args.tasks))
    for fast in (False, True):
        for paced in (False, True):
            record(doorbells(args.threads, args.wakes, fast=fast, paced=paced))
        record(loops_woken_from_tokio(args.threads, args.wakes, fast=fast))

    print(table(rows))
    failed = [row for row in rows if row.problems()]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} trials ok"
        + (f"; {len(failed)} FAILED" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
