"""Production bridging: pyo3-async-runtimes, PyO3's async fn, threads and the GIL, streams.

PyBurger prep times are milliseconds apart by a wide margin, so completion order
is a matter of which timer is due first, not of machine speed. Every story that
awaits runs on asyncio and on uvloop (the ``run`` fixture).
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from coroscope import alive
from coroscope.awaitable import hop_awaitable, ready_awaitable, yield_awaitable
from coroscope.bridge import (
    Kitchen,
    RustPanic,
    call_python,
    call_python_with_timeout,
    current_loop,
    hop_async_fn,
    hop_fast,
    hop_future_into_py,
    order_async_fn,
    order_blocking,
    order_future_into_py,
    order_threads,
    panic_future_into_py,
    ready_async_fn,
    ready_fast,
    ready_future_into_py,
    sleep_future_into_py,
    ticks,
    yield_async_fn,
    yield_fast,
    yield_future_into_py,
)
from coroscope.soak import settle

from tests.conftest import Run

FAST = {"burger": 0.06, "fries": 0.03, "soda": 0.0}
SLOW = {"burger": 60.0}
MEAL_ORDER = ["soda", "fries", "burger"]

ORDERS: dict[str, Callable[..., Any]] = {
    "future_into_py": order_future_into_py,
    "async_fn": order_async_fn,
}


@pytest.fixture
def baseline() -> Iterator[int]:
    """``alive()`` before the test; it must come back to it afterwards."""
    before = alive()
    yield before
    assert settle(lambda: alive() == before), "a Rust future outlived its test"


# --- PyBurger through both async bridges ---------------------------------------------


@pytest.mark.parametrize("bridge", sorted(ORDERS))
def test_an_order_is_cooked_concurrently_and_served_as_it_finishes(
    run: Run[Any], bridge: str
) -> None:
    async def main() -> tuple[list[str], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        served = await ORDERS[bridge](["value_meal"], prep_times=FAST)
        return served, loop.time() - start

    served, _ = run(main())
    assert served == MEAL_ORDER


@pytest.mark.parametrize("bridge", sorted(ORDERS))
def test_an_unknown_item_is_refused_by_name(bridge: str) -> None:
    async def main() -> object:
        return await ORDERS[bridge](["burger", "pizza"])

    with pytest.raises(ValueError, match="unknown item 'pizza'"):
        asyncio.run(main())


@pytest.mark.parametrize("bridge", sorted(ORDERS))
def test_cancelling_an_order_drops_the_rust_future(
    run: Run[Any], bridge: str, baseline: int
) -> None:
    async def main() -> bool:
        task = asyncio.ensure_future(ORDERS[bridge](["burger"], prep_times=SLOW))
        await asyncio.sleep(0.02)
        assert alive() > baseline
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main())


def test_prep_times_are_checked() -> None:
    with pytest.raises(ValueError, match="per item, not per meal"):
        order_blocking(["soda"], prep_times={"value_meal": 1.0})
    with pytest.raises(ValueError, match="prep time of soda must be a finite"):
        order_blocking(["soda"], prep_times={"soda": -1.0})


def test_the_no_running_loop_gotcha_and_its_fix() -> None:
    # order_future_into_py(...) is evaluated before asyncio.run starts a loop: future_into_py
    # has no running loop to make its asyncio future on.
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.run(order_future_into_py(["soda"], prep_times=FAST))

    async def main() -> list[str]:
        return await order_future_into_py(["soda"], prep_times=FAST)

    assert asyncio.run(main()) == ["soda"]
    # A PyO3 async fn returns a real coroutine, so asyncio.run takes it as is.
    assert asyncio.run(order_async_fn(["soda"], prep_times=FAST)) == ["soda"]


def test_rust_can_run_the_loop_itself() -> None:
    assert order_blocking(["value_meal"], prep_times=FAST) == MEAL_ORDER


def test_current_loop_is_the_running_loop(run: Run[Any]) -> None:
    async def main() -> bool:
        return current_loop() is asyncio.get_running_loop()

    assert run(main())


def test_rust_sleep_gives_none(run: Run[Any], baseline: int) -> None:
    assert run(call(sleep_future_into_py, 0.001)) is None
    with pytest.raises(ValueError, match="seconds must be a finite"):
        sleep_future_into_py(-1)


async def call(bridged: Callable[..., Any], *args: object) -> Any:
    """Call a ``future_into_py`` function inside the running loop, and await it."""
    return await bridged(*args)


# --- the three shapes of wait, through every bridge ------------------------------------

# (shape, bridge) -> the example crossing: ready at once, pending once and woken
# on the polling thread, or woken from a tokio worker thread. The benchmarks
# (python -m coroscope.bench, benches/bridge.rs) time exactly these.
CROSSINGS: dict[tuple[str, str], Callable[[object], Awaitable[object]]] = {
    ("ready", "future_into_py"): ready_future_into_py,
    ("ready", "pyo3_async_fn"): ready_async_fn,
    ("ready", "rust_awaitable"): ready_awaitable,
    ("ready", "fast_bridge"): ready_fast,
    ("yield", "future_into_py"): yield_future_into_py,
    ("yield", "pyo3_async_fn"): yield_async_fn,
    ("yield", "rust_awaitable"): yield_awaitable,
    ("yield", "fast_bridge"): yield_fast,
    ("hop", "future_into_py"): hop_future_into_py,
    ("hop", "pyo3_async_fn"): hop_async_fn,
    ("hop", "rust_awaitable"): hop_awaitable,
    ("hop", "fast_bridge"): hop_fast,
}


@pytest.mark.parametrize(("shape", "bridge"), sorted(CROSSINGS))
def test_every_crossing_gives_its_value_back_alone_or_gathered(
    shape: str, bridge: str, run: Run[Any], rust_futures_all_dropped: None
) -> None:
    cross = CROSSINGS[shape, bridge]

    async def main() -> tuple[object, list[object]]:
        return await cross("one"), await asyncio.gather(*(cross(i) for i in range(100)))

    assert run(main()) == ("one", list(range(100)))


@pytest.mark.parametrize(("shape", "bridge"), sorted(key for key in CROSSINGS if key[0] != "hop"))
def test_only_a_crossing_that_waits_lets_the_loop_run_in_between(
    shape: str, bridge: str, run: Run[Any]
) -> None:
    """A callback scheduled before the await runs during it only if the await yields.

    ``future_into_py`` always yields: its asyncio future is finished later, from
    tokio, even when the Rust future was ready at its first poll. (A hop may or
    may not wait: the tokio task can finish before its handle is first polled.)
    """
    cross = CROSSINGS[shape, bridge]

    async def main() -> bool:
        ran = asyncio.Event()
        asyncio.get_running_loop().call_soon(ran.set)
        await cross(None)
        return ran.is_set()

    assert run(main()) is (shape != "ready" or bridge == "future_into_py")


# --- Rust awaits Python ---------------------------------------------------------------


async def double_later(x: int) -> int:
    await asyncio.sleep(0.001)
    return 2 * x


def test_rust_awaits_a_python_coroutine_or_function(run: Run[Any]) -> None:
    async def main() -> list[int]:
        return [await call_python(double_later(21)), await call_python(lambda: double_later(2))]

    assert run(main()) == [42, 4]


def test_a_python_exception_reaches_the_python_caller_through_rust(run: Run[Any]) -> None:
    async def fails() -> None:
        raise LookupError("from Python")

    with pytest.raises(LookupError, match="from Python"):
        run(call(call_python, fails))


def test_contextvars_travel_into_python_called_back_from_rust(run: Run[Any]) -> None:
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request")

    async def read_it() -> str:
        return request.get("unset")

    async def main() -> list[str]:
        request.set("req-1")
        return [
            await call_python(read_it()),
            await call_python_with_timeout(read_it(), 5),
        ]

    assert run(main()) == ["req-1", "req-1"]


def test_dropping_the_rust_future_cancels_the_python_task(run: Run[Any]) -> None:
    log: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            log.append("python task cancelled")
            raise

    async def main() -> None:
        with pytest.raises(TimeoutError, match="Rust stopped waiting"):
            await call_python_with_timeout(slow(), 0.02)
        for _ in range(100):
            if log:
                break
            await asyncio.sleep(0.001)

    run(main())
    assert log == ["python task cancelled"]


def test_a_panic_in_a_bridged_future_is_a_python_exception(run: Run[Any]) -> None:
    with pytest.raises(RustPanic):
        run(call(panic_future_into_py, "boom"))
    assert run(call(sleep_future_into_py, 0)) is None  # and the runtime goes on


# --- threads and the GIL ------------------------------------------------------------


def test_threads_cook_while_other_python_threads_run() -> None:
    beats = 0
    stop = threading.Event()

    def heartbeat() -> None:
        nonlocal beats
        while not stop.is_set():
            beats += 1
            time.sleep(0.001)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    try:
        assert order_threads(["value_meal"], prep_times=FAST) == MEAL_ORDER
    finally:
        stop.set()
        thread.join()
    assert beats > 0  # the waiting order detached: the heartbeat thread ran


def test_waiting_attached_deadlocks_and_gives_up_with_the_fix_in_the_message() -> None:
    with Kitchen(prep_times={"fries": 0.005}, pool_size=2) as kitchen:
        with pytest.raises(TimeoutError, match=r"deadlock: .*release=True"):
            kitchen.order(["fries"] * 5, release=False, timeout=0.2)


def test_many_python_threads_order_at_once_and_the_pools_balance() -> None:
    threads, per_order = 6, ["value_meal", "burger", "soda"]
    served: list[list[str]] = []
    fast = {"burger": 0.002, "fries": 0.001, "soda": 0.0}
    with Kitchen(prep_times=fast, pool_size=3) as kitchen:

        def place() -> None:
            served.append(kitchen.order(per_order, timeout=30))

        workers = [threading.Thread(target=place) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stats = kitchen.stats()
    assert len(served) == threads
    assert all(sorted(s) == sorted(["burger", "soda", "fries", "burger", "soda"]) for s in served)
    for item, row in stats.items():
        assert row["cooked"] == row["served"] + row["in_pool"], item
    assert stats["burger"]["served"] == 2 * threads


# --- a Rust stream as an async iterator ------------------------------------------------


def test_ticks_arrive_in_order(run: Run[Any], baseline: int) -> None:
    async def main() -> list[int]:
        return [tick async for tick in ticks(5, 0.001)]

    assert run(main()) == [0, 1, 2, 3, 4]


def test_breaking_out_stops_the_producer(run: Run[Any], baseline: int) -> None:
    async def main() -> list[int]:
        seen = []
        async for tick in ticks(1_000_000, 0.0):
            seen.append(tick)
            if tick == 2:
                break
        return seen

    assert run(main()) == [0, 1, 2]


def test_cancelling_the_consumer_stops_the_producer(run: Run[Any], baseline: int) -> None:
    async def consume() -> None:
        async for _ in ticks(1_000_000, 0.01):
            pass

    async def main() -> None:
        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.03)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
