"""Rust pyclasses that Python can await: Ready, YieldN, Delegate, ReadySend.

Loop-facing stories run on asyncio and uvloop (the ``run`` fixture in conftest).
"""

from __future__ import annotations

import asyncio
import threading
import types
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import pytest
from coroscope.await_from_rust import Stepper, await_foo, drive_send, trace
from coroscope.awaitable import Delegate, Ready, ReadySend, YieldN

from tests.conftest import Run

# --- Ready ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [42, None, (1, 2), StopIteration("inside")])
def test_await_ready_gives_its_value_unchanged(run: Run[Any], value: object) -> None:
    async def main() -> object:
        return await Ready(value)

    assert run(main()) is value


def test_ready_never_suspends() -> None:
    assert [r.outcome for r in trace(Ready("now"))] == ["return"]
    assert [r.outcome for r in trace(Ready(None))] == ["return"]


def test_ready_can_be_awaited_once(run: Run[Any]) -> None:
    ready = Ready(1)

    async def main() -> None:
        assert await ready == 1
        await ready

    with pytest.raises(RuntimeError, match="cannot reuse already awaited Ready"):
        run(main())


def test_ready_shows_its_value() -> None:
    assert repr(Ready([1])) == "Ready([1])"
    assert Ready("v").value == "v"


# --- ReadySend: Ready plus an am_send slot ----------------------------------------


@pytest.mark.parametrize("value", [42, None, (1, 2)])
def test_ready_send_gives_the_same_values_as_ready(run: Run[Any], value: object) -> None:
    async def main() -> tuple[object, object]:
        return await Ready(value), await ReadySend(value)

    first, second = run(main())
    assert first is value and second is value
    assert drive_send(ReadySend(value)) is value
    assert await_foo(ReadySend(value)) is value


def test_ready_send_is_a_ready_and_can_be_awaited_once(run: Run[Any]) -> None:
    ready = ReadySend("once")
    assert isinstance(ready, Ready)
    assert ready.value == "once"
    assert drive_send(ready) == "once"
    with pytest.raises(RuntimeError, match="cannot reuse already awaited Ready"):
        drive_send(ready)


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


# --- Delegate --------------------------------------------------------------------


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_delegate_awaits_what_it_wraps(run: Run[Any]) -> None:
    async def main() -> list[object]:
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, "from the loop")
        return [await Delegate(answer()), await Delegate(future), await Delegate(Ready(7))]

    assert run(main()) == [42, "from the loop", 7]


def test_delegate_hands_over_the_inner_iterator() -> None:
    coro = answer()
    delegate = Delegate(coro)
    assert delegate.inner is coro
    assert repr(delegate).startswith("Delegate(<coroutine object answer")
    assert [r.outcome for r in trace(delegate)] == ["yield", "return"]


@types.coroutine
def generator_based() -> Generator[None, None, int]:
    yield
    return 1


@pytest.mark.parametrize(
    "make",
    [lambda: 3, lambda: answer, generator_based],
    ids=["int", "async def", "types.coroutine"],
)
def test_delegate_refuses_what_has_no_await_method(make: Callable[[], Any]) -> None:
    obj = make()
    with pytest.raises(TypeError, match=r"can't be used in 'await' expression"):
        Delegate(obj)
    if isinstance(obj, types.GeneratorType):
        obj.close()


# --- the drivers drive Rust awaitables too -----------------------------------------


@pytest.mark.parametrize("drive", [await_foo, drive_send], ids=lambda d: d.__name__)
def test_the_drivers_run_rust_awaitables(drive: Callable[[object], Any]) -> None:
    assert drive(Ready(1)) == 1
    assert drive(Ready(None)) is None
    assert drive(YieldN(5, "y")) == "y"
    assert drive(Delegate(YieldN(2, "d"))) == "d"
    assert drive(Delegate(answer())) == 42
