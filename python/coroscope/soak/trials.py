"""The trials: ``leak`` (a mechanism awaited ``n`` times), ``storm`` (tasks
cancelled mid-flight), and the thread trials (``doorbells``,
``loops_woken_from_tokio``). Each returns one :class:`Row`."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from asyncio import Runner
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager

from coroscope import alive
from coroscope._settle import settle
from coroscope.await_from_rust import task_factory
from coroscope.bench.workloads import Workload, batched, sequential, with_tasks
from coroscope.bridge import Doorbell
from coroscope.catalogue import crossing
from coroscope.soak.judging import Row, Watch, judged, reporting, tracing
from coroscope.soak.mechanisms import STORM, VALUE, Mechanism


def _workload(mechanism: Mechanism) -> Workload:
    """``run(n)``: ``n`` awaits of the mechanism; how many gave what they should."""
    make = mechanism.make
    if mechanism.driver is not None:
        driver, coroutine = mechanism.driver, mechanism.make

        async def make() -> object:
            return driver(coroutine())

    if mechanism.batch == 1:
        run = sequential(make, mechanism.expect)
    else:
        run = batched(make, mechanism.expect, mechanism.batch)
    return run if mechanism.tasks is None else with_tasks(mechanism.tasks, run)


def leak(mechanism: Mechanism, awaits: int) -> Row:
    """Await ``mechanism`` ``awaits`` times after a warm-up; see the module doc."""
    row = Row(f"leak: {mechanism.name}", awaits)
    run = _workload(mechanism)
    with tracing(), Runner() as runner:
        reporting(runner.get_loop(), row.reports)
        runner.run(run(max(awaits // 10, 10 * mechanism.batch, 1000)))
        watched = (VALUE, mechanism.watched, runner.get_loop())
        good = judged(row, watched, lambda: runner.run(run(awaits)))
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

    with tracing(), Runner() as runner:
        reporting(runner.get_loop(), row.reports)
        runner.run(one_storm(tasks if warm_up is None else warm_up))
        watch = Watch(row, (runner.get_loop(),))
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

    with tracing(), _switching_fast(), Runner() as runner:
        reporting(runner.get_loop(), row.reports)
        runner.run(ring_and_answer(max(rings // 10, 100)))
        watch = Watch(row, (Doorbell,))
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
                for start in range(0, wakes, 100):  # the last batch is what is left
                    batch = [hop(VALUE) for _ in range(min(100, wakes - start))]
                    results: list[object] = await asyncio.gather(*batch)
                    woken[i] += results.count(VALUE)

            with Runner() as runner:
                reporting(runner.get_loop(), row.reports)
                runner.run(main())

        loops = [threading.Thread(target=one_loop, args=(i,)) for i in range(threads)]
        for loop in loops:
            loop.start()
        for loop in loops:
            loop.join()
        return sum(woken)

    with tracing(), _switching_fast():
        many_loops(max(wakes // 10, 100))
        row.lost = row.awaits - judged(row, (VALUE, hop), lambda: many_loops(wakes))
    return row
