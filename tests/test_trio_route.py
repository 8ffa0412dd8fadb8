"""The same Rust awaitables under trio, and under anyio on either backend.

The backend is chosen at the first wait with ``sniffio``: under trio a waiting
task parks in ``trio.lowlevel.wait_task_rescheduled`` and a wake-up reschedules
it through the run's token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
import trio
from coroscope.awaitable import Future, compute
from coroscope.bridge import order_fast, ready_awaitable, ready_fast, sleep_awaitable, sleep_fast

FAST = {"burger": 0.06, "fries": 0.03, "soda": 0.0}


pytestmark = pytest.mark.usefixtures("rust_futures_all_dropped")


async def every_kind() -> list[object]:
    return [
        await ready_awaitable("ready"),
        await sleep_awaitable(0.002, "slept"),
        await compute(30_000),
        await ready_fast("fast"),
        await sleep_fast(0.002, "fast slept"),
        await order_fast(["value_meal"], prep_times=FAST),
    ]


EXPECTED = ["ready", "slept", sum(range(30_000)), "fast", "fast slept", ["soda", "fries", "burger"]]


def test_rust_awaitables_run_under_trio() -> None:
    assert trio.run(every_kind) == EXPECTED


@pytest.mark.parametrize("backend", ["trio", "asyncio"])
def test_rust_awaitables_run_under_anyio(backend: str) -> None:
    assert anyio.run(every_kind, backend=backend) == EXPECTED


@pytest.mark.parametrize("sleep", [sleep_awaitable, sleep_fast], ids=lambda s: s.__name__)
def test_a_trio_cancel_scope_drops_the_rust_future(sleep: Callable[..., Awaitable[Any]]) -> None:
    async def main() -> bool:
        with trio.move_on_after(0.01) as scope:
            await sleep(60)
        return scope.cancelled_caught

    assert trio.run(main)


def test_many_trio_tasks_wait_on_rust_timers_at_once() -> None:
    finished: list[int] = []

    async def one(i: int) -> None:
        await sleep_awaitable(0.01)
        finished.append(i)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(one, i)

    trio.run(main)
    assert sorted(finished) == list(range(200))


def test_cancel_resumes_a_parked_trio_task() -> None:
    async def main() -> str:
        awaitable = sleep_awaitable(60)
        async with trio.open_nursery() as nursery:
            outcome: list[str] = []

            async def waiter() -> None:
                try:
                    await awaitable
                except BaseException as exc:  # asyncio.CancelledError, under trio
                    outcome.append(type(exc).__name__)

            nursery.start_soon(waiter)
            await trio.sleep(0.01)
            awaitable.cancel()
        return outcome[0]

    assert trio.run(main) == "CancelledError"


@pytest.mark.parametrize("make", [lambda: ready_awaitable(None)], ids=["RustAwaitable"])
def test_send_ends_with_stop_iteration_for_a_none_result(make: Callable[[], Any]) -> None:
    steps = make().__await__()
    with pytest.raises(StopIteration) as stop:
        steps.send(None)
    assert stop.value.value is None


def test_future_iterator_send_ends_with_stop_iteration_for_a_none_result() -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        future = Future(loop=loop)
        future.set_result(None)
        with pytest.raises(StopIteration):
            future.__await__().send(None)
    finally:
        loop.close()
