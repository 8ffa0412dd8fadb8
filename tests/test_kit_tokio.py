"""pyo3-async-runtimes on the kit's own runtime (``src/support/kit_tokio.rs``):
its routes are cut by a shutdown, and counted until they let go of their loop."""

from __future__ import annotations

import asyncio
import gc
import sys
from asyncio import Runner

import pytest
from coroscope import quiesce
from coroscope.bridge import sleep_future_into_py

from tests.conftest import SHUT_DOWN, awaited_across_a_shutdown, run_python

# Every kind of pyo3-async-runtimes route, pending when another thread shuts the
# runtime down. Each used to stay pending for ever (and a thread in
# order_blocking kept the interpreter from exiting); like the work of an executor
# shut down with cancel_futures=True, each ends at once, with the error every
# refused call gives.
ROUTES = {
    "future_into_py": "sleep_future_into_py(60)",
    "an order through future_into_py": (
        "order_future_into_py(['burger'], prep_times={'burger': 60})"
    ),
    "into_future": "call_python(asyncio.sleep(60))",
    "into_future with a Rust timeout": "call_python_with_timeout(asyncio.sleep(60), 60)",
    "run_until_complete in a thread": (
        "asyncio.to_thread(order_blocking, ['burger'], prep_times={'burger': 60})"
    ),
}


@pytest.mark.parametrize("work", ROUTES.values(), ids=ROUTES.keys())
def test_a_route_pending_when_another_thread_shuts_down_fails_with_the_shutdown_error(
    work: str,
) -> None:
    assert awaited_across_a_shutdown(work).startswith(SHUT_DOWN)


# The routes whose Rust side finishes on its own. (`into_future` waits on a
# Python task, which asyncio.run cancels as it ends; pyo3-async-runtimes then
# fails the outer future with the CancelledError, reported as never retrieved,
# where asyncio's chained future would be cancelled. And `order_blocking` runs
# its own loop to the end.)
FINISHING_LATER = {
    name: work.replace("60", "0.05") for name, work in ROUTES.items() if "future_into_py" in work
}


@pytest.mark.parametrize("work", FINISHING_LATER.values(), ids=FINISHING_LATER.keys())
def test_a_result_that_comes_after_its_loop_closed_is_dropped_as_asyncio_drops_it(
    work: str,
) -> None:
    """``asyncio.run`` cancels tasks, not plain futures: results still on their
    way each printed an "Event loop is closed" traceback. asyncio's own chained
    futures drop a result for a closed loop, silently."""
    done = run_python(
        f"""
        import asyncio, time, coroscope
        from coroscope.bridge import *

        async def main():
            global pending
            pending = [{work} for _ in range(20)]
            await asyncio.sleep(0.01)

        asyncio.run(main())
        time.sleep(0.3)
        print("quiet:", coroscope.quiesce(5))
        """
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "quiet: True\n", "")


def test_quiesce_waits_until_cancelled_future_into_py_calls_let_go_of_their_loop() -> None:
    async def storm() -> None:
        waiting = [asyncio.ensure_future(sleep_future_into_py(60)) for _ in range(2_000)]
        await asyncio.sleep(0.01)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)

    with Runner() as runner:
        loop = runner.get_loop()
        assert quiesce()
        gc.collect()
        before = sys.getrefcount(loop)
        runner.run(storm())
        assert quiesce()
        gc.collect()
        assert sys.getrefcount(loop) == before


@pytest.mark.parametrize("selector", ["selectors.DefaultSelector()", "Unhookable()"])
def test_order_blocking_leaves_the_selector_of_its_loop_as_it_found_it(selector: str) -> None:
    """The kit counts the order until its loop first waits in ``select``,
    which it hooks on the selector for the run (a selector it cannot hook,
    it counts until the loop's first turn)."""
    script = f"""
        import asyncio, selectors, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # policies, from 3.14
        from coroscope.bridge import order_blocking
        class Unhookable:
            __slots__ = ("inner",)
            def __init__(self):
                self.inner = selectors.DefaultSelector()
            def __getattr__(self, name):
                return getattr(self.inner, name)
        made = []
        class Loop(asyncio.SelectorEventLoop):
            def __init__(self):
                super().__init__({selector})
                made.append(self._selector)
        class Policy(asyncio.DefaultEventLoopPolicy):
            _loop_factory = Loop
        asyncio.set_event_loop_policy(Policy())
        print(order_blocking(["burger"], prep_times={{"burger": 0.01}}))
        print("select" in getattr(made[0], "__dict__", {{}}))
        """
    done = run_python(script)
    assert (done.stdout, done.stderr) == ("['burger']\nFalse\n", "")


def test_order_blocking_on_a_loop_that_stops_itself_gives_up_without_a_word() -> None:
    """A loop stopped before the order came raises asyncio's "Event loop
    stopped before Future completed"; the kit cancels the order and closes the
    loop, as ``asyncio.run`` does. An answer handed over meanwhile was still in
    the loop's ``call_soon_threadsafe`` (Python, which lets the GIL go) when
    the loop closed: a bare "Event loop is closed" traceback, now and then
    (33 in 10 s with the GIL switched every microsecond)."""
    script = """
        import asyncio, random, sys, threading, time, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # policies, from 3.14
        from coroscope.bridge import order_blocking
        sys.setswitchinterval(1e-6)
        class Loop(asyncio.SelectorEventLoop):
            def __init__(self):
                super().__init__()
                self._tick()
            def _tick(self):
                if random.random() < 0.3:
                    self.stop()
                self.call_later(0.001, self._tick)
        class Policy(asyncio.DefaultEventLoopPolicy):
            _loop_factory = Loop
        asyncio.set_event_loop_policy(Policy())
        end = time.monotonic() + 3
        def orders():
            while time.monotonic() < end:
                try:
                    order_blocking(["burger"], prep_times={"burger": 0.003})
                except RuntimeError as stopped:
                    assert str(stopped) == "Event loop stopped before Future completed."
        threads = [threading.Thread(target=orders) for _ in range(16)]
        [thread.start() for thread in threads]
        [thread.join() for thread in threads]
        """
    done = run_python(script, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
