"""The kit owns its runtime's whole life: exit, shutdown, fork, close and Ctrl-C.

What happens at exit never shows inside pytest's own process, so most stories
here run fresh interpreters (``coroscope.exits`` writes and judges the scripts;
``make soak`` runs the same trials at full size).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from coroscope import alive, exits

from tests.conftest import RUNS, SHUT_DOWN, awaited_across_a_shutdown, run_python

TRIALS = exits.trials()


@pytest.mark.parametrize(("scenario", "route", "loop"), TRIALS, ids=["-".join(t) for t in TRIALS])
def test_every_route_exits_cleanly_every_time(scenario: str, route: str, loop: str) -> None:
    trial = exits.run_trial(scenario, route, loop, RUNS)
    assert trial.bad == []


def test_crossing_floor_cut_by_a_shutdown_stops_at_once_with_the_shutdown_s_error() -> None:
    """A trip whose task the shutdown drops unrun answers all the same (its
    guard writes a 0 as it is dropped): no wait for the read's timeout, and
    the error every call after a shutdown gives."""
    done = run_python(
        """
        import threading, time, coroscope
        from coroscope.bridge import crossing_floor

        crossing_floor(10)  # the runtime is up
        result = []

        def trips():
            try:
                crossing_floor(10**9)
            except Exception as err:
                result.append(err)

        thread = threading.Thread(target=trips)
        thread.start()
        time.sleep(0.1)
        coroscope.shutdown()
        thread.join(3)
        print(type(result[0]).__name__, result[0])
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"RuntimeError {SHUT_DOWN}")


def test_after_shutdown_new_work_is_refused_and_pending_work_fails_with_the_same_error() -> None:
    done = run_python(
        """
        import asyncio, coroscope
        from coroscope.awaitable import TimerFuture
        from coroscope import alive
        from coroscope.bridge import (Kitchen, order_future_into_py, sleep_awaitable,
                                      sleep_future_into_py, ticks)

        async def main():
            # Rust futures that run on tokio (not polled by the loop's thread).
            pending = [asyncio.ensure_future(sleep_future_into_py(60)), TimerFuture(None, 60)]
            await asyncio.sleep(0.01)
            assert alive() == 2
            coroscope.shutdown()
            assert coroscope.is_shut_down()
            assert alive() == 0, "the pending Rust futures were dropped"
            coroscope.shutdown()  # twice is harmless
            for start in (lambda: sleep_awaitable(1), lambda: order_future_into_py(["soda"]),
                          lambda: TimerFuture(1, 1), lambda: ticks(1, 0),
                          lambda: Kitchen()):
                try:
                    start()
                except RuntimeError as err:
                    assert "cannot schedule new futures after shutdown" in str(err), err
                else:
                    raise AssertionError("started after shutdown")
            for outcome in await asyncio.gather(*pending, return_exceptions=True):
                assert isinstance(outcome, RuntimeError), repr(outcome)
                assert "cannot schedule new futures after shutdown" in str(outcome)

        asyncio.run(main())
        print("refused")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"
    assert done.stderr == ""


# Work a loop (or a blocked thread) is waiting for when another thread shuts the
# runtime down: each used to stay pending for ever. The routes of
# pyo3-async-runtimes are in tests/test_kit_tokio.py.
PENDING = {
    "TimerFuture": "TimerFuture(None, 60)",
    "the awaitable bridge": "sleep_awaitable(60)",
    "the fast bridge": "order_fast(['burger'], prep_times={'burger': 60})",
    "PyO3's async fn": "order_async_fn(['burger'], prep_times={'burger': 60})",
    # Nothing but a ring ends it, and nobody rings.
    "a Doorbell": "Doorbell().wait()",
    "a Doorbell on the fast route": "Doorbell(fast=True).wait()",
    # It said the kitchen was closed, which nobody had done.
    "a Kitchen order in a thread": (
        "asyncio.to_thread(Kitchen(prep_times={'burger': 60}).order, ['burger'], timeout=60)"
    ),
    # Its cooks' threads need no runtime: it waited out the order and served it.
    "order_threads in a thread": (
        "asyncio.to_thread(order_threads, ['burger'], prep_times={'burger': 60})"
    ),
}


@pytest.mark.parametrize("work", PENDING.values(), ids=PENDING.keys())
def test_work_pending_when_another_thread_shuts_down_fails_with_its_error(work: str) -> None:
    assert awaited_across_a_shutdown(work).startswith(SHUT_DOWN)


def test_exits_after_a_shutdown_by_hand_with_no_time_to_wait_are_clean() -> None:
    """Work given up on by a ``shutdown(0)`` used to reach into Python while
    the interpreter finalized: an abort, one exit in thirty."""
    script = """
        import asyncio, coroscope
        from coroscope.bridge import sleep_future_into_py

        async def main():
            pending = [sleep_future_into_py(0.001 * (i % 20), i) for i in range(2000)]
            await asyncio.sleep(0.005)
            coroscope.shutdown(0)
            outcomes = await asyncio.gather(*pending, return_exceptions=True)
            assert all(isinstance(o, (int, RuntimeError)) for o in outcomes), outcomes

        asyncio.run(main())
        print("done")
        """
    for _ in range(RUNS * 3):
        done = run_python(script, timeout=60)
        assert (done.returncode, done.stdout, done.stderr) == (0, "done\n", "")


def test_exits_while_a_thread_shuts_down_and_results_are_in_flight_are_clean() -> None:
    """A ``shutdown(0)`` from another thread while ``asyncio.run`` ends with
    2,000 results of ``future_into_py`` on their way: the results that had
    not reached their closed loop by the exit each printed "Event loop is
    closed", outlasted the exit's wait for them, and a thread that attached
    after it aborted the process (about one exit in thirty)."""
    script = """
        import asyncio, threading, coroscope
        from coroscope.bridge import sleep_future_into_py

        async def main():
            pending = [sleep_future_into_py(0.001 * (i % 20), i) for i in range(2000)]
            threading.Thread(target=coroscope.shutdown, args=(0,)).start()
            await asyncio.sleep(0.005)
            print("done")

        asyncio.run(main())
        """
    for _ in range(RUNS * 3):
        done = run_python(script, timeout=60)
        assert (done.returncode, done.stdout) == (0, "done\n"), done.stderr[-2000:]
        assert "Fatal Python error" not in done.stderr, done.stderr[-2000:]


def test_a_loop_closed_just_after_a_shutdown_that_cut_20_000_futures_hears_nothing_more() -> None:
    """The cut futures' answers were handed over by 512 blocking threads
    queueing for the interpreter, past the shutdown's wait; the loop closed
    under hundreds of them, each printing "Event loop is closed" (asyncio
    drops a result for a closed loop). Now every answer is in first."""
    done = run_python(
        """
        import asyncio, coroscope
        from coroscope.bridge import sleep_future_into_py

        async def start():
            return [sleep_future_into_py(3600, i) for i in range(20_000)]

        loop = asyncio.new_event_loop()
        pending = loop.run_until_complete(start())
        coroscope.shutdown()
        loop.close()  # before it could run a single answer
        print("closed")
        """,
        timeout=120,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "closed\n", "")


def test_a_shutdown_tells_every_cut_future_even_when_telling_outlasts_its_timeout() -> None:
    """70,000 cut ``TimerFuture``s each attach to tell their loop, which took
    longer than the 2 s timeout: tokio stopped, dropping the rest, and a third
    of them stayed pending for ever."""
    done = run_python(
        """
        import asyncio, collections, coroscope
        from coroscope.awaitable import TimerFuture

        async def main():
            pending = [TimerFuture(i, 3600) for i in range(70_000)]
            coroscope.shutdown()
            await asyncio.wait(pending, timeout=30)
            print(collections.Counter(
                type(f.exception()).__name__ if f.done() else "pending" for f in pending))

        asyncio.run(main())
        """,
        timeout=120,
    )
    assert done.stdout.strip() == "Counter({'RuntimeError': 70000})", done.stderr[-2000:]


def test_a_rust_sleep_polled_on_the_loop_after_shutdown_raises_the_shutdown_error() -> None:
    """It used to raise tokio's panic ("A Tokio 1.x context was found, but it is
    being shutdown") as a PanicException, then printed that panic on stderr
    before raising the right error."""
    done = run_python(
        """
        import asyncio, coroscope
        from coroscope.bridge import sleep_awaitable, sleep_fast

        async def main():
            pending = [asyncio.ensure_future(s(0.2)) for s in (sleep_awaitable, sleep_fast)]
            await asyncio.sleep(0.01)
            coroscope.shutdown()
            for outcome in await asyncio.gather(*pending, return_exceptions=True):
                assert isinstance(outcome, RuntimeError), repr(outcome)
                assert "cannot schedule new futures after shutdown" in str(outcome)

        asyncio.run(main())
        print("raised")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "raised"
    assert "panicked" not in done.stderr and "Tokio" not in done.stderr, done.stderr


def test_a_stream_cut_by_shutdown_raises_instead_of_looking_complete() -> None:
    done = run_python(
        """
        import asyncio, coroscope
        from coroscope.bridge import ticks

        async def main():
            got = []
            try:
                async for tick in ticks(100, 0.01):
                    got.append(tick)
                    if tick == 2:
                        coroscope.shutdown()
            except RuntimeError as err:
                assert "cannot schedule new futures after shutdown" in str(err), err
                print("raised after", len(got))
            else:
                print("ended after", len(got))

        asyncio.run(main())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "raised after 3"
    assert "panicked" not in done.stderr, done.stderr


def test_a_fork_child_gets_a_runtime_of_its_own() -> None:
    done = run_python(
        """
        import asyncio, os
        from coroscope.bridge import Kitchen, sleep_awaitable

        asyncio.run(sleep_awaitable(0.001))  # the parent's runtime is running
        kitchen = Kitchen()
        pid = os.fork()
        if pid == 0:
            assert asyncio.run(sleep_awaitable(0.001, "child")) == "child"
            try:
                kitchen.order(["soda"])
            except RuntimeError as err:
                assert "stayed in the parent process" in str(err), err
                kitchen.close()
                os._exit(0)
            os._exit(3)
        _, status = os.waitpid(pid, 0)
        kitchen.close()
        print("child exited", os.waitstatus_to_exitcode(status))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child exited 0"


# How the stories below wait, in the parent, for a child forked from a thread:
# at most 10 s, then it is killed and said to have hung. Indented to sit in
# their sources.
WAIT_FOR = textwrap.indent(
    textwrap.dedent(
        """
    def wait_for(pid):
        deadline = time.monotonic() + 10
        while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                print("the child hung", flush=True)
                return
            time.sleep(0.01)
        print("child exited", os.waitstatus_to_exitcode(done[1]), flush=True)
    """
    ),
    " " * 8,
).strip()


@pytest.mark.parametrize(
    "work",
    [
        "await hop_future_into_py(1)",
        "await sleep_fast(0.001)",
        "Kitchen(prep_times={'soda': 0}).order(['soda'])",  # its cooks, left running
    ],
)
def test_a_child_forked_from_another_thread_ends_when_that_thread_does(work: str) -> None:
    """That thread is the child's only one, and Python does not finalize there
    (no ``atexit``, so no ``shutdown()``): a plain child ends with the thread.
    The kit's threads, started in the child, must not keep it alive."""
    done = run_python(
        f"""
        import asyncio, os, signal, threading, time, warnings
        from coroscope.bridge import Kitchen, hop_future_into_py, sleep_fast

        # 3.12+ warns of any fork in a process with threads: the story is about one.
        warnings.simplefilter("ignore", DeprecationWarning)

        async def use():
            {work}

        {WAIT_FOR}

        def forker():
            pid = os.fork()
            if pid == 0:
                asyncio.run(use())
                return  # the child's only thread ends here
            wait_for(pid)

        for _ in range(3):
            thread = threading.Thread(target=forker)
            thread.start()
            thread.join()
        """
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == ["child exited 0"] * 3, done.stdout


@pytest.mark.parametrize(
    "order",
    [
        "order_blocking(['burger'], prep_times={'burger': 60})",
        "order_threads(['burger'], prep_times={'burger': 60})",  # its cooks sleeping
        "Kitchen(prep_times={'burger': 60}).order(['burger'])",
    ],
)
def test_a_daemon_thread_s_order_in_a_child_forked_from_another_thread_fails_as_it_ends(
    order: str,
) -> None:
    """The child's daemon threads keep it alive after its forking thread
    returns, as in any process. The kit stopped its runtime then, and an
    ``order_blocking`` left unanswered waited for ever: the child never
    ended; ``order_threads``' cooks slept out their order, keeping it alive as
    long. Its work is cut as by ``shutdown()``, and the wait raises."""
    done = run_python(
        f"""
        import os, signal, threading, time, warnings
        from coroscope.bridge import Kitchen, order_blocking, order_threads

        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads

        def order():
            try:
                {order}
            except RuntimeError as err:
                print("refused:", err, flush=True)

        {WAIT_FOR}

        def forker():
            pid = os.fork()
            if pid == 0:
                threading.Thread(target=order, daemon=True).start()
                time.sleep(0.3)
                return  # the child's forking thread ends here
            wait_for(pid)

        thread = threading.Thread(target=forker)
        thread.start()
        thread.join()
        """
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    refused, exited = done.stdout.splitlines()
    assert (refused.startswith(f"refused: {SHUT_DOWN}"), exited) == (True, "child exited 0")


def test_a_grandchild_of_such_a_child_runs_the_kit_and_ends_too() -> None:
    """The grandchild's thread inherits the child's guard (a fork copies the
    thread's thread-locals): it must neither end the grandchild's runtime at
    once nor let it keep the grandchild alive."""
    done = run_python(
        """
        import asyncio, os, threading, warnings
        from coroscope.bridge import hop_future_into_py

        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork with threads

        async def use():
            return await hop_future_into_py("used")

        def forker():
            pid = os.fork()
            if pid == 0:
                grandchild = os.fork()
                if grandchild == 0:
                    print("grandchild", asyncio.run(use()), flush=True)
                    return
                code = os.waitstatus_to_exitcode(os.waitpid(grandchild, 0)[1])
                print("grandchild exited", code, flush=True)
                return
            print("child exited", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)

        thread = threading.Thread(target=forker)
        thread.start()
        thread.join()
        """,
        timeout=30,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert done.stdout.splitlines() == ["grandchild used", "grandchild exited 0", "child exited 0"]


@pytest.mark.parametrize(
    "call",
    [
        "order_threads(['burger'], prep_times={'burger': 60})",
        "Kitchen(prep_times={'burger': 60}).order(['burger'], timeout=60)",
        "Kitchen(prep_times={'burger': 60}).order(['burger'], release=False, timeout=60)",
        "order_blocking(['burger'], prep_times={'burger': 60})",
        # A worker kept in one poll for a minute: shutdown waits for it.
        "_native._hold_a_lock_on_tokio(60); shutdown(60)",
    ],
)
def test_ctrl_c_interrupts_a_blocking_wait(call: str) -> None:
    script = f"""
import signal
from coroscope import _native, quiesce, shutdown
from coroscope.bridge import Kitchen, order_blocking, order_threads
# Python raises KeyboardInterrupt only if SIGINT was not ignored when it
# started, and a shell without job control ignores it for background commands.
signal.signal(signal.SIGINT, signal.default_int_handler)
try:
    print("waiting", flush=True)  # inside the try: an early signal is caught too
    {call}
except KeyboardInterrupt:
    print("interrupted", flush=True)
# The interrupted work is stopped, not left to cook on (order_blocking's, on
# tokio, then reported the closed loop it found when done).
print("stopped" if quiesce(timeout=5) else "still cooking", flush=True)
"""
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "waiting"
    time.sleep(0.3)  # inside the wait
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)  # 60 s if the wait ignored it
    assert out.split() == ["interrupted", "stopped"], err
    assert process.returncode == 0, err
    assert err == ""


def test_order_blocking_inside_a_loop_is_refused_before_anything_starts() -> None:
    from coroscope.bridge import order_blocking

    async def main() -> None:
        before = alive()
        with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
            order_blocking(["burger"], prep_times={"burger": 60.0})
        assert alive() == before

    asyncio.run(main())
