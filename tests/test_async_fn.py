"""PyO3's own ``async fn`` (``src/bridge/native.rs``): a real coroutine, polled on the
loop's thread, that needs no running loop until its first step."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from coroscope.bridge import hop_async_fn, order_async_fn, ready_async_fn

from tests.conftest import FAST, MEAL_ORDER, Run


def test_an_async_fn_returns_a_coroutine_that_asyncio_run_takes_as_is() -> None:
    coroutine = order_async_fn(["value_meal"], prep_times=FAST)
    assert inspect.iscoroutine(coroutine) or asyncio.iscoroutine(coroutine)
    assert asyncio.run(coroutine) == MEAL_ORDER  # no running loop needed to make it


def test_a_ready_async_fn_finishes_without_letting_the_loop_run(run: Run[Any]) -> None:
    async def main() -> bool:
        ran = asyncio.Event()
        asyncio.get_running_loop().call_soon(ran.set)
        assert await ready_async_fn(1) == 1
        return ran.is_set()

    assert run(main()) is False


def test_an_async_fn_woken_from_tokio_resumes_on_the_loop(run: Run[Any], baseline: int) -> None:
    async def main() -> list[int]:
        return await asyncio.gather(*(hop_async_fn(i) for i in range(100)))

    assert run(main()) == list(range(100))
