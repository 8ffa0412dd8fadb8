"""Sweep of every crossing in the catalogue (``<shape>_<bridge>``): wrong types, bad
numbers, no loop, closed loops, reuse after finish and cancel, double awaits.

The reference for each mistake is what asyncio does with its own object of the
same kind: a coroutine for the bridges whose awaitable is stepped like one
(``async_fn``, ``awaitable``, ``fast``), an ``asyncio.Future`` for
``future_into_py``, whose awaitable *is* one; ``time.sleep`` for durations and
``bytes(n)`` for counts. Everything that can hang or crash runs isolated.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from coroscope.await_from_rust import drive_send
from coroscope.catalogue import CROSSINGS, Crossing, crossings

from tests.conftest import run_python
from tests.sweep import Isolated, Mistake


def _is_a_future(c: Crossing) -> bool:
    """Whether the crossing's awaitable is an asyncio future (``future_into_py``'s
    is) rather than something stepped like a coroutine (every other bridge's)."""

    async def probe() -> bool:
        awaitable = c(1, 0.0)
        await awaitable
        return asyncio.isfuture(awaitable)

    return asyncio.run(probe())


def make(c: Crossing, seconds: float) -> str:
    return f"crossing({c.shape.name!r}, {c.bridge.name!r})(1, {seconds})"


def reference(c: Crossing, seconds: float) -> str:
    """asyncio's own object of the same kind, made inside a running loop: an
    asyncio future that a timer finishes, or a coroutine."""
    coroutine = f"asyncio.sleep({seconds}, 1)"
    return f"asyncio.ensure_future({coroutine})" if _is_a_future(c) else coroutine


# The crossings that can be caught waiting: a timer of any length (a ready one
# finishes at its first step, a yield one is woken inside it, a hop at once).
WAITING = [c for c in CROSSINGS if c.shape.name in ("sleep", "order")]

# --- in process: arguments --------------------------------------------------------------

ARGUMENTS = [
    *(
        Mistake(
            f"{c.name}: seconds={bad!r}",
            lambda c=c, bad=bad: c.make(bad),
            lambda bad=bad: time.sleep(bad),
        )
        for c in crossings("sleep")
        for bad in (-1.0, float("nan"), 1e300, "1", None)
    ),
    *(
        Mistake(
            f"{c.name}: items={bad!r}",
            lambda c=c, bad=bad: c.make(bad),
            lambda bad=bad: [str(item) for item in bad],  # what an items list must allow
        )
        for c in crossings("order")
        for bad in (5, None)
    ),
]


@pytest.mark.parametrize("mistake", ARGUMENTS, ids=lambda m: m.what)
def test_a_bad_argument_fails_as_cpython_fails_for_it(mistake: Mistake) -> None:
    mistake.check()


@pytest.mark.parametrize("c", crossings(bridge="future_into_py"), ids=lambda c: c.name)
def test_no_running_loop_fails_as_asyncio_fails_for_it(c: Crossing) -> None:
    Mistake(f"{c.name} with no loop", lambda: c(1, 0.0), asyncio.get_running_loop).check()


def _stepped_by_hand(make: Callable[[], Any], pause: float) -> str:
    """How ``make()``'s awaitable ends when stepped by hand with no loop, after
    ``pause`` (time for another thread to finish first)."""
    steps = make()
    time.sleep(pause)
    try:
        return repr(drive_send(steps))
    except RuntimeError as err:
        return f"RuntimeError: {err}"
    finally:
        steps.close()


@pytest.mark.parametrize(
    "c", [c for c in CROSSINGS if c.bridge.name != "future_into_py"], ids=lambda c: c.name
)
def test_stepped_with_no_loop_a_crossing_ends_one_way_as_asyncio_sleep_does(c: Crossing) -> None:
    """Woken from another thread (a hop, a timer, the kitchen), a crossing needs
    the loop as ``asyncio.sleep(0.001)`` does; ready or woken by itself, it needs
    none, as ``asyncio.sleep(0)``. Its first step was pending or not as the
    threads ran, so it returned or failed at random: one program, one end now."""
    seconds = 0.001 if c.shape.name in ("hop", "sleep", "order") else 0.0
    theirs = _stepped_by_hand(lambda: asyncio.sleep(seconds, 1), 0.0)
    ours = {_stepped_by_hand(lambda: c(1, seconds), pause) for pause in (0.0, 0.003) * 50}
    assert ours == {theirs}


# --- isolated: closed loops, reuse, double awaits ------------------------------------------


@pytest.mark.parametrize("c", CROSSINGS, ids=lambda c: c.name)
def test_awaiting_on_a_closed_loop_fails_as_for_a_coroutine(c: Crossing) -> None:
    source = f"""
        import asyncio
        from coroscope.catalogue import crossing
        loop = asyncio.new_event_loop()
        loop.close()
        for make in (lambda: asyncio.sleep(0.001, 1), lambda: {make(c, 0.001)}):
            try:
                loop.run_until_complete(make())
            except BaseException as err:
                print(type(err).__name__, str(err))
    """
    done = run_python(source, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]
    theirs, ours = done.stdout.splitlines()[-2:]
    assert theirs == "RuntimeError Event loop is closed"
    if c.bridge.name == "future_into_py":
        # Its asyncio future is made at the call, which needs a running loop.
        assert ours == "RuntimeError no running event loop"
    else:
        assert ours == theirs


@pytest.mark.parametrize("c", CROSSINGS, ids=lambda c: c.name)
def test_awaiting_again_after_it_finished_ends_as_asyncio_does(c: Crossing) -> None:
    Isolated(
        f"{c.name} awaited after it finished",
        ours=f"x = {make(c, 0.001)}\nawait x\nawait x",
        theirs=f"x = {reference(c, 0.001)}\nawait x\nawait x",
    ).check()


@pytest.mark.parametrize("c", WAITING, ids=lambda c: c.name)
def test_awaiting_again_after_a_cancel_ends_as_asyncio_does(c: Crossing) -> None:
    body = """
        x = {make}
        waiter = asyncio.ensure_future(x)
        await asyncio.sleep(0.01)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        await x
    """
    Isolated(
        f"{c.name} awaited after its awaiter was cancelled",
        ours=body.format(make=make(c, 60)),
        theirs=body.format(make=reference(c, 60)),
    ).check()


# PyO3's own coroutine (what `#[pyfunction] async fn` returns) lets the second
# awaiter take over the waker and leaves the first waiting forever (notebook 03
# shows the gotcha); asyncio's coroutine raises in the second awaiter at once.
# The strict xfail pins it, so a PyO3 release that fixes it shows up. The
# upstream fix: `Coroutine.__await__` (or its first `send`) raising
# `RuntimeError('coroutine is being awaited already')` while a waker is
# registered, as `RustAwaitable.__await__` does.
TWO_AWAITERS_HANG = {"hop_async_fn", "order_async_fn"}


@pytest.mark.parametrize(
    "via",
    [
        # Two coroutines each `await x`: a coroutine refuses the second at once.
        "await",
        # `ensure_future(x)` twice: an awaitable with send/throw/close looks like
        # a coroutine to asyncio, so each Task steps it directly.
        "task",
    ],
)
@pytest.mark.parametrize(
    "c",
    [
        pytest.param(
            c,
            marks=pytest.mark.xfail(reason="PyO3's Coroutine: upstream", strict=True)
            if c.name in TWO_AWAITERS_HANG
            else (),
        )
        for c in WAITING
    ],
    ids=lambda c: c.name,
)
def test_two_tasks_awaiting_one_pending_crossing_end_as_asyncio_does(c: Crossing, via: str) -> None:
    body = """
        async def wait(awaitable):
            return await awaitable
        x = {make}
        wrap = wait if {via!r} == "await" else (lambda awaitable: awaitable)
        first = asyncio.ensure_future(wrap(x))
        await asyncio.sleep(0.01)
        second = asyncio.ensure_future(wrap(x))
        results = await asyncio.gather(first, second, return_exceptions=True)
        return [type(r).__name__ if isinstance(r, BaseException) else "ok" for r in results]
    """
    Isolated(
        f"{c.name} awaited by two tasks at once ({via})",
        ours=body.format(make=make(c, 0.5), via=via),
        theirs=body.format(make=reference(c, 0.5), via=via),
        limit=3,
    ).check()
