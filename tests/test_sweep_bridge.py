"""Sweep of the bridge's calls that are not crossings: Rust awaiting Python
(``call_python``), running a loop from Rust (``order_blocking``), threads
(``order_threads``, ``Kitchen``), a stream (``ticks``) and a bell (``Doorbell``).
Each mistake is set beside what asyncio or CPython does for it: ``ensure_future``
for what is not awaitable, ``run_until_complete`` inside a running loop, a
``ThreadPoolExecutor`` for a pool, an async generator for a stream."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from coroscope.bridge import (
    Doorbell,
    Kitchen,
    call_python,
    call_python_with_timeout,
    current_loop,
    order_blocking,
    order_threads,
    ticks,
)

from tests.sweep import Mistake


def in_a_loop(call: Callable[[], object]) -> Callable[[], object]:
    """``call()`` inside a running loop (its awaitable, if any, awaited there)."""

    async def main() -> object:
        result = call()
        if asyncio.isfuture(result) or asyncio.iscoroutine(result):
            return await asyncio.wait_for(result, 10)
        return result

    return lambda: asyncio.run(main())


def closed_pool() -> concurrent.futures.ThreadPoolExecutor:
    pool = concurrent.futures.ThreadPoolExecutor(1)
    pool.shutdown()
    return pool


def closed_kitchen() -> Kitchen:
    kitchen = Kitchen()
    kitchen.close()
    return kitchen


async def counter(n: int) -> AsyncIterator[int]:
    for i in range(n):
        yield i


def after_close(stream: Callable[[], Any]) -> Callable[[], object]:
    async def main() -> object:
        it = stream()
        await it.aclose()
        return await anext(it)

    return lambda: asyncio.run(main())


NOT_AWAITABLE = [None, 5, "text", lambda: 5]

MISTAKES = [
    *(
        Mistake(
            f"call_python({bad!r})",
            in_a_loop(lambda bad=bad: call_python(bad)),
            in_a_loop(lambda bad=bad: asyncio.ensure_future(bad)),
        )
        for bad in NOT_AWAITABLE
    ),
    *(
        Mistake(
            # A function, not a coroutine: refused before it is called, it
            # leaves no coroutine unawaited behind it.
            f"call_python_with_timeout(fn, {bad!r})",
            in_a_loop(lambda bad=bad: call_python_with_timeout(lambda: asyncio.sleep(0), bad)),
            lambda bad=bad: time.sleep(bad),
        )
        for bad in (-1.0, float("nan"), 1e300, "1")
    ),
    Mistake("current_loop() with no loop", current_loop, asyncio.get_running_loop),
    Mistake(
        "order_blocking in a running loop",
        in_a_loop(lambda: order_blocking(["soda"])),
        in_a_loop(lambda: asyncio.new_event_loop().run_until_complete(asyncio.sleep(0))),
    ),
    *(
        Mistake(
            f"order_threads({bad!r})",
            lambda bad=bad: order_threads(bad),
            lambda bad=bad: [str(item) for item in bad],
        )
        for bad in (5, None)
    ),
    *(
        Mistake(
            f"Kitchen(pool_size={bad!r})",
            lambda bad=bad: Kitchen(pool_size=bad),
            lambda bad=bad: concurrent.futures.ThreadPoolExecutor(bad),
        )
        for bad in (0, -1, "2")
    ),
    Mistake(
        "Kitchen.order after close",
        lambda: closed_kitchen().order(["soda"]),
        lambda: closed_pool().submit(print),
    ),
    *(
        Mistake(
            f"Kitchen.order(timeout={bad!r})",
            lambda bad=bad: Kitchen().order(["soda"], timeout=bad),
            lambda bad=bad: time.sleep(bad),
        )
        for bad in (-1.0, float("nan"), 1e300, "1")
    ),
    *(
        Mistake(f"ticks({bad!r}, 0)", lambda bad=bad: ticks(bad, 0), lambda bad=bad: bytes(bad))
        for bad in (-1, 2**64, 1.5)
    ),
    Mistake(
        "anext(ticks) after aclose",
        after_close(lambda: ticks(3, 0)),
        after_close(lambda: counter(3)),
    ),
    *(
        Mistake(
            f"Doorbell.ring({bad!r})",
            lambda bad=bad: Doorbell().ring(bad),
            lambda bad=bad: bytes(bad),
        )
        for bad in (-1, 2**64, 1.5)
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_bridge_call_fails_as_asyncio_or_cpython_fails_for_the_same_mistake(
    mistake: Mistake,
) -> None:
    mistake.check()
