"""Sweep of the awaitable classes (``Ready``, ``ReadySend``, ``YieldN``, ``Delegate``,
``TimerFuture``): wrong types, bad counts and durations, and reuse after finish,
each against what CPython does for the same mistake (``bytes(n)`` for a count,
``time.sleep`` for a duration, a coroutine for reuse, ``await x`` for wrapping)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from coroscope.awaitable import Delegate, Ready, ReadySend, TimerFuture, YieldN

from tests.coroutines import python_await
from tests.sweep import Mistake


async def one() -> int:
    return 1


def awaited_twice(make: Callable[[], Any]) -> Callable[[], object]:
    """Await what ``make()`` gives, then await it again."""

    def run() -> object:
        awaitable = make()

        async def main() -> object:
            await awaitable
            return await awaitable

        return asyncio.run(main())

    return run


COUNTS = [-1, 2**64, 1.5, "3", None]
DURATIONS = [-1.0, float("nan"), 1e300, "1", None]

MISTAKES = [
    *(
        Mistake(f"YieldN({bad!r})", lambda bad=bad: YieldN(bad), lambda bad=bad: bytes(bad))
        for bad in COUNTS
    ),
    *(
        Mistake(
            f"TimerFuture(None, {bad!r})",
            lambda bad=bad: TimerFuture(None, bad),
            lambda bad=bad: time.sleep(bad),
        )
        for bad in DURATIONS
    ),
    *(
        Mistake(
            f"Delegate({bad!r})", lambda bad=bad: Delegate(bad), lambda bad=bad: python_await(bad)
        )
        for bad in (5, None, "x")
    ),
    *(
        Mistake(f"{name} awaited twice", awaited_twice(make), awaited_twice(one))
        for name, make in {
            "Ready": lambda: Ready(1),
            "ReadySend": lambda: ReadySend(1),
            "YieldN": lambda: YieldN(2, 1),
            "Delegate": lambda: Delegate(one()),
        }.items()
    ),
    # A future may be awaited again: it gives its result again, as asyncio's does.
    Mistake(
        "TimerFuture awaited twice",
        awaited_twice(lambda: TimerFuture(1, 0.001)),
        awaited_twice(lambda: asyncio.ensure_future(asyncio.sleep(0.001, 1))),
    ),
    Mistake("ReadySend()", lambda: ReadySend(), lambda: Ready()),  # type: ignore[call-arg]
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_an_awaitable_fails_as_cpython_fails_for_the_same_mistake(mistake: Mistake) -> None:
    mistake.check()
