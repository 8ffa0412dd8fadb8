"""Wake routes (``src/awaitable/wake.rs``): a wake-up from any thread resumes the
waiting task exactly once, even when it lands before the task has parked."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coroscope.catalogue import crossings

from tests.conftest import Run


@pytest.mark.parametrize("c", crossings("yield", "awaitable"), ids=lambda c: c.name)
def test_a_wake_during_the_poll_is_not_lost(c: Any, run: Run[Any]) -> None:
    # The future wakes itself inside its own poll, before any waiter exists:
    # `woken` remembers it, and the step yields a bare None instead of parking.
    async def main() -> list[int]:
        return [await c(i) for i in range(1000)]

    assert run(asyncio.wait_for(main(), 30)) == list(range(1000))


@pytest.mark.parametrize("c", crossings("hop"), ids=lambda c: c.name)
def test_wakes_from_tokio_racing_the_park_resume_every_task(
    c: Any, run: Run[Any], baseline: int
) -> None:
    # A tokio worker may wake the future between the pending poll and the
    # park: the parking code looks at `woken` again after installing the waiter.
    async def main() -> list[int]:
        return await asyncio.gather(*(c(i) for i in range(2000)))

    assert run(asyncio.wait_for(main(), 60)) == list(range(2000))
