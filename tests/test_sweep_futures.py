"""Sweep of the Rust ``Future`` and ``Task`` against asyncio's C ones, mistake by
mistake: finishing twice, reading too early, bad exceptions, foreign and closed
loops, wrong coroutine types. Each row is run on both classes in the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from coroscope.await_from_rust import Task
from coroscope.awaitable import Future

from tests.sweep import Mistake


def on_a_loop(body: Callable[[Any, asyncio.AbstractEventLoop], object]) -> Callable[[type], object]:
    """``body(cls, loop)`` on a fresh loop that is closed afterwards."""

    def run(cls: type) -> object:
        loop = asyncio.new_event_loop()
        try:
            return body(cls, loop)
        finally:
            loop.close()

    return run


def finished_twice(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    future = cls(loop=loop)
    future.set_result(1)
    return future.set_result(2)


def exception_then_result(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    future = cls(loop=loop)
    future.set_exception(ValueError())
    future.exception()  # retrieved: nothing is reported when it goes
    return future.set_result(1)


def result_too_early(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    return cls(loop=loop).result()


def exception_too_early(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    return cls(loop=loop).exception()


def bad_exception(value: object) -> Callable[[Any, asyncio.AbstractEventLoop], object]:
    def body(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
        return cls(loop=loop).set_exception(value)

    return body


def awaited_on_another_loop(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    future = cls(loop=loop)

    async def main() -> object:
        return await future

    return asyncio.run(main())


def callback_on_a_closed_loop(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    future = cls(loop=loop)
    future.add_done_callback(lambda _: None)
    loop.close()
    return future.set_result(1)


def cancelled_result(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    future = cls(loop=loop)
    future.cancel()
    return future.result()


def set_result_on_a_task(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
    coro = asyncio.sleep(0)
    try:
        return cls(coro, loop=loop).set_result(1)
    finally:
        coro.close()  # the task never ran: no "never awaited" warning later


def uninitialized(attribute: str) -> Callable[[Any, asyncio.AbstractEventLoop], object]:
    def body(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
        future = cls.__new__(cls)  # __init__ never called
        return repr(future) if attribute == "repr" else getattr(future, attribute)

    return body


def log_destroy_pending_set_to(value: object) -> Callable[[Any, asyncio.AbstractEventLoop], object]:
    def body(cls: Any, loop: asyncio.AbstractEventLoop) -> object:
        coro = asyncio.sleep(0)
        task = cls(coro, loop=loop)
        try:  # the setter may refuse the value: the coroutine is closed all the same
            task._log_destroy_pending = value
            assert task._log_destroy_pending is bool(value)
        finally:
            task.cancel()
            coro.close()
        return None

    return body


FUTURE_MISTAKES = {
    "set_result twice": finished_twice,
    "set_result after set_exception": exception_then_result,
    "result() while pending": result_too_early,
    "exception() while pending": exception_too_early,
    "set_exception(5)": bad_exception(5),
    "set_exception('text')": bad_exception("text"),
    "set_exception(StopIteration())": bad_exception(StopIteration()),
    "set_exception(KeyboardInterrupt)": bad_exception(KeyboardInterrupt),
    "awaited on another loop": awaited_on_another_loop,
    "a callback on a closed loop": callback_on_a_closed_loop,
    "result() after cancel()": cancelled_result,
    **{
        f"{attribute} before __init__": uninitialized(attribute)
        for attribute in ("repr", "_state", "_callbacks", "_result", "_exception", "_log_traceback")
    },
}

MISTAKES = [
    *(
        Mistake(
            f"Future: {name}",
            lambda b=body: on_a_loop(b)(Future),
            lambda b=body: on_a_loop(b)(asyncio.Future),
        )
        for name, body in FUTURE_MISTAKES.items()
    ),
    *(
        Mistake(
            f"Task({what})",
            lambda bad=bad: on_a_loop(lambda cls, loop: cls(bad, loop=loop))(Task),
            lambda bad=bad: on_a_loop(lambda cls, loop: cls(bad, loop=loop))(asyncio.Task),
        )
        for what, bad in {"5": 5, "None": None, "a future": asyncio.Future}.items()
    ),
    *(
        Mistake(
            f"Task._log_destroy_pending = {value!r}",
            lambda v=value: on_a_loop(log_destroy_pending_set_to(v))(Task),
            lambda v=value: on_a_loop(log_destroy_pending_set_to(v))(asyncio.Task),
        )
        for value in (0, 1, "", None)
    ),
    Mistake(
        "Task: repr before __init__",
        lambda: on_a_loop(uninitialized("repr"))(Task),
        lambda: on_a_loop(uninitialized("repr"))(asyncio.Task),
    ),
    Mistake(
        "Task.set_result",
        lambda: on_a_loop(set_result_on_a_task)(Task),
        lambda: on_a_loop(set_result_on_a_task)(asyncio.Task),
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_rust_future_or_task_fails_as_asyncios_does_for_the_same_mistake(
    mistake: Mistake,
) -> None:
    mistake.check()
