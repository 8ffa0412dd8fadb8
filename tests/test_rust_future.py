"""RustAwaitable: Rust futures awaited from Python, polled from ``__next__``.

``alive()`` counts Rust futures still held, so the stories can show each one is
dropped: on completion, on cancellation, on a panic, and when never awaited.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from coroscope import alive
from coroscope.await_from_rust import drive_send
from coroscope.awaitable import Future, RustAwaitable, compute, panic_awaitable
from coroscope.bridge import ready_awaitable, sleep_awaitable, yield_awaitable

from tests.conftest import Run

pytestmark = pytest.mark.usefixtures("rust_futures_all_dropped")


def test_awaiting_rust_futures_gives_their_output(run: Run[Any]) -> None:
    async def main() -> list[object]:
        return [
            await sleep_awaitable(0.01, "slept"),
            await sleep_awaitable(0),
            await compute(100_001),
        ]

    assert run(main()) == ["slept", None, sum(range(100_001))]


def test_a_future_woken_from_a_tokio_thread_makes_the_task_wait_on_a_future(
    run: Run[Any],
) -> None:
    async def main() -> tuple[bool, bool, object]:
        steps = sleep_awaitable(0.01, "v").__await__()
        waiter = steps.send(None)
        blocking = isinstance(waiter, Future) and waiter._asyncio_future_blocking
        await asyncio.sleep(0.05)
        woken = waiter.done()
        try:
            steps.send(None)
        except StopIteration as stop:
            return blocking, woken, stop.value
        return blocking, woken, "not finished"

    assert run(main()) == (True, True, "v")


def test_a_future_that_wakes_itself_yields_to_the_loop_without_a_waiter(run: Run[Any]) -> None:
    async def main() -> list[object]:
        steps = compute(25_000).__await__()
        yielded = [steps.send(None) for _ in range(3)]
        try:
            steps.send(None)
        except StopIteration as stop:
            return [*yielded, stop.value]
        return ["not finished"]

    assert run(main()) == [None, None, None, sum(range(25_000))]


def test_a_computing_future_lets_other_tasks_run(run: Run[Any]) -> None:
    log: list[str] = []

    async def ticker() -> None:
        for i in range(3):
            log.append(f"tick {i}")
            await asyncio.sleep(0)

    async def crunch() -> None:
        log.append("crunch starts")
        await compute(30_000)
        log.append("crunch done")

    async def main() -> None:
        await asyncio.gather(crunch(), ticker())

    run(main())
    assert log.index("tick 2") < log.index("crunch done")


def test_cancelling_the_task_drops_the_rust_future(run: Run[Any]) -> None:
    async def main() -> tuple[int, int, bool]:
        before = alive()
        task = asyncio.ensure_future(sleep_awaitable(60))
        await asyncio.sleep(0.01)
        during = alive() - before
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return during, alive() - before, task.cancelled()

    assert run(main()) == (1, 0, True)


def test_cancel_drops_the_rust_future_and_wakes_the_awaiter(run: Run[Any]) -> None:
    async def main() -> tuple[bool, tuple[object, ...], bool, bool]:
        awaitable = sleep_awaitable(60)
        task = asyncio.ensure_future(awaitable)
        await asyncio.sleep(0.01)
        first = awaitable.cancel("enough")
        try:
            await task
        except asyncio.CancelledError as exc:
            args = exc.args
        return first, args, awaitable.cancel(), awaitable.done()

    assert run(main()) == (True, ("enough",), False, True)


def test_a_panic_becomes_an_exception_and_the_process_goes_on(run: Run[Any]) -> None:
    async def main() -> str:
        try:
            await panic_awaitable("boom")
        except BaseException as exc:  # PanicException derives from BaseException
            return f"{type(exc).__name__}: {exc}"
        return "no panic"

    assert run(main()) == "PanicException: boom"
    assert run(_ok()) == "ok"


async def _ok() -> str:
    return await sleep_awaitable(0, "ok")


def test_a_rust_awaitable_can_be_awaited_once(run: Run[Any]) -> None:
    async def main() -> None:
        awaitable = sleep_awaitable(0)
        await awaitable
        await awaitable

    with pytest.raises(RuntimeError, match="cannot reuse already awaited RustAwaitable"):
        run(main())


# Py_TPFLAGS_HAVE_AM_SEND (object.h): the type fills the am_send slot.
HAVE_AM_SEND = 1 << 21


def test_a_finished_rust_future_returns_through_am_send() -> None:
    """``await`` (3.11) and ``drive_send`` step through ``am_send``: the value
    comes back with a flag, not in a ``StopIteration``; the ``send`` method still
    ends with ``StopIteration``, as every ``send`` must."""
    assert RustAwaitable.__flags__ & HAVE_AM_SEND
    assert drive_send(ready_awaitable("v")) == "v"
    with pytest.raises(StopIteration) as stop:
        ready_awaitable(None).send(None)
    assert stop.value.value is None


def test_a_future_that_wakes_itself_needs_no_loop_to_yield() -> None:
    """Woken during its own poll, it yields a bare ``None``: no loop is looked up
    until a step would have to wait for someone else."""
    steps = yield_awaitable("v")
    assert steps.send(None) is None
    assert drive_send(steps) == "v"


def test_stepping_needs_a_running_loop() -> None:
    # A wait that is not ready at once (a zero sleep is: it needs no loop).
    awaitable = sleep_awaitable(1)
    with pytest.raises(RuntimeError, match="no running event loop"):
        next(awaitable)
    awaitable.close()


def test_throw_and_close_drop_the_rust_future() -> None:
    before = alive()
    thrown, closed = sleep_awaitable(60), sleep_awaitable(60)
    assert alive() == before + 2
    with pytest.raises(KeyError):
        thrown.throw(KeyError("in"))
    closed.close()
    assert alive() == before
    assert thrown.done() and closed.done()
    assert repr(closed) == "<RustAwaitable done>"


def test_a_never_awaited_rust_future_is_dropped_with_its_awaitable() -> None:
    before = alive()
    holder: list[RustAwaitable[None]] = [sleep_awaitable(60)]
    assert alive() == before + 1
    holder.clear()
    assert alive() == before


def test_a_cancel_message_that_refers_back_to_its_awaitable_is_freed(run: Run[Any]) -> None:
    """The message waits in the awaitable for the next step to raise it; the
    collector did not see it there, so this cycle was never freed."""
    import gc
    import weakref

    class Message:
        awaitable: object = None

    async def main() -> bool:
        message = Message()
        message.awaitable = sleep_awaitable(60)
        message.awaitable.cancel(message)  # type: ignore[attr-defined]
        freed = weakref.ref(message)
        del message
        gc.collect()
        return freed() is None

    assert run(main())
