"""Sweep of the runtime's own calls (``coroscope.shutdown``, ``quiesce``): bad
durations as ``time.sleep`` refuses them, and work started after a shutdown as a
``ThreadPoolExecutor`` refuses it after its own. A shutdown is for the whole
process, so each row runs in a fresh interpreter."""

from __future__ import annotations

import time

import pytest
from coroscope import quiesce, shutdown

from tests.conftest import run_python
from tests.sweep import Mistake

DURATIONS = [-1.0, float("nan"), 1e300, "1"]

MISTAKES = [
    *(
        Mistake(
            f"{fn.__name__}({bad!r})",
            lambda fn=fn, bad=bad: fn(bad),
            lambda bad=bad: time.sleep(bad),
        )
        for fn in (shutdown, quiesce)
        for bad in DURATIONS
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
def test_a_bad_duration_fails_as_time_sleep_fails_for_it(mistake: Mistake) -> None:
    mistake.check()


AFTER_SHUTDOWN = {
    "sleep_awaitable": "crossing('sleep', 'awaitable')(1, 0.01)",
    "sleep_fast": "crossing('sleep', 'fast')(1, 0.01)",
    "order_future_into_py": "crossing('order', 'future_into_py')(1, 0.01)",
    "order_async_fn": "crossing('order', 'async_fn')(1, 0.01)",
    "hop_awaitable": "crossing('hop', 'awaitable')(1)",
    "TimerFuture": "TimerFuture(1, 0.01)",
    "ticks": "anext(ticks(1, 0))",
    "order_threads": "asyncio.to_thread(order_threads, ['soda'])",
    "Kitchen": "asyncio.to_thread(Kitchen().order, ['soda'])",
}


@pytest.mark.parametrize("work", sorted(AFTER_SHUTDOWN))
def test_work_started_after_shutdown_is_refused_as_a_closed_pool_refuses_it(work: str) -> None:
    done = run_python(
        f"""
        import asyncio, concurrent.futures
        from coroscope import shutdown
        from coroscope.awaitable import TimerFuture
        from coroscope.bridge import Kitchen, order_threads, ticks
        from coroscope.catalogue import crossing

        pool = concurrent.futures.ThreadPoolExecutor(1)
        pool.shutdown()
        pool.shutdown()  # twice is harmless, for both
        try:
            pool.submit(print)
        except BaseException as err:
            print("theirs", type(err).__name__)

        shutdown()
        shutdown()

        async def main():
            return await {AFTER_SHUTDOWN[work]}

        try:
            asyncio.run(asyncio.wait_for(main(), 10))
        except BaseException as err:
            print("ours", type(err).__name__, err)
        else:
            print("ours ok")
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "panicked" not in done.stderr
    theirs, ours = done.stdout.splitlines()[-2:]
    assert theirs == "theirs RuntimeError"
    assert ours.startswith("ours RuntimeError cannot schedule new futures after shutdown"), ours
