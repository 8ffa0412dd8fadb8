"""Driving Python coroutines by hand from Rust: ``await_foo`` and ``drive_send``
(``src/await_from_rust/drive.rs``).

The promise under test is "semantics identical to Python's": wherever Python's own
``await`` has an answer (a result, an exception, an error message), the drivers give
the same one, so most tests compare a driver with what Python itself does.
"""

from __future__ import annotations

import asyncio
import inspect
import traceback
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest
from coroscope.await_from_rust import (
    DEFAULT_MAX_STEPS,
    Stepper,
    await_foo,
    drive_send,
    trace,
)
from coroscope.awaitable import Delegate, Ready, YieldN
from hypothesis import given, settings

from tests.coroutines import (
    AGREEMENT,
    Statement,
    StopIterationClass,
    check_drivers_agree,
    programs,
    python_await,
    raised_by,
    raises_chained,
    reference_drive,
    sleeps_then_returns,
)

DRIVERS = [await_foo, drive_send]
drivers = pytest.mark.parametrize("drive", DRIVERS, ids=lambda d: d.__name__)


DRIVERS = [await_foo, drive_send]
drivers = pytest.mark.parametrize("drive", DRIVERS, ids=lambda d: d.__name__)


# --- what can be awaited ----------------------------------------------------------


class AwaitableClass:
    """An object with __await__ that delegates to a coroutine."""

    def __await__(self) -> Generator[Any, Any, str]:
        return (yield from sleeps_then_returns(2, "from __await__").__await__())


@types.coroutine
def generator_based() -> Generator[None, Any, str]:
    yield
    return "from types.coroutine"


def done_future() -> asyncio.Future[str]:
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        future.set_result("from a done future")
        return future
    finally:
        loop.close()


async def _async_def() -> str:
    return "from an async def"


# name -> (make the awaitable, what awaiting it gives)
AWAITABLES: dict[str, tuple[Callable[[], object], object]] = {
    "coroutine object": (lambda: sleeps_then_returns(3, "from a coroutine"), "from a coroutine"),
    "async def function": (lambda: _async_def, "from an async def"),
    "types.coroutine generator": (generator_based, "from types.coroutine"),
    "types.coroutine function": (lambda: generator_based, "from types.coroutine"),
    "class with __await__": (AwaitableClass, "from __await__"),
    "class raising StopIteration": (StopIterationClass, "from __next__"),
    "done asyncio.Future": (done_future, "from a done future"),
}


@drivers
@pytest.mark.parametrize(("make", "expected"), AWAITABLES.values(), ids=AWAITABLES.keys())
def test_every_kind_of_awaitable_gives_what_await_gives(
    drive: Callable[[object], Any], make: Callable[[], object], expected: object
) -> None:
    obj = make()
    if not callable(obj):
        assert python_await(make()) == expected, "the table agrees with Python"
    assert drive(obj) == expected


@drivers
def test_a_coroutine_that_returns_none_gives_none(drive: Callable[[object], Any]) -> None:
    assert drive(sleeps_then_returns(2, None)) is None


# --- exceptions pass through unchanged ---------------------------------------------


@drivers
def test_an_exception_keeps_its_type_args_cause_and_frames(drive: Callable[[object], Any]) -> None:
    err = raised_by(lambda: drive(raises_chained()))
    assert type(err) is ValueError
    assert err.args == ("outer", 2)
    assert isinstance(err.__cause__, KeyError)
    assert isinstance(err.__context__, KeyError)
    frames = [frame.name for frame in traceback.extract_tb(err.__traceback__)]
    assert "raises_chained" in frames


async def raises_stop_iteration() -> None:
    await asyncio.sleep(0)
    raise StopIteration("inside")


@drivers
def test_stop_iteration_inside_a_coroutine_becomes_runtime_error_as_pep_479_says(
    drive: Callable[[object], Any],
) -> None:
    expected = raised_by(lambda: python_await(raises_stop_iteration()))
    err = raised_by(lambda: drive(raises_stop_iteration()))
    assert type(err) is type(expected) is RuntimeError
    assert err.args == expected.args
    assert isinstance(err.__cause__, StopIteration)


# --- misuse gives Python's own errors ----------------------------------------------


class AwaitReturnsInt:
    def __await__(self) -> int:
        return 1


class AwaitReturnsCoroutine:
    def __await__(self) -> Coroutine[Any, Any, int]:
        async def inner() -> int:
            return 1

        return inner()


class InstanceAwait:
    """``__await__`` set on the instance: ``await`` ignores it, and so must we."""

    def __init__(self) -> None:
        self.__await__ = lambda: iter(())


MISUSE: dict[str, Callable[[], object]] = {
    "int": lambda: 1,
    "plain function": lambda: len,
    "generator not marked types.coroutine": lambda: (x for x in ()),
    "__await__ returns an int": AwaitReturnsInt,
    "__await__ returns a coroutine": AwaitReturnsCoroutine,
    "__await__ only on the instance": InstanceAwait,
}


@drivers
@pytest.mark.parametrize("make", MISUSE.values(), ids=MISUSE.keys())
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_misuse_gives_the_same_type_error_as_await(
    drive: Callable[[object], Any], make: Callable[[], object]
) -> None:
    expected = raised_by(lambda: python_await(make()))
    err = raised_by(lambda: drive(make()))
    assert type(err) is type(expected) is TypeError
    assert str(err) == str(expected)


@drivers
def test_a_coroutine_awaited_twice_raises_pythons_own_error(drive: Callable[[object], Any]) -> None:
    coro = sleeps_then_returns(1, "once")
    assert drive(coro) == "once"
    expected = raised_by(lambda: reference_drive(coro))
    err = raised_by(lambda: drive(coro))
    assert type(err) is RuntimeError
    assert str(err) == str(expected) == "cannot reuse already awaited coroutine"


@drivers
def test_a_coroutine_suspended_elsewhere_is_refused(drive: Callable[[object], Any]) -> None:
    async def inner() -> None:
        await asyncio.sleep(0)

    async def outer() -> None:
        await inner()

    coro = inner()
    suspended = outer()
    # Suspend `coro` inside another awaiter, as `await` would: the driver must refuse.
    holder = Stepper(_awaits(coro))
    holder.step()
    err = raised_by(lambda: drive(coro))
    assert type(err) is RuntimeError
    assert str(err) == "coroutine is being awaited already"
    holder.close()
    suspended.close()


async def _awaits(coro: Coroutine[Any, Any, Any]) -> Any:
    return await coro


# --- what gets yielded -------------------------------------------------------------


@drivers
def test_bare_yields_are_resumed_with_none(drive: Callable[[object], Any]) -> None:
    received: list[object] = []

    @types.coroutine
    def records_what_it_receives() -> Generator[None, Any, int]:
        for _ in range(3):
            received.append((yield))
        return len(received)

    assert drive(records_what_it_receives()) == 3
    assert received == [None, None, None]


@drivers
def test_a_pending_future_needs_an_event_loop(drive: Callable[[object], Any]) -> None:
    loop = asyncio.new_event_loop()
    future = loop.create_future()

    async def waits() -> object:
        return await future

    err = raised_by(lambda: drive(waits()))
    loop.close()
    assert type(err) is RuntimeError
    assert "needs an event loop" in str(err)
    assert repr(future) in str(err)
    assert "asyncio.run" in str(err)


@drivers
def test_a_bad_yield_is_named_in_the_error(drive: Callable[[object], Any]) -> None:
    @types.coroutine
    def yields_a_number() -> Generator[int, Any, None]:
        yield 42

    err = raised_by(lambda: drive(yields_a_number()))
    assert type(err) is RuntimeError
    assert "neither None" in str(err)
    assert str(err).endswith(": 42")


@drivers
def test_max_steps_counts_resumptions(drive: Callable[..., Any]) -> None:
    # Three yields, then the return: four steps.
    assert drive(sleeps_then_returns(3, "ok"), max_steps=4) == "ok"
    err = raised_by(lambda: drive(sleeps_then_returns(3, "ok"), max_steps=3))
    assert type(err) is RuntimeError
    assert "did not finish within max_steps=3" in str(err)


@drivers
def test_a_coroutine_that_never_finishes_is_stopped(drive: Callable[..., Any]) -> None:
    async def forever() -> None:
        while True:
            await asyncio.sleep(0)

    err = raised_by(lambda: drive(forever(), max_steps=1000))
    assert "did not finish" in str(err)


@drivers
@pytest.mark.parametrize(("max_steps", "error"), [(0, ValueError), (-1, ValueError)])
def test_max_steps_must_be_positive(
    drive: Callable[..., Any], max_steps: int, error: type[Exception]
) -> None:
    coro = sleeps_then_returns(0, None)
    with pytest.raises(error):
        drive(coro, max_steps=max_steps)
    coro.close()


@pytest.mark.parametrize("fn", [await_foo, drive_send, trace], ids=lambda f: f.__name__)
def test_the_signature_shows_the_real_default(fn: Callable[..., Any]) -> None:
    # What Jupyter's `?` shows must be what the function does.
    assert inspect.signature(fn).parameters["max_steps"].default == DEFAULT_MAX_STEPS == 1_000_000


# --- the drivers drive Rust awaitables too -----------------------------------------


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


@drivers
def test_the_drivers_run_rust_awaitables(drive: Callable[[object], Any]) -> None:
    assert drive(Ready(1)) == 1
    assert drive(Ready(None)) is None
    assert drive(YieldN(5, "y")) == "y"
    assert drive(Delegate(YieldN(2, "d"))) == "d"
    assert drive(Delegate(answer())) == 42


# --- differential testing: random programs, every driver agrees ---------------------


@settings(AGREEMENT, max_examples=2000)
@given(programs)
def test_every_driver_agrees_with_the_reference_driver(program: list[Statement]) -> None:
    check_drivers_agree(program)


@pytest.mark.slow
@settings(AGREEMENT, max_examples=50_000)
@given(programs)
def test_every_driver_agrees_on_many_more_programs(program: list[Statement]) -> None:
    check_drivers_agree(program)
