"""pyo3-async-runtimes on the kit's own runtime (``src/support/kit_tokio.rs``):
its routes are cut by a shutdown, and counted until they let go of their loop."""

from __future__ import annotations

import asyncio
import gc
import sys
from asyncio import Runner

import pytest
from coroscope import quiesce
from coroscope.bridge import sleep_future_into_py

from tests.conftest import SHUT_DOWN, awaited_across_a_shutdown

# Every kind of pyo3-async-runtimes route, pending when another thread shuts the
# runtime down. Each used to stay pending for ever (and a thread in
# order_blocking kept the interpreter from exiting); like the work of an executor
# shut down with cancel_futures=True, each ends at once, with the error every
# refused call gives.
ROUTES = {
    "future_into_py": "sleep_future_into_py(60)",
    "an order through future_into_py": (
        "order_future_into_py(['burger'], prep_times={'burger': 60})"
    ),
    "into_future": "call_python(asyncio.sleep(60))",
    "into_future with a Rust timeout": "call_python_with_timeout(asyncio.sleep(60), 60)",
    "run_until_complete in a thread": (
        "asyncio.to_thread(order_blocking, ['burger'], prep_times={'burger': 60})"
    ),
}


@pytest.mark.parametrize("work", ROUTES.values(), ids=ROUTES.keys())
def test_a_route_pending_when_another_thread_shuts_down_fails_with_the_shutdown_error(
    work: str,
) -> None:
    assert awaited_across_a_shutdown(work).startswith(SHUT_DOWN)


def test_quiesce_waits_until_cancelled_future_into_py_calls_let_go_of_their_loop() -> None:
    async def storm() -> None:
        waiting = [asyncio.ensure_future(sleep_future_into_py(60)) for _ in range(2_000)]
        await asyncio.sleep(0.01)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    with Runner() as runner:
        loop = runner.get_loop()
        assert quiesce()
        gc.collect()
        before = sys.getrefcount(loop)
        runner.run(storm())
        assert quiesce()
        gc.collect()
        assert sys.getrefcount(loop) == before
