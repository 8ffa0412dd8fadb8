"""The awaitable bridge (``src/bridge/awaitable.rs``): a Rust future in a
``RustAwaitable``, one function per shape of wait. How the awaitable itself
steps, wakes and drops is ``tests/test_rust_future.py``'s; every crossing's
common promises are ``tests/test_shapes.py``'s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coroscope.bridge import sleep_awaitable

from tests.conftest import Run

pytestmark = pytest.mark.usefixtures("rust_futures_all_dropped")


@pytest.mark.parametrize("seconds", [-0.5, float("nan")])
def test_sleep_rust_refuses_impossible_durations(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds must be a finite, non-negative number"):
        sleep_awaitable(seconds)


def test_ten_thousand_rust_timers_gathered_all_finish(run: Run[Any]) -> None:
    async def main() -> list[int]:
        return await asyncio.gather(*(sleep_awaitable(0.01, i) for i in range(10_000)))

    assert run(main()) == list(range(10_000))
