"""Sweep of the drivers (``await_foo``, ``drive_send``, ``trace``, ``Stepper``): wrong
types, bad step counts, and coroutines reused after they finished or were closed,
each against what Python's own ``await`` (or ``bytes(n)`` for a count) does."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable
from typing import Any

import pytest
from coroscope.await_from_rust import Stepper, await_foo, drive_send, trace

from tests.coroutines import panic_exception, python_await
from tests.sweep import Mistake


def traced(obj: Any, **options: Any) -> Any:
    """``trace``, raising what the coroutine raised (trace records it as its
    last step instead: that is its promise, tested in ``test_stepper.py``)."""
    last = trace(obj, **options)[-1]
    if last.outcome == "raise":
        raise last.value
    return last.value


DRIVERS: dict[str, Callable[..., Any]] = {
    "await_foo": await_foo,
    "drive_send": drive_send,
    "trace": traced,
    "Stepper": lambda obj, **_: Stepper(obj).send(None),
}


async def finished() -> int:
    return 1


def spent() -> Any:
    coro = finished()
    with pytest.raises(StopIteration):
        coro.send(None)
    return coro


def closed() -> Any:
    coro = finished()
    coro.close()
    return coro


# (A coroutine *function* is not among them: the drivers call it for you, so that
# `await_foo(main)` works as well as `await_foo(main())`, as documented.)
def on_a_coroutine(drive: Callable[[Any], Any]) -> Any:
    """``drive(coro)``, closing the coroutine if the driver refused to start it."""
    coro = asyncio.sleep(0)
    try:
        return drive(coro)
    finally:
        coro.close()


NOT_AWAITABLE = [5, "text", None, object(), len]
REUSED = {"a finished coroutine": spent, "a closed coroutine": closed}
COUNTS = [-1, 2**64, 1.5, "3", None]

MISTAKES = [
    *(
        Mistake(
            f"{name}({bad!r})", lambda d=drive, bad=bad: d(bad), lambda bad=bad: python_await(bad)
        )
        for name, drive in DRIVERS.items()
        for bad in NOT_AWAITABLE
    ),
    *(
        Mistake(
            f"{name}({what})",
            lambda d=drive, make=make: d(make()),
            lambda make=make: python_await(make()),
        )
        for name, drive in DRIVERS.items()
        for what, make in REUSED.items()
    ),
    *(
        Mistake(
            f"{name}(coro, max_steps={bad!r})",
            lambda d=drive, bad=bad: on_a_coroutine(lambda coro: d(coro, max_steps=bad)),
            lambda bad=bad: bytes(bad),
        )
        for name, drive in DRIVERS.items()
        if name != "Stepper"
        for bad in COUNTS
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_driver_fails_as_await_fails_for_the_same_mistake(mistake: Mistake) -> None:
    mistake.check()


@types.coroutine
def _bare_yield() -> Any:
    yield


FIRST_CALLS: dict[str, Callable[[Any], object]] = {
    "send(5)": lambda stepper: stepper.send(5),
    "throw(5)": lambda stepper: stepper.throw(5),
}


@pytest.mark.parametrize("first_call", sorted(FIRST_CALLS))
def test_a_refused_first_call_leaves_the_coroutine_unstarted_and_closable(
    first_call: str,
) -> None:
    """A Stepper used to report itself done, and then run the body on the next
    ``send(None)``; CPython leaves the coroutine unstarted, and so does it now."""
    for make_stepper in (Stepper, lambda coro: coro):
        ran: list[str] = []

        async def body(ran: list[str] = ran) -> None:
            ran.append("body")
            await _bare_yield()

        stepper = make_stepper(body())
        with pytest.raises(TypeError):
            FIRST_CALLS[first_call](stepper)
        assert getattr(stepper, "done", False) is False
        stepper.close()
        assert ran == []
        if isinstance(stepper, Stepper):
            assert stepper.done


@pytest.mark.parametrize(
    "driver",
    [await_foo, drive_send, lambda coro: Stepper(coro).send(None), trace],
    ids=["await_foo", "drive_send", "Stepper.send", "trace"],
)
def test_a_panic_exception_the_coroutine_raises_passes_through_as_any_exception(
    driver: Callable[[Any], Any], capfd: pytest.CaptureFixture[str]
) -> None:
    """PyO3 turns a ``PanicException`` it fetches back into a Rust panic; a
    driver only passes the coroutine's exception on, so it must not: the same
    exception comes out (``trace`` records it as the last step), and nothing
    is printed."""
    panic = panic_exception()
    capfd.readouterr()  # the probe's own panic text
    raised = panic("raised by the coroutine")

    async def coro() -> None:
        raise raised

    try:
        steps = driver(coro())
    except BaseException as exc:  # the PanicException is one
        assert exc is raised
    else:
        assert steps[-1].outcome == "raise" and steps[-1].value is raised
    assert capfd.readouterr().err == ""
