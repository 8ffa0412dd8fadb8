"""Giving way to the loop: ``YieldN`` yields ``n`` bare ``None``s, then finishes
(``src/awaitable/yield_n.rs``).
Loop-facing stories run on every loop (asyncio's, uvloop, rloop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coroscope.await_from_rust import Stepper, drive_send, trace
from coroscope.awaitable import YieldN

from tests.conftest import Run

# --- YieldN ----------------------------------------------------------------------


def log_interleaving(first: Callable[[], Awaitable[object]]) -> Callable[[], Any]:
    """Two tasks: `a` awaits `first()` between two log entries, `b` yields three times."""

    async def main() -> list[str]:
        log: list[str] = []

        async def a() -> None:
            log.append("a starts")
            log.append(f"a got {await first()}")

        async def b() -> None:
            for i in range(3):
                log.append(f"b{i}")
                await asyncio.sleep(0)

        await asyncio.gather(a(), b())
        return log

    return main


def test_yieldn_interleaves_with_other_tasks_exactly_like_sleep_zero(run: Run[Any]) -> None:
    async def two_sleeps() -> str:
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return "v"

    expected = run(log_interleaving(two_sleeps)())
    assert expected == ["a starts", "b0", "b1", "a got v", "b2"]
    assert run(log_interleaving(lambda: YieldN(2, "v"))()) == expected


def test_yieldn_yields_none_n_times_then_returns() -> None:
    records = trace(YieldN(3, "v"))
    assert [(r.outcome, r.value) for r in records] == [
        ("yield", None),
        ("yield", None),
        ("yield", None),
        ("return", "v"),
    ]


def test_yieldn_counts_down_and_can_be_awaited_once() -> None:
    awaitable = YieldN(2)
    assert awaitable.remaining == 2
    stepper = Stepper(awaitable)
    stepper.step()
    assert awaitable.remaining == 1
    assert repr(awaitable) == "YieldN(remaining=1, value=None)"
    stepper.step()
    assert stepper.step().outcome == "return"
    assert awaitable.remaining == 0
    with pytest.raises(RuntimeError, match="cannot reuse already awaited YieldN"):
        drive_send(awaitable)


@pytest.mark.parametrize(("n", "error"), [(-1, ValueError), (2**64 - 1, OverflowError)])
def test_yieldn_refuses_impossible_counts(n: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        YieldN(n)


def test_yieldn_stepped_from_many_threads_yields_exactly_n_times() -> None:
    n, threads = 10_000, 8
    awaitable = YieldN(n, "done")
    counts = {"yield": 0, "return": 0, "reused": 0}
    lock = threading.Lock()

    def step_until_exhausted() -> None:
        while True:
            try:
                next(awaitable)
                outcome = "yield"
            except StopIteration:
                outcome = "return"
            except RuntimeError:
                outcome = "reused"
            with lock:
                counts[outcome] += 1
            if outcome != "yield":
                return

    workers = [threading.Thread(target=step_until_exhausted) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert counts == {"yield": n, "return": 1, "reused": threads - 1}
