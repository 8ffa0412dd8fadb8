"""The live counter (``src/support/live.rs``): ``coroscope.alive()`` counts Rust futures made
and not yet dropped, whichever bridge made them, so a drop can be proven."""

from __future__ import annotations

import asyncio
from typing import Any

import coroscope
import pytest
from coroscope.catalogue import crossings

from tests.conftest import Run


def test_alive_is_exported_once_at_the_top() -> None:
    import coroscope.awaitable
    import coroscope.bridge

    assert "alive" in coroscope.__all__
    assert not hasattr(coroscope.awaitable, "alive")
    assert not hasattr(coroscope.bridge, "alive")


@pytest.mark.parametrize("c", crossings("sleep"), ids=lambda c: c.name)
def test_a_pending_future_counts_until_its_task_is_cancelled(
    c: Any, run: Run[Any], baseline: int
) -> None:
    async def main() -> int:
        task = asyncio.ensure_future(c(None, 60.0))
        await asyncio.sleep(0.05)
        during = coroscope.alive() - baseline
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return during

    assert run(main()) == 1  # and the fixture sees it dropped afterwards
