"""Python threads waking the loop through Rust (``src/bridge/doorbell.rs``): every
ring answers exactly one wait, whichever comes first, on both wake routes."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from coroscope.bridge import Doorbell

from tests.conftest import Run

ROUTES = pytest.mark.parametrize("fast", [False, True], ids=["classic", "fast"])


@ROUTES
def test_a_ring_before_the_wait_is_kept_for_it(fast: bool, run: Run[Any]) -> None:
    bell = Doorbell(fast=fast)
    bell.ring(2)

    async def main() -> None:
        await bell.wait()
        await bell.wait()

    run(asyncio.wait_for(main(), 10))


@ROUTES
def test_rings_from_other_threads_wake_the_loop_once_each(fast: bool, run: Run[Any]) -> None:
    bell = Doorbell(fast=fast)

    async def main() -> int:
        ringers = [threading.Thread(target=lambda: [bell.ring() for _ in range(500)])]
        ringers.append(threading.Thread(target=lambda: [bell.ring() for _ in range(500)]))
        for ringer in ringers:
            ringer.start()
        for _ in range(1000):
            await asyncio.wait_for(bell.wait(), 10)
        for ringer in ringers:
            ringer.join()
        # Every ring was answered: one more wait finds none left.
        with pytest.raises(asyncio.TimeoutError):  # the builtin one from 3.11
            await asyncio.wait_for(bell.wait(), 0.05)
        return 1000

    assert run(main()) == 1000
