"""Work that ends by reaching into Python, counted until done
(``src/support/in_flight.rs``): the exit waits for it, and once the exit has
begun it does not attach, so that no thread attaches while Python finalizes
(an abort). Each story ends fresh interpreters, several times: the abort was
intermittent."""

from __future__ import annotations

from tests.conftest import RUNS, run_python


def test_exits_with_pyo3_async_fns_cut_by_a_shutdown_and_never_run_again_are_clean() -> None:
    """PyO3's waker attaches on the tokio worker that wakes it: cut by a
    ``shutdown(0)``, 3,000 of them were still waking as the interpreter
    finalized (an abort, seven exits in ten)."""
    script = """
        import asyncio, coroscope
        from coroscope.bridge import order_async_fn

        async def start():
            tasks = [asyncio.ensure_future(order_async_fn(["fries"], prep_times={"fries": 3600}))
                     for _ in range(3000)]
            await asyncio.sleep(0.05)
            return tasks

        loop = asyncio.new_event_loop()
        tasks = loop.run_until_complete(start())
        coroscope.shutdown(0)
        print("exiting")
        """
    for _ in range(RUNS * 3):
        done = run_python(script, timeout=60)
        assert (done.returncode, done.stdout) == (0, "exiting\n"), done.stderr[-2000:]
        assert "Fatal Python error" not in done.stderr, done.stderr[-2000:]


def test_a_shutdown_cut_short_by_ctrl_c_then_a_closed_loop_ends_the_process_cleanly() -> None:
    """The stopping goes on behind the interrupt. Its workers, still telling
    cut futures, attached while the interpreter finalized (an abort, one exit
    in two), and told a loop closed under them ("Event loop is closed")."""
    script = """
        import asyncio, os, signal, threading, coroscope
        from coroscope.awaitable import TimerFuture
        from coroscope.bridge import sleep_awaitable
        signal.signal(signal.SIGINT, signal.default_int_handler)  # ignored in background jobs

        async def start():
            return [TimerFuture(i, 3600) for i in range(15_000)] + [
                asyncio.ensure_future(sleep_awaitable(3600, i)) for i in range(15_000)]

        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda loop, context: None)  # destroyed pending tasks
        pending = loop.run_until_complete(start())
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            coroscope.shutdown(30)
        except KeyboardInterrupt:
            pass
        loop.close()
        print("closed")
        """
    for _ in range(RUNS):
        done = run_python(script, timeout=120)
        assert (done.returncode, done.stdout) == (0, "closed\n"), done.stderr[-2000:]
        assert "Event loop is closed" not in done.stderr, done.stderr[-2000:]
