"""TimerFuture: an asyncio future that a shared tokio timer finishes from another thread."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable
from typing import Any

import pytest
from coroscope import alive
from coroscope._settle import settle
from coroscope.awaitable import Future, TimerFuture

from tests.conftest import Run


def os_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_a_timer_future_gives_its_value_after_the_delay(run: Run[Any]) -> None:
    async def main() -> tuple[object, float, float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        value = await TimerFuture("ring", 0.02)
        return value, loop.time() - start, 0.02

    value, waited, delay = run(main())
    assert value == "ring"
    assert waited >= delay * 0.9  # never early: a lower bound, not a speed claim


def test_a_thousand_timers_all_finish_and_share_the_runtime_threads(run: Run[Any]) -> None:
    async def main() -> tuple[list[int], int]:
        timers = [TimerFuture(i, 0.05) for i in range(1000)]
        during = os_threads()
        return await asyncio.gather(*timers), during

    before = os_threads()
    values, during = run(main())
    assert values == list(range(1000))
    # tokio's worker pool may start once (a handful of threads), never one per timer.
    assert during - before < 20


def test_it_is_an_asyncio_future(run: Run[Any]) -> None:
    async def main() -> list[object]:
        timer = TimerFuture(1, 0)
        done, _ = await asyncio.wait([timer])
        return [isinstance(timer, Future), asyncio.isfuture(timer), done == {timer}]

    assert run(main()) == [True, True, True]


@pytest.mark.parametrize(
    "finish",
    [
        lambda timer: timer.cancel(),
        lambda timer: timer.set_result("early"),
        lambda timer: timer.set_exception(KeyError("early")),
    ],
    ids=["cancel", "set_result", "set_exception"],
)
def test_finished_before_it_fires_the_timer_stops(
    run: Run[Any], finish: Callable[[Any], object]
) -> None:
    """The timer's task holds the future, its loop and its value: whatever finishes
    the future first stops it, rather than leaving it to fire a minute later."""
    handled: list[object] = []

    async def main() -> tuple[int, int]:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: handled.append(ctx))
        # alive() counts the whole process: what an earlier story left in a
        # reference cycle (on rloop, some stories do) goes first.
        gc.collect()
        before = alive()
        timer = TimerFuture("late", 60)
        await asyncio.sleep(0.01)  # the timer is running on tokio
        running = alive() - before
        finish(timer)
        if not timer.cancelled():
            timer.exception()  # retrieved: nothing to report
        await asyncio.to_thread(settle, lambda: alive() == before)
        return running, alive() - before

    assert run(main()) == (1, 0)
    assert handled == []


@pytest.mark.parametrize("delay", [-1.0, float("nan"), float("inf")])
def test_an_impossible_delay_is_refused(run: Run[Any], delay: float) -> None:
    async def main() -> None:
        TimerFuture(None, delay)

    with pytest.raises(ValueError, match="delay must be a finite, non-negative number"):
        run(main())


def test_a_zero_delay_needs_no_timer_and_is_done_when_made(run: Run[Any]) -> None:
    async def main() -> list[object]:
        timer = TimerFuture("now", 0)
        return [timer.done(), await timer, alive()]

    assert run(main()) == [True, "now", 0]
