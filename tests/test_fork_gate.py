"""A fork waits until no thread of the kit is in the middle of its work
(``src/support/fork_gate.rs``), so a fork child never finds a lock held by a
thread that stayed in the parent. Each story forks in a fresh interpreter."""

from __future__ import annotations

from tests.conftest import run_python


def test_a_fork_waits_until_no_kit_thread_holds_a_lock_the_child_would_need() -> None:
    # A tokio worker holding a lock at the instant of a fork leaves it held in
    # the child for ever (PyO3's list of decrefs, held as a worker drops a
    # Python object, hung fork children now and then). Here a worker holds one
    # for 0.3 s: the fork waits for it, and the child finds it free.
    done = run_python(
        """
        import asyncio, os
        from coroscope import _native
        from coroscope.bridge import sleep_awaitable

        _native._hold_a_lock_on_tokio(0.3)
        pid = os.fork()
        if pid == 0:
            free = _native._lock_on_tokio_is_free()
            assert asyncio.run(sleep_awaitable(0.001, "child")) == "child"
            os._exit(0 if free else 3)
        _, status = os.waitpid(pid, 0)
        print("child exited", os.waitstatus_to_exitcode(status))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child exited 0"


def test_a_fork_waits_for_a_long_poll_no_longer_than_a_second() -> None:
    # The gate is not a lock the kit's work can hold a fork with: a poll that
    # blocks its worker for 30 s (which no future should do) delays the fork
    # by FORK_WAIT, then the fork goes ahead, as before the gate existed.
    done = run_python(
        """
        import os
        from coroscope import _native

        _native._hold_a_lock_on_tokio(30)
        pid = os.fork()
        if pid == 0:
            os._exit(4 if _native._lock_on_tokio_is_free() else 0)
        _, status = os.waitpid(pid, 0)
        print("child exited", os.waitstatus_to_exitcode(status))
        os._exit(0)  # not waiting for the worker's 30 s
        """,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "child exited 0"


def test_forks_made_while_another_loop_crosses_to_tokio_all_the_time_all_finish() -> None:
    # The hazard in its natural habitat: results landing from tokio (and
    # pyo3-async-runtimes' tasks ending on its workers) at every instant a
    # fork may happen. Every child uses the kit and must finish.
    done = run_python(
        """
        import asyncio, os, threading, time
        from coroscope.bridge import order_future_into_py, sleep_awaitable

        stop = threading.Event()

        async def cross_all_the_time():
            while not stop.is_set():
                await asyncio.gather(*[order_future_into_py(["soda"]) for _ in range(8)])

        crossing = threading.Thread(target=asyncio.run, args=(cross_all_the_time(),))
        crossing.start()
        ends = []
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                os._exit(0 if asyncio.run(sleep_awaitable(0.001, "child")) == "child" else 3)
            deadline = time.monotonic() + 20
            while (ended := os.waitpid(pid, os.WNOHANG)) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(pid, 9)
                    ends.append("hung")
                    break
                time.sleep(0.005)
            else:
                ends.append(os.waitstatus_to_exitcode(ended[1]))
        stop.set()
        crossing.join()
        print(*sorted(set(map(str, ends))))
        """,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"  # every child exited with 0; none hung


def test_a_thread_that_reaches_the_gate_during_a_fork_waits_without_the_interpreter() -> None:
    # The fork waits for the gate to empty with the interpreter let go, then
    # takes it back to fork. Here a worker is inside for 0.6 s; meanwhile the
    # main thread (attached) frees an awaitable whose waker's drop enters the
    # gate. Waiting there attached, it held the interpreter from the forking
    # thread for ever: both threads waited on each other.
    done = run_python(
        """
        import asyncio, os, threading, time
        from coroscope import _native
        from coroscope.bridge import ready_awaitable

        async def stepped():
            awaitable = ready_awaitable(1)
            await awaitable  # its first step makes its waker
            return awaitable

        awaitable = asyncio.run(stepped())
        _native._hold_a_lock_on_tokio(0.6)

        def fork():
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)

        forking = threading.Thread(target=fork)
        forking.start()
        time.sleep(0.2)  # the fork is waiting at the gate
        del awaitable  # the waker's drop enters the gate
        forking.join()
        print("forked")
        """,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "forked"


def test_a_fork_while_other_fork_hooks_let_go_of_the_interpreter_finishes() -> None:
    # The fork holds the runtime's lock from its `before` hook to its `after`
    # hook, and fork hooks of other libraries (logging's) run in between and
    # let go of the interpreter. A loop thread that took it then and waited for
    # the runtime's lock attached (each `future_into_py` call looks the runtime
    # up) held it from the forking thread for ever: 20 runs in 20 hung with a
    # short switch interval. Such a lock is now never waited for attached.
    done = run_python(
        """
        import asyncio, logging, os, sys, threading
        from coroscope.bridge import call_python, hop_future_into_py

        sys.setswitchinterval(1e-5)  # the window, wide open
        stop = threading.Event()

        async def one():
            return 1

        async def hammer():
            while not stop.is_set():
                await asyncio.gather(*[call_python(one) for _ in range(8)],
                                     *[hop_future_into_py(1) for _ in range(8)])

        crossing = threading.Thread(target=asyncio.run, args=(hammer(),))
        crossing.start()
        for _ in range(100):
            pid = os.fork()
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
        stop.set()
        crossing.join()
        print("forked 100 times")
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "forked 100 times"
