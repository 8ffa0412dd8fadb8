"""A Rust stream as an async iterator (``src/bridge/ticks.rs``): ticks arrive in
order, and breaking out or cancelling stops the producer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coroscope.bridge import (
    ticks,
)

from tests.conftest import Run

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


def test_anext_of_a_fresh_tick_stream_gives_its_first_tick(run: Run[Any]) -> None:
    """The ``__anext__`` awaitable keeps its iterator alive, as an async
    generator's does: the stream used to be freed (and stopped) before the tick."""

    async def main() -> int:
        return await anext(ticks(3, 0))  # type: ignore[no-any-return]

    assert run(main()) == 0
