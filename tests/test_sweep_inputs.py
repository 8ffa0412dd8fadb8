"""Sweep of bad input to every public name: what asyncio or CPython raises for
the same mistake (a ``TypeError`` for a wrong type, a ``ValueError`` for a bad
number, asyncio's ``InvalidStateError``...), exactly that type, with a message
that says what was wrong. A name with no row fails the coverage check at the
end, so the table grows with the API.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
from coroscope import quiesce, shutdown
from coroscope.await_from_rust import (
    Stepper,
    Task,
    Trace,
    await_foo,
    drive_send,
    task_factory,
    trace,
)
from coroscope.awaitable import Delegate, Future, Ready, ReadySend, TimerFuture, YieldN, compute
from coroscope.bridge import (
    Doorbell,
    Kitchen,
    call_python,
    call_python_with_timeout,
    crossing_floor,
    order_async_fn,
    order_blocking,
    order_fast,
    order_future_into_py,
    order_threads,
    ready_awaitable,
    sleep_awaitable,
    sleep_fast,
    sleep_future_into_py,
    ticks,
)
from coroscope.catalogue import CROSSINGS
from coroscope.timeline import record

from tests.sweep import Refused

pytestmark = pytest.mark.usefixtures("rust_futures_all_dropped")


def in_loop(main: Callable[[], Coroutine[Any, Any, object]]) -> Callable[[], object]:
    """A misuse that needs a running loop: ``asyncio.run(main())``."""
    return lambda: asyncio.run(main())


async def _coroutine() -> int:
    return 1


def _with_coroutine(use: Callable[[Coroutine[Any, Any, int]], object]) -> Callable[[], object]:
    """``use(coroutine)``, the coroutine closed afterwards (it is never run)."""

    def misuse() -> object:
        coroutine = _coroutine()
        try:
            return use(coroutine)
        finally:
            coroutine.close()

    return misuse


def _spent() -> Coroutine[Any, Any, int]:
    coro = _coroutine()
    drive_send(coro)
    return coro


class _AwaitReturnsNonIterator:
    def __await__(self) -> int:
        return 42


def _drive_a_pending_future() -> object:
    """A driver meeting a pending future has no loop to wait on."""
    loop = asyncio.new_event_loop()
    try:
        return await_foo(asyncio.Future(loop=loop))
    finally:
        loop.close()


async def _await_twice(make: Callable[[], Awaitable[object]]) -> None:
    awaitable = make()
    await awaitable
    await awaitable


async def _set_result_twice(make: Callable[[], asyncio.Future[object]]) -> None:
    future = make()
    future.set_result(1)
    future.set_result(2)


async def _result_too_early(make: Callable[[], asyncio.Future[object]]) -> None:
    make().result()


async def _await_from_another_loop() -> None:
    other = asyncio.new_event_loop()
    try:
        await Future(loop=other)
    finally:
        other.close()


async def _rust_task_needs_a_coroutine() -> None:
    Task(Ready(1))  # type: ignore[arg-type]


async def _throw_needs_an_exception() -> None:
    sleep_awaitable(1).throw(42)  # type: ignore[arg-type]


async def _future_throw_needs_an_exception() -> None:
    Future().__await__().throw(42)  # type: ignore[arg-type]


# (id, what raises, its exception type, what the message must say)
_ROWS: list[tuple[str, Callable[[], object], type[BaseException], str]] = [
    # drivers
    ("await_foo: not awaitable", lambda: await_foo(42), TypeError, "int"),
    ("drive_send: not awaitable", lambda: drive_send("text"), TypeError, "str"),
    ("trace: not awaitable", lambda: trace(None), TypeError, "NoneType"),
    ("Stepper: not awaitable", lambda: Stepper(3.5), TypeError, "float"),
    ("Trace: made only by trace()", lambda: Trace(), TypeError, "cannot create"),
    (
        "timeline.record: no running loop",
        lambda: record().__aenter__().send(None),
        RuntimeError,
        "no running event loop",
    ),
    (
        "await_foo: reused coroutine",
        lambda: await_foo(_spent()),
        RuntimeError,
        "cannot reuse already awaited coroutine",
    ),
    (
        "drive_send: __await__ returns a non-iterator",
        lambda: drive_send(_AwaitReturnsNonIterator()),
        TypeError,
        "non-iterator|must return an iterator",  # up to 3.14 | 3.15
    ),
    ("drive_send: max_steps 0", lambda: drive_send(Ready(1), max_steps=0), ValueError, "max_steps"),
    (
        "await_foo: a pending future with no loop",
        _drive_a_pending_future,
        RuntimeError,
        "loop",
    ),
    # awaitables
    (
        "Ready: awaited twice",
        in_loop(lambda: _await_twice(lambda: Ready(1))),
        RuntimeError,
        "cannot reuse already awaited Ready",
    ),
    (
        "ReadySend: awaited twice",
        in_loop(lambda: _await_twice(lambda: ReadySend(1))),
        RuntimeError,
        "cannot reuse already awaited Ready",
    ),
    ("YieldN: negative count", lambda: YieldN(-1), ValueError, "n must be a non-negative"),
    (
        "YieldN: awaited twice",
        in_loop(lambda: _await_twice(lambda: YieldN(1))),
        RuntimeError,
        "cannot reuse already awaited YieldN",
    ),
    ("Delegate: not awaitable", lambda: Delegate(42), TypeError, "int"),
    (
        "Future: no running loop",
        lambda: Future(),
        RuntimeError,
        "no current event loop|no running event loop",
    ),
    (
        "Future: double set_result",
        in_loop(lambda: _set_result_twice(Future)),
        asyncio.InvalidStateError,
        "FINISHED: <Future finished result=1>",
    ),
    (
        "Future: result before done",
        in_loop(lambda: _result_too_early(Future)),
        asyncio.InvalidStateError,
        "Result is not (set|ready)",
    ),
    (
        "Future: awaited from another loop",
        in_loop(_await_from_another_loop),
        RuntimeError,
        "attached to a different loop",
    ),
    (
        "TimerFuture: negative delay",
        in_loop(lambda: _result_too_early(lambda: TimerFuture(1, -1))),
        ValueError,
        "delay must be a finite, non-negative",
    ),
    (
        "TimerFuture: double set_result",
        in_loop(lambda: _set_result_twice(lambda: TimerFuture(1, 60))),
        asyncio.InvalidStateError,
        "FINISHED: <TimerFuture finished result=1>",
    ),
    (
        "sleep_awaitable: negative delay",
        lambda: sleep_awaitable(-1),
        ValueError,
        "seconds must be a finite, non-negative",
    ),
    (
        "sleep_awaitable: not a number",
        lambda: sleep_awaitable("1"),
        TypeError,
        "must be real number, not str",
    ),  # type: ignore[arg-type]
    (
        "sleep_awaitable: stepped with no loop",
        lambda: next(iter(sleep_awaitable(1))),
        RuntimeError,
        "no running event loop",
    ),  # type: ignore[call-overload]
    (
        "RustAwaitable: awaited twice",
        in_loop(lambda: _await_twice(lambda: ready_awaitable(1))),
        RuntimeError,
        "cannot reuse already awaited RustAwaitable",
    ),
    (
        "RustAwaitable: throw of a non-exception",
        in_loop(_throw_needs_an_exception),
        TypeError,
        "exceptions must be classes or instances deriving from BaseException, not int",
    ),
    (
        "Future.__await__(): throw of a non-exception",
        in_loop(_future_throw_needs_an_exception),
        TypeError,
        "exceptions must be classes or instances deriving from BaseException, not int",
    ),
    ("compute: negative n", lambda: compute(-1), ValueError, "n must be a non-negative integer"),
    (
        "crossing_floor: negative n",
        lambda: crossing_floor(-1),
        ValueError,
        "n must be a non-negative integer",
    ),
    ("crossing_floor: n not a number", lambda: crossing_floor("5"), TypeError, "int"),
    # the Rust Task
    (
        "Task: not a coroutine",
        in_loop(_rust_task_needs_a_coroutine),
        TypeError,
        "a coroutine was expected, got",
    ),
    (
        "Task: no running loop",
        _with_coroutine(Task),
        RuntimeError,
        "no current event loop|no running event loop",
    ),
    (
        "Task: set_result",
        in_loop(lambda: _set_result_twice(lambda: Task(_coroutine()))),
        RuntimeError,
        "Task does not support set_result",
    ),
    (
        "task_factory: not a coroutine",
        in_loop(lambda: _factory_misuse()),
        TypeError,
        "a coroutine was expected, got",
    ),
    # bridges
    (
        "order: no running loop",
        lambda: order_future_into_py(["burger"]),
        RuntimeError,
        "no running event loop",
    ),
    (
        "order: unknown item",
        in_loop(lambda: _call(order_future_into_py, ["pizza"])),
        ValueError,
        "'pizza'",
    ),
    (
        "order_future_into_py: negative prep time",
        in_loop(lambda: _call(order_future_into_py, ["soda"], prep_times={"soda": -1})),
        ValueError,
        "soda",
    ),
    (
        "order_async_fn: unknown item",
        in_loop(lambda: order_async_fn(["pizza"])),
        ValueError,
        "'pizza'",
    ),
    ("order_fast: unknown item", lambda: order_fast(["pizza"]), ValueError, "'pizza'"),
    ("order_blocking: unknown item", lambda: order_blocking(["pizza"]), ValueError, "'pizza'"),
    ("order_threads: unknown item", lambda: order_threads(["pizza"]), ValueError, "'pizza'"),
    ("Kitchen: unknown item", lambda: Kitchen().order(["pizza"]), ValueError, "'pizza'"),
    (
        "sleep_future_into_py: negative delay",
        lambda: sleep_future_into_py(-1),
        ValueError,
        "seconds must be a finite, non-negative",
    ),
    (
        "sleep_fast: infinite delay",
        lambda: sleep_fast(float("inf")),
        ValueError,
        "seconds must be a finite, non-negative",
    ),
    (
        "call_python: not awaitable",
        in_loop(lambda: _call(call_python, 42)),
        TypeError,
        "An asyncio.Future, a coroutine or an awaitable is required",
    ),
    (
        "call_python_with_timeout: not awaitable",
        in_loop(lambda: _call(call_python_with_timeout, 42, 1)),
        TypeError,
        "An asyncio.Future, a coroutine or an awaitable is required",
    ),
    (
        "call_python_with_timeout: negative",
        in_loop(lambda: _call(call_python_with_timeout, _coroutine, -1)),
        ValueError,
        "seconds must be a finite, non-negative",
    ),
    ("ticks: negative interval", lambda: ticks(3, -1.0), ValueError, "interval"),
    (
        "Doorbell: negative rings",
        lambda: Doorbell().ring(-1),
        ValueError,
        "n must be a non-negative integer",
    ),
    # the runtime
    (
        "shutdown: negative timeout",
        lambda: shutdown(-1),
        ValueError,
        "timeout must be a finite, non-negative",
    ),
    (
        "quiesce: NaN timeout",
        lambda: quiesce(float("nan")),
        ValueError,
        "timeout must be a finite, non-negative",
    ),
    (
        "Doorbell: too many rings",
        lambda: Doorbell().ring(sys.maxsize),
        ValueError,
        "too many rings",
    ),
]


BAD_INPUT = [Refused(*row) for row in _ROWS]


async def _call(
    bridged: Callable[..., Awaitable[object]], *args: object, **kwargs: object
) -> object:
    return await bridged(*args, **kwargs)


async def _factory_misuse() -> None:
    task_factory(asyncio.get_running_loop(), Ready(1))  # type: ignore[arg-type]


@pytest.mark.parametrize("mistake", BAD_INPUT, ids=lambda m: m.what)
def test_bad_input_raises_pythons_or_asyncios_own_exception(mistake: Refused) -> None:
    mistake.check()
    gc.collect()  # coroutines made for a misuse and never awaited go now


def test_every_public_name_has_a_bad_input_row_or_takes_no_input() -> None:
    """The table covers the whole API: a new function or class must get a row,
    except a crossing (its arguments are swept for every crossing the catalogue
    finds, in test_sweep_crossings.py) and what takes no input, or any value."""
    import coroscope
    from coroscope._native import await_from_rust, awaitable, bridge

    takes_no_input_or_any_value = {
        "DEFAULT_MAX_STEPS", "StepRecord", "FutureIter", "RustAwaitable", "RustPanic",
        "alive", "wake_stats", "current_loop", "Ticks", "ReadySend", "panic_awaitable",
        "panic_future_into_py",
        "build_info", "is_shut_down", "__version__",
    }  # fmt: skip
    swept = {crossing.name for crossing in CROSSINGS}
    covered = " ".join(row.what for row in BAD_INPUT)
    for module in (coroscope, await_from_rust, awaitable, bridge):
        for name in module.__all__:
            if name in takes_no_input_or_any_value or name in swept:
                continue
            assert re.search(rf"\b{name}\b", covered), name
