"""Argument checks every entry point shares (``src/support/args.rs``): the same mistake
gets the same error, of Python's own type, naming the argument."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from coroscope import quiesce, shutdown
from coroscope.await_from_rust import await_foo, drive_send, trace
from coroscope.awaitable import Ready, TimerFuture, YieldN, compute
from coroscope.bridge import (
    Doorbell,
    Kitchen,
    sleep_awaitable,
    sleep_fast,
    sleep_future_into_py,
    ticks,
)

from tests.conftest import Run

COUNTS: dict[str, tuple[Callable[[], object], str]] = {
    "await_foo(max_steps=-1)": (lambda: await_foo(Ready(1), max_steps=-1), "max_steps"),
    "drive_send(max_steps=-1)": (lambda: drive_send(Ready(1), max_steps=-1), "max_steps"),
    "trace(max_steps=-1)": (lambda: trace(Ready(1), max_steps=-1), "max_steps"),
    "YieldN(-1)": (lambda: YieldN(-1), "n"),
    "ticks(-1, 0)": (lambda: ticks(-1, 0), "n"),
    "Doorbell().ring(-1)": (lambda: Doorbell().ring(-1), "n"),
    "Kitchen(pool_size=-1)": (lambda: Kitchen(pool_size=-1), "pool_size"),
}


@pytest.mark.parametrize("call", sorted(COUNTS))
def test_a_negative_count_is_a_value_error_naming_the_argument(call: str) -> None:
    make, argument = COUNTS[call]
    with pytest.raises(ValueError, match=rf"^{argument} must be "):
        make()


def test_compute_of_a_negative_count_is_a_value_error(run: Run[Any]) -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match=r"^n must be a non-negative integer, not -1"):
            compute(-1)

    run(main())


SECONDS: dict[str, tuple[Callable[[float], object], str]] = {
    "sleep_awaitable": (lambda s: sleep_awaitable(s), "seconds"),
    "sleep_fast": (lambda s: sleep_fast(s), "seconds"),
    "sleep_future_into_py": (lambda s: sleep_future_into_py(s), "seconds"),
    "TimerFuture": (lambda s: TimerFuture(None, s), "delay"),
    "ticks": (lambda s: ticks(1, s), "interval"),
    "Kitchen prep time": (lambda s: Kitchen(prep_times={"soda": s}), "prep time of soda"),
    "Kitchen.order": (lambda s: Kitchen().order(["soda"], timeout=s), "timeout"),
    "shutdown": (lambda s: shutdown(s), "timeout"),
    "quiesce": (lambda s: quiesce(s), "timeout"),
}


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf")])
@pytest.mark.parametrize("call", sorted(SECONDS))
def test_seconds_that_are_no_duration_are_a_value_error_naming_the_argument(
    call: str, value: float, run: Run[Any]
) -> None:
    """``time.sleep`` says ValueError for these too (and waits forever for inf)."""
    make, argument = SECONDS[call]

    async def main() -> None:
        with pytest.raises(ValueError, match=rf"^{argument} must be a finite, non-negative"):
            make(value)

    run(main())


@pytest.mark.parametrize("call", sorted(SECONDS))
def test_seconds_too_large_for_any_clock_are_an_overflow_error_as_time_sleep_says(
    call: str, run: Run[Any]
) -> None:
    with pytest.raises(OverflowError):
        time.sleep(1e300)
    make, argument = SECONDS[call]

    async def main() -> None:
        with pytest.raises(OverflowError, match=rf"^{argument} is too large: 1e300 seconds"):
            make(1e300)

    run(main())
