"""Misuse fails like asyncio or CPython would: no crash, no hang, no wrong answer.

Each story is a mistake found by an adversarial sweep of the public API, with
what CPython or asyncio does for the same mistake as the expectation. Where a
crash or a hang is possible, the story runs in a fresh interpreter with a time
limit (a crash there fails the test instead of ending pytest).
"""

from __future__ import annotations

import asyncio
import gc
import re
import traceback
import types
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coroscope.await_from_rust import Stepper, Task, drive_send
from coroscope.awaitable import (
    Future,
    hop_awaitable,
    sleep_awaitable,
)
from coroscope.bridge import (
    Kitchen,
    call_python,
    call_python_with_timeout,
    hop_fast,
    order_async_fn,
    sleep_fast,
    ticks,
)

from tests.conftest import Run, run_python

# --- crashes -----------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["await_foo", "drive_send", "trace"])
def test_drivers_nested_past_the_c_stack_raise_recursion_error(driver: str) -> None:
    """A coroutine that drives another from inside recurses through C; with a
    raised recursion limit that used to end in a segfault at depth 10,000."""
    done = run_python(
        f"""
        import sys
        from coroscope.await_from_rust import await_foo, drive_send, trace
        sys.setrecursionlimit(1_000_000)

        def traced(coro):
            # trace records a raise as the last step instead of raising it
            last = trace(coro)[-1]
            if last.outcome == "raise":
                raise last.value
            return last.value

        drive = {{"await_foo": await_foo, "drive_send": drive_send, "trace": traced}}[{driver!r}]

        async def nest(n):
            return 0 if n == 0 else drive(nest(n - 1))

        try:
            drive(nest(200_000))
        except RecursionError as err:
            print("RecursionError:", err)
        """,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("RecursionError: maximum recursion depth exceeded")


def test_nesting_within_the_recursion_limit_still_works() -> None:
    async def nest(n: int) -> int:
        return 0 if n == 0 else drive_send(nest(n - 1)) + 1

    assert drive_send(nest(100)) == 100


# --- hangs -------------------------------------------------------------------------


PENDING_RUST: dict[str, Callable[[], Awaitable[object]]] = {
    # Long enough to be pending when the second await comes, even on a
    # machine busy enough to pause this process for a while.
    "sleep_awaitable": lambda: sleep_awaitable(1.0, "v"),
    "sleep_fast": lambda: sleep_fast(1.0, "v"),
    "hop_awaitable": lambda: hop_awaitable("v"),
    "hop_fast": lambda: hop_fast("v"),
}
# A hop may finish before the second awaiter steps: then the second finds it
# spent, as a second await of a finished coroutine does. Either way it raises.
SECOND_AWAIT = (
    r"RuntimeError\('(RustAwaitable is being awaited already"
    r"|cannot reuse already awaited RustAwaitable)'\)"
)


@pytest.mark.parametrize("name", sorted(PENDING_RUST))
def test_a_second_await_of_a_suspended_rust_awaitable_raises_like_a_coroutine(
    name: str, run: Run[Any]
) -> None:
    async def await_it(awaitable: Awaitable[object]) -> object:
        return await awaitable

    async def main() -> list[object]:
        shared = PENDING_RUST[name]()
        first = asyncio.ensure_future(await_it(shared))
        await asyncio.sleep(0)  # the first await is suspended in it
        second = asyncio.ensure_future(await_it(shared))
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        return [o if isinstance(o, str) else repr(o) for o in outcomes]

    first, second = run(main())
    assert first == "v"
    assert re.fullmatch(SECOND_AWAIT, second)
    if name.endswith("sleep"):  # still pending when the second await comes
        assert second == "RuntimeError('RustAwaitable is being awaited already')"


def test_a_coroutine_awaited_twice_raises_at_once() -> None:
    """What the Rust awaitables now copy."""

    async def inner() -> None:
        await asyncio.sleep(0.01)

    async def await_it(awaitable: Awaitable[None]) -> None:
        await awaitable

    async def main() -> str:
        shared = inner()
        first = asyncio.ensure_future(await_it(shared))
        await asyncio.sleep(0)
        try:
            await await_it(shared)
        except RuntimeError as err:
            await first
            return str(err)
        raise AssertionError("awaited twice")

    assert asyncio.run(main()) == "coroutine is being awaited already"


def test_pyo3_async_fn_awaited_twice_leaves_one_awaiter_waiting_forever() -> None:
    """PyO3's own ``Coroutine`` (what ``#[pyfunction] async fn`` returns) has the
    bug the Rust awaitables had: the second await replaces the first awaiter's
    waker, and the first never wakes. Pinned here so that a PyO3 release that
    fixes it shows up. The upstream fix: ``Coroutine.__await__`` (or its first
    ``send``) raising ``RuntimeError('coroutine is being awaited already')``
    while a waker is registered, as ``RustAwaitable.__await__`` now does."""

    async def await_it(awaitable: Awaitable[object]) -> object:
        return await awaitable

    async def main() -> tuple[int, int]:
        shared = order_async_fn(["soda"], prep_times={"soda": 0.05})
        first = asyncio.ensure_future(await_it(shared))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(await_it(shared))
        # One of them is served...
        done, pending = await asyncio.wait(
            [first, second], timeout=60, return_when=asyncio.FIRST_COMPLETED
        )
        # ...and the other, woken by nothing, is still waiting after it.
        _, still_waiting = await asyncio.wait(pending, timeout=0.5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(done), len(still_waiting)

    assert asyncio.run(main()) == (1, 1)


@pytest.mark.parametrize("what", [lambda: 5, None, 5])
def test_call_python_refuses_what_is_not_awaitable_at_call_time(
    what: object, run: Run[Any]
) -> None:
    """``await call_python(lambda: 5)`` used to wait forever on asyncio (the
    error only logged by the loop) and raise CancelledError on uvloop."""

    async def main() -> list[str]:
        errors = []
        for call in (
            lambda: call_python(what),
            lambda: call_python_with_timeout(what, 1),
            lambda: asyncio.ensure_future(what),  # type: ignore[arg-type]
        ):
            with pytest.raises(TypeError) as raised:
                call()
            errors.append(str(raised.value).split(":")[0])
        return errors

    assert run(main()) == ["An asyncio.Future, a coroutine or an awaitable is required"] * 3


# --- wrong answers -----------------------------------------------------------------


def test_anext_of_a_fresh_tick_stream_gives_its_first_tick(run: Run[Any]) -> None:
    """The ``__anext__`` awaitable keeps its iterator alive, as an async
    generator's does: the stream used to be freed (and stopped) before the tick."""

    async def main() -> int:
        return await anext(ticks(3, 0))  # type: ignore[no-any-return]

    assert run(main()) == 0


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


def test_a_failed_rust_task_keeps_the_coroutine_frames_in_its_traceback() -> None:
    async def foo() -> None:
        raise ValueError("inner")

    async def main(task_class: Any) -> list[str]:
        try:
            await task_class(foo())
        except ValueError as err:
            return [frame.name for frame in traceback.extract_tb(err.__traceback__)]
        raise AssertionError("did not fail")

    assert asyncio.run(main(Task)) == asyncio.run(main(asyncio.Task))


def _destroyed_pending_reports(task_class: Any) -> list[list[str]]:
    """What the loop's own handler gets when a pending task is collected, with
    no loop running (debug mode on: ``source_traceback`` is part of it)."""
    reports: list[list[str]] = []
    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    loop.set_exception_handler(lambda _loop, ctx: reports.append(sorted(ctx)))
    try:

        async def forever() -> None:
            await loop.create_future()

        task = task_class(forever(), loop=loop)
        loop.run_until_complete(asyncio.sleep(0))
        del task
        gc.collect()
    finally:
        loop.close()
    return reports


def test_a_pending_rust_task_collected_is_reported_to_its_own_loop() -> None:
    assert _destroyed_pending_reports(Task) == [["message", "source_traceback", "task"]]
    assert _destroyed_pending_reports(Task) == _destroyed_pending_reports(asyncio.Task)


def _failed_init_reports(task_class: Any) -> list[str]:
    reports: list[str] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, ctx: reports.append(ctx["message"]))
    loop.close()

    async def nothing() -> None:
        pass

    coro = nothing()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        task_class(coro, loop=loop)  # loop.call_soon fails inside __init__
    coro.close()
    gc.collect()
    return reports


def test_a_rust_task_whose_init_fails_in_call_soon_is_reported_like_a_c_task() -> None:
    assert _failed_init_reports(Task) == ["Task was destroyed but it is pending!"]
    assert _failed_init_reports(Task) == _failed_init_reports(asyncio.Task)


@pytest.mark.parametrize("when", ["before the first step", "while queued"])
def test_cancel_without_a_message_raises_a_cancelled_error_without_args(when: str) -> None:
    async def body() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(10)

    async def main(task_class: Any) -> tuple[object, ...]:
        task = task_class(body())
        if when == "while queued":
            await asyncio.sleep(0)  # the task took its first step and is queued again
        task.cancel()
        try:
            await task
        except asyncio.CancelledError as err:
            return err.args
        raise AssertionError("not cancelled")

    assert asyncio.run(main(Task)) == asyncio.run(main(asyncio.Task)) == ()


def test_repr_of_a_task_subclass_that_skipped_init_is_the_c_tasks_error() -> None:
    async def nothing() -> None:
        pass

    for base in (Task, asyncio.Task):

        class Lazy(base):  # type: ignore[valid-type, misc]
            def __init__(self, *args: object, **kwargs: object) -> None:
                pass

        coro = nothing()
        with pytest.raises(RuntimeError, match="Future object is not initialized"):
            repr(Lazy(coro))
        coro.close()


# --- misleading errors -------------------------------------------------------------


def test_a_kitchen_order_with_a_huge_timeout_just_waits() -> None:
    """It used to raise PanicException (a BaseException) from a duration overflow."""
    with Kitchen(prep_times={"soda": 0.0}) as kitchen:
        assert kitchen.order(["soda"], timeout=1e19) == ["soda"]


@pytest.mark.parametrize("make", [lambda: sleep_awaitable(1), lambda: Future().__await__()])
def test_throwing_a_non_exception_names_what_was_thrown(make: Callable[[], Any]) -> None:
    async def main() -> str:
        awaitable = make()
        with pytest.raises(TypeError) as raised:
            awaitable.throw(5)
        if hasattr(awaitable, "close"):
            awaitable.close()
        return str(raised.value)

    assert asyncio.run(main()) == (
        "exceptions must be classes or instances deriving from BaseException, not int"
    )
