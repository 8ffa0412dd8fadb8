"""The fast bridge: inline first poll, one-hop wake, batched GIL-free cross-thread wakes."""

from __future__ import annotations

import asyncio
import contextvars
from asyncio import Runner
from typing import Any

import pytest
from coroscope.bridge import order_fast, ready_fast, sleep_fast, wake_stats

from tests.conftest import Run

FAST = {"burger": 0.06, "fries": 0.03, "soda": 0.0}


pytestmark = pytest.mark.usefixtures("rust_futures_all_dropped")


def test_the_examples_keep_the_contracts_of_the_other_bridges(run: Run[Any]) -> None:
    async def main() -> list[object]:
        return [
            await ready_fast("r"),
            await sleep_fast(0.001, "s"),
            await order_fast(["value_meal"], prep_times=FAST),
        ]

    assert run(main()) == ["r", "s", ["soda", "fries", "burger"]]


def test_an_unknown_item_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown item 'pizza'"):
        order_fast(["pizza"])


def test_a_ready_future_finishes_at_the_first_step(run: Run[Any]) -> None:
    async def main() -> object:
        steps = ready_fast(42).__await__()
        try:
            steps.send(None)
        except StopIteration as stop:
            return stop.value
        return "it yielded"

    assert run(main()) == 42


class Counting(asyncio.SelectorEventLoop):
    """asyncio's loop, counting what reaches it from the bridges."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = {"call_soon": 0, "call_soon_threadsafe": 0}

    def call_soon(self, *args: Any, **kwargs: Any) -> Any:
        self.counts["call_soon"] += 1
        return super().call_soon(*args, **kwargs)

    def call_soon_threadsafe(self, *args: Any, **kwargs: Any) -> Any:
        self.counts["call_soon_threadsafe"] += 1
        return super().call_soon_threadsafe(*args, **kwargs)


def counted_wait(sleep: Any) -> dict[str, int]:
    """What the loop was asked to do while one task awaited ``sleep(0.005)``."""
    with Runner(loop_factory=Counting) as runner:

        async def main() -> dict[str, int]:
            loop = asyncio.get_running_loop()
            assert isinstance(loop, Counting)
            await sleep(0.001)  # warm-up: the loop's wake-up queue is made here
            task = asyncio.ensure_future(sleep(0.005))
            await asyncio.sleep(0)  # the task takes its first step and waits
            before = dict(loop.counts)
            await task
            return {k: loop.counts[k] - before[k] for k in before}

        return runner.run(main())


def test_a_wake_reaches_the_task_without_any_loop_call() -> None:
    from coroscope.bridge import sleep_awaitable

    classic = counted_wait(sleep_awaitable)
    fast = counted_wait(sleep_fast)
    # Classic: the tokio thread posts set_result, which then schedules the wake-up.
    assert classic["call_soon_threadsafe"] == 1
    assert classic["call_soon"] >= 1
    # Fast: a byte on the loop's socket; the drain runs the wake-up itself. (The
    # one call_soon left is the awaiting `main` being woken by the finished task.)
    assert fast == {"call_soon": classic["call_soon"] - 1, "call_soon_threadsafe": 0}


def test_wakes_arriving_together_share_one_loop_wakeup(run: Run[Any]) -> None:
    async def main() -> tuple[int, int]:
        wakes, batches = wake_stats()
        tasks = [asyncio.ensure_future(sleep_fast(0.05)) for _ in range(1000)]
        await asyncio.sleep(0)  # every task is now waiting on its timer
        await asyncio.gather(*tasks)
        now_wakes, now_batches = wake_stats()
        return now_wakes - wakes, now_batches - batches

    wakes, batches = run(main())
    assert wakes > 0
    assert batches < wakes


def test_cancelling_drops_the_rust_future(run: Run[Any]) -> None:
    async def main() -> bool:
        task = asyncio.ensure_future(order_fast(["burger"], prep_times={"burger": 60}))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main())


def test_contextvars_are_the_awaiting_tasks(run: Run[Any]) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")

    async def child() -> list[str]:
        var.set("child")
        await sleep_fast(0.001)
        return [var.get()]

    async def main() -> list[object]:
        var.set("parent")
        return [await asyncio.ensure_future(child()), var.get()]

    assert run(main()) == [["child"], "parent"]
