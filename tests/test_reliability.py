"""Reliability: leaks, cancellation storms, thread stress and faults.

The first three are ``coroscope.soak``'s trials, run with sizes that take
seconds (``make soak`` runs them at a million awaits and prints the table the
README quotes): a row with no problems is a pass. Faults are stories; bad input
is a table of the sweep's (``test_sweep_inputs.py``). Two faults are told where their mechanism
is: a panic in a Rust future (``test_rust_future.py``, ``test_runtimes.py``) and
a Python coroutine raising inside ``into_future`` (``test_runtimes.py``).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
from collections.abc import Awaitable, Callable

import pytest
from coroscope import quiesce, soak
from coroscope.await_from_rust import (
    Task,
)
from coroscope.awaitable import Future, TimerFuture
from coroscope.bridge import (
    Doorbell,
    order_async_fn,
    order_fast,
    order_future_into_py,
    sleep_awaitable,
    sleep_fast,
    sleep_future_into_py,
)

from tests.conftest import run_python

pytestmark = pytest.mark.usefixtures("rust_futures_all_dropped")


# --- leaks ---------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", soak.MECHANISMS, ids=lambda m: m.name)
def test_awaiting_ten_thousand_times_leaks_nothing(mechanism: soak.Mechanism) -> None:
    row = soak.leak(mechanism, 10_000)
    assert row.problems() == []


# --- cancellation storms ---------------------------------------------------------------


# The two routes every Rust awaitable takes storm at full size; the rest at a
# size that takes seconds (``make soak`` storms them all with 100,000).
STORM_TASKS = {"sleep_awaitable": 100_000, "sleep_fast": 100_000}


@pytest.mark.parametrize("name", sorted(soak.STORM))
def test_a_storm_of_cancelled_tasks_drops_every_rust_future(name: str) -> None:
    """Every Rust future is dropped, and every reference to the loop comes back.

    This test used to fail about half the time for ``sleep_future_into_py
    (future_into_py)``, with "refcounts moved by 25" (or 63, or 461). The
    cause was the measurement, not a leak: the *baseline* was read too early.
    pyo3-async-runtimes ends every ``future_into_py`` call, cancelled or not, in
    a closure on tokio's blocking pool that holds the loop (in its
    ``TaskLocals``) and the asyncio future, and that runs after the Rust future
    is dropped: so "no Rust future alive" after the warm-up storm did not mean
    "nothing holds the loop". Dozens to hundreds of them were still queued
    (each waits its turn for the GIL) when the baseline was read; they ran
    during the measured storm, so the final count came out *lower* than the
    baseline, and an equality poll could never succeed. Both readings now wait
    for ``coroscope.quiesce()``: no tokio task and no blocking closure of the
    kit's in flight, the real synchronisation point (``soak.judging.quiet``); the
    count then comes back exactly.
    """
    row = soak.storm(name, STORM_TASKS.get(name, 20_000), warm_up=1_000)
    # A small warm-up: the pools grow during the measured storm, so memory is
    # the soak's to judge; what must hold whatever the size is checked here.
    assert row.dropped == row.awaits * (2 if name == "order_fast" else 1)
    # Nothing left alive, nothing reported, refcounts back within the soak's
    # handful (memory is not judged for a storm: see soak.Row.memory_judged).
    assert row.problems() == []


# --- thread stress ---------------------------------------------------------------------


@pytest.mark.parametrize("fast", [False, True], ids=["classic", "fast"])
def test_eight_threads_ring_a_hundred_thousand_times_and_no_ring_is_lost(fast: bool) -> None:
    row = soak.doorbells(8, 100_000, fast=fast, paced=False)
    assert row.lost == 0
    assert row.problems() == []


@pytest.mark.parametrize("fast", [False, True], ids=["classic", "fast"])
def test_rings_racing_each_wait_as_it_parks_are_never_lost(fast: bool) -> None:
    row = soak.doorbells(8, 2_000, fast=fast, paced=True)
    assert row.lost == 0
    assert row.problems() == []


@pytest.mark.parametrize("fast", [False, True], ids=["classic", "fast"])
def test_eight_loops_woken_from_tokio_lose_no_wake(fast: bool) -> None:
    row = soak.loops_woken_from_tokio(8, 2_000, fast=fast)
    assert row.lost == 0
    assert row.problems() == []


def test_the_switch_interval_is_restored_after_a_stress_trial() -> None:
    before = sys.getswitchinterval()
    soak.doorbells(2, 10, fast=False, paced=False)
    assert sys.getswitchinterval() == before


def test_a_doorbell_keeps_rings_nobody_waited_for() -> None:
    bell = Doorbell()
    bell.ring(3)
    assert bell.unanswered == 3
    assert repr(bell) == "<Doorbell classic, 3 unanswered>"

    async def main() -> None:
        for _ in range(3):
            await bell.wait()

    asyncio.run(main())
    assert bell.unanswered == 0


def test_make_soak_prints_one_table_with_a_verdict_per_trial(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(soak.cli, "MECHANISMS", soak.MECHANISMS[:2])
    monkeypatch.setattr(soak.cli, "STORM", {"sleep_awaitable": soak.STORM["sleep_awaitable"]})
    argv = ["--awaits", "1000", "--tasks", "1000", "--threads", "2", "--wakes", "200"]
    assert soak.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| trial | awaits | Python heap | C heap | RSS |")
    rows = [line for line in out if line.startswith("| ") and line.endswith(" |")][1:]
    assert len(rows) == 2 + 1 + 6
    assert all(row.endswith("| ok |") for row in rows)
    assert out[-1] == "9 of 9 trials ok"


# --- faults --------------------------------------------------------------------------

# Rust futures of every route that wait 50 ms: long enough to be pending when
# the fault strikes, short enough to fire during the test.
PENDING: dict[str, Callable[[], Awaitable[object]]] = {
    "sleep_awaitable": lambda: sleep_awaitable(0.05, "v"),
    "sleep_fast": lambda: sleep_fast(0.05, "v"),
    "TimerFuture": lambda: TimerFuture("v", 0.05),
    "sleep_future_into_py": lambda: sleep_future_into_py(0.05),
    "order": lambda: order_future_into_py(["soda"], prep_times={"soda": 0.05}),
    "order_async_fn": lambda: order_async_fn(["soda"], prep_times={"soda": 0.05}),
    "order_fast": lambda: order_fast(["soda"], prep_times={"soda": 0.05}),
}
GIVES = {
    "sleep_future_into_py": None,
    "order": ["soda"],
    "order_async_fn": ["soda"],
    "order_fast": ["soda"],
}


async def awaiting(make: Callable[[], Awaitable[object]]) -> object:
    """Make the awaitable inside the task (some need the running loop) and await it."""
    return await make()


ASYNC_FN_CYCLE = (
    "PyO3's Coroutine does not show its waker's asyncio future to the cycle "
    "collector: a task abandoned while it awaits an async fn is never freed"
)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=ASYNC_FN_CYCLE))
        if name == "order_async_fn"
        else name
        for name in sorted(PENDING)
    ],
)
def test_a_loop_closed_with_rust_futures_pending_is_harmless(
    name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The wake-ups arrive at a closed loop (or at a queue nobody drains) and do
    nothing; the abandoned task is freed, and asyncio reports it pending."""
    reports: list[str] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))
    task = loop.create_task(awaiting(PENDING[name]))
    loop.run_until_complete(asyncio.sleep(0.005))
    assert not task.done()
    loop.close()
    time.sleep(0.1)  # the timers fire at the closed loop
    # and whatever they started on tokio has run: the sleep alone was a guess,
    # too short on a loaded machine for a future_into_py completion to print.
    assert quiesce()
    del task, loop
    # A result for a closed loop is dropped, as asyncio drops one: no traceback.
    assert "Event loop is closed" not in capfd.readouterr().err
    # Rust futures ended on tokio's threads let go of their Python objects
    # without the GIL; PyO3 applied those decrefs when quiesce() returned.
    gc.collect()
    assert reports == ["Task was destroyed but it is pending!"]


@pytest.mark.parametrize("name", sorted(PENDING))
def test_a_wake_arriving_while_the_loop_is_stopped_resumes_it_later(name: str) -> None:
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(awaiting(PENDING[name]))
        loop.run_until_complete(asyncio.sleep(0.005))
        assert not task.done()
        time.sleep(0.1)  # the wake arrives while nothing runs the loop
        assert loop.run_until_complete(task) == GIVES.get(name, "v")
    finally:
        loop.close()


def test_a_doorbell_rung_while_the_loop_is_stopped_is_answered_later() -> None:
    bell = Doorbell()
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(awaiting(bell.wait))
        loop.run_until_complete(asyncio.sleep(0))
        ringer = threading.Thread(target=bell.ring)
        ringer.start()
        ringer.join()
        assert loop.run_until_complete(task) is None
    finally:
        loop.close()


def _make_task(loop: asyncio.AbstractEventLoop) -> asyncio.Future[object]:
    return Task(asyncio.sleep(0, "done"), loop=loop)  # type: ignore[return-value]


def _make_timer(loop: asyncio.AbstractEventLoop) -> asyncio.Future[object]:
    return TimerFuture("done", 0.001, loop=loop)


def _make_future(loop: asyncio.AbstractEventLoop) -> asyncio.Future[object]:
    future: Future[object] = Future(loop=loop)
    loop.call_soon(future.set_result, "done")
    return future


@pytest.mark.parametrize(
    "make", [_make_future, _make_timer, _make_task], ids=["Future", "TimerFuture", "Task"]
)
def test_a_done_callback_that_raises_is_logged_and_the_others_still_run(
    make: Callable[[asyncio.AbstractEventLoop], asyncio.Future[object]],
) -> None:
    reports: list[str] = []
    ran: list[object] = []

    def fails(_future: object) -> None:
        raise ZeroDivisionError("in a callback")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(
            lambda _loop, ctx: reports.append(f"{ctx['message']}: {ctx['exception']!r}")
        )
        future = make(loop)
        future.add_done_callback(fails)
        future.add_done_callback(lambda f: ran.append(f.result()))
        await future
        await asyncio.sleep(0)

    asyncio.run(main())
    assert ran == ["done"]
    assert len(reports) == 1
    assert reports[0].startswith("Exception in callback")
    assert reports[0].endswith("ZeroDivisionError('in a callback')")


EXIT_WITH_WORK_PENDING = """
import asyncio, threading
from coroscope.awaitable import TimerFuture
from coroscope.bridge import (Doorbell, Kitchen, hop_awaitable, hop_fast, order_async_fn,
                              order_fast, order_future_into_py, sleep_awaitable, sleep_fast,
                              sleep_future_into_py, ticks)

kitchen = Kitchen(prep_times={"burger": 0.001, "fries": 0.001, "soda": 0.001})
slow = {"burger": 60}

async def main():
    for work in (order_future_into_py(["burger"], prep_times=slow),
                 order_async_fn(["burger"], prep_times=slow),
                 order_fast(["burger"], prep_times=slow), sleep_awaitable(60), sleep_fast(60),
                 sleep_future_into_py(60), TimerFuture(None, 0.05), Doorbell().wait(),
                 Doorbell(fast=True).wait(), hop_awaitable(1), hop_fast(1)):
        asyncio.ensure_future(work)
    stream = ticks(10**9, 0.001)
    await stream.__anext__()
    await asyncio.sleep(0.02)

asyncio.run(main())
print("exiting with Rust work pending")
"""


def test_the_interpreter_exits_cleanly_with_rust_work_pending() -> None:
    done = run_python(EXIT_WITH_WORK_PENDING, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "exiting with Rust work pending" in done.stdout
    assert "Fatal Python error" not in done.stderr
    assert "panicked" not in done.stderr
