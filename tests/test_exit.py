"""The interpreter's exit as the kit's waits see it (``src/support/exit.rs``):
a daemon thread still in a kit call waits on silently, as in ``Event.wait``;
one the interpreter joins after ``atexit`` (3.15+) is answered; and Python
the kit runs under a Rust frame in a daemon thread is counted, so that the
exit waits for it (a thread ended there aborts the process). Each story runs
fresh interpreters, many times over: an abort at exit is rare."""

from __future__ import annotations

import sys
import textwrap

import pytest

from tests.conftest import RUNS, run_python


def exits_cleanly(script: str, *, runs: int) -> None:
    """``script`` prints "exiting", then its interpreter ends with status 0
    and nothing on stderr, ``runs`` times over (an abort at exit is rare)."""
    for _ in range(runs):
        done = run_python(script, timeout=30)
        assert (done.returncode, done.stdout, done.stderr) == (0, "exiting\n", "")


def test_daemon_threads_still_waiting_for_orders_at_exit_end_silently_as_in_event_wait() -> None:
    """The exit closed the kitchen under them: the waits raised "kitchen
    closed" into tracebacks that the exit cut short, one exit in five."""
    script = """
        import threading, time
        from coroscope.bridge import Kitchen, order_threads
        kitchen = Kitchen(prep_times={"burger": 30})
        for wait in (lambda: kitchen.order(["burger"], timeout=60),
                     lambda: order_threads(["burger"], prep_times={"burger": 30})):
            threading.Thread(target=wait, daemon=True).start()
        time.sleep(0.1)
        print("exiting")
        """
    exits_cleanly(script, runs=RUNS * 2)


@pytest.mark.parametrize("ends", ["cut by shutdown", "done as the exit begins"])
def test_daemon_threads_whose_order_blocking_ends_at_exit_exit_cleanly(ends: str) -> None:
    """``order_blocking`` runs its loop's last turn and ``close`` under a Rust
    frame: a daemon thread doing that as the interpreter finalized was ended
    with a forced unwind, and the process aborted, one exit in seven."""
    prep, shutdown = (30, "coroscope.shutdown(2.0)") if ends == "cut by shutdown" else (0.3, "")
    script = f"""
        import threading, time, coroscope
        from coroscope.bridge import order_blocking
        def order():
            try:
                order_blocking(["burger"], prep_times={{"burger": {prep}}})
            except RuntimeError:
                pass  # cut by shutdown
        for _ in range(8):
            threading.Thread(target=order, daemon=True).start()
        time.sleep(0.3)
        {shutdown}
        print("exiting")
        """
    exits_cleanly(script, runs=RUNS * 3)


# The loop of a policy that lets the GIL go at the end of each turn (as
# logging to a file would): ``order_blocking`` makes its loop through it.
LETS_THE_GIL_GO_EACH_TURN = """
    warnings.simplefilter("ignore", DeprecationWarning)  # policies, from 3.14
    class Loop(asyncio.SelectorEventLoop):
        def _run_once(self):
            super()._run_once()
            time.sleep(0)
    class Policy(asyncio.DefaultEventLoopPolicy):
        _loop_factory = Loop
    asyncio.set_event_loop_policy(Policy())
    """

# The loop of a policy with a timer of its own, every 2 ms, that lets the GIL
# go (as a heartbeat that logs would): it runs Python whenever it ticks, never
# waiting in ``select(None)``, so no count covers it.
TICKS_BY_ITSELF = """
    warnings.simplefilter("ignore", DeprecationWarning)  # policies, from 3.14
    class Loop(asyncio.SelectorEventLoop):
        def __init__(self):
            super().__init__()
            self._tick()
        def _tick(self):
            time.sleep(0)
            self.call_later(0.002, self._tick)
    class Policy(asyncio.DefaultEventLoopPolicy):
        _loop_factory = Loop
    asyncio.set_event_loop_policy(Policy())
    """

POLICIES = {
    "asyncio's loop": "",
    "a loop letting the GIL go": LETS_THE_GIL_GO_EACH_TURN,
    "a loop ticking by itself": TICKS_BY_ITSELF,
    # A wake queued as the loop stopped kept its count until its callback was
    # freed: in debug mode, one exit in ten waited out its bound for it. (No
    # slow-callback lines: a loaded machine makes them.)
    "a loop ticking by itself in debug mode": TICKS_BY_ITSELF.replace(
        "super().__init__()",
        "super().__init__(); self.set_debug(True); self.slow_callback_duration = 3600",
    ),
}


def ordering(policy: str, prep_times: str) -> str:
    """A script: ``policy``, then 32 daemon threads ordering with
    ``order_blocking`` (items taking ``prep_times``) again and again until the
    exit refuses them or while it parks them; the last
    ``atexit`` handler (it runs after the kit's) prints whether the kit's
    exit let go of everything it counted, or waited out its bound."""
    return f"""
        import asyncio, atexit, threading, time, warnings
        {textwrap.indent(textwrap.dedent(policy), " " * 8).strip()}
        atexit.register(lambda: print("exiting" if coroscope.quiesce(0) else "still in flight"))
        import coroscope
        from coroscope.bridge import order_blocking
        def orders():
            while True:
                try:
                    order_blocking(["burger", "fries"], prep_times={prep_times})
                except RuntimeError:
                    return  # the exit shut the runtime down
        for _ in range(32):
            threading.Thread(target=orders, daemon=True).start()
        time.sleep(0.2)
        """


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_daemon_threads_ordering_again_and_again_as_the_exit_begins_exit_cleanly(
    policy: str,
) -> None:
    """Making ``order_blocking``'s loop and its first turns run Python under
    the Rust frame too: a thread whose new order had just begun as the
    interpreter finalized aborted the process, one exit in forty; with a
    loop that lets the GIL go in its turn after the kit's first-turn callback
    had let go of the count, one exit in eleven. And an answer ready just
    before the exit began stayed counted in flight after the exit dropped its
    hand-over (that loop never runs again): the exit waited out its whole
    bound for it, one exit in three; on a loop ticking by itself, every exit
    waited out its bound and then aborted (see the next story). The last
    ``atexit`` handler runs after the kit's, which has let go of everything
    by then."""
    script = ordering(policy, prep_times='{"burger": 0, "fries": 0.001}')
    exits_cleanly(script, runs=RUNS * 6)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_daemon_threads_waiting_for_a_long_order_on_a_loop_of_their_own_exit_cleanly(
    policy: str,
) -> None:
    """A loop that wakes by itself runs Python under ``order_blocking``'s
    Rust frame whenever it ticks: counted, the exit waited out its bound and
    then the thread aborted the process anyway; every exit did, with a loop
    ticking every 2 ms. The exit now wakes every such loop, by a callback
    that parks its thread for good, as the kit's other waits park."""
    exits_cleanly(ordering(policy, prep_times='{"burger": 60, "fries": 60}'), runs=RUNS * 3)


def test_a_loop_running_thread_safe_callbacks_at_once_does_not_park_the_exiting_thread() -> None:
    """The exit wakes ``order_blocking``'s loop with ``call_soon_threadsafe``
    and a callback that parks the thread running it: a loop that runs such a
    callback at once, in the calling thread, parked the thread running the
    ``atexit`` handlers, and the exit never ended. Only the loop's own thread
    parks."""
    script = """
        import asyncio, threading, time, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # policies, from 3.14
        class Loop(asyncio.SelectorEventLoop):
            def call_soon_threadsafe(self, callback, *args, context=None):
                if threading.get_ident() != self._thread_id:
                    return callback(*args)
                return super().call_soon_threadsafe(callback, *args, context=context)
        class Policy(asyncio.DefaultEventLoopPolicy):
            _loop_factory = Loop
        asyncio.set_event_loop_policy(Policy())
        from coroscope.bridge import order_blocking
        order = lambda: order_blocking(["burger"], prep_times={"burger": 60})
        threading.Thread(target=order, daemon=True).start()
        time.sleep(0.2)
        print("exiting")
        """
    exits_cleanly(script, runs=RUNS)  # for ever, before


@pytest.mark.parametrize(
    ("call", "answer"),
    [
        ("order_blocking(['burger'], prep_times={'burger': 0.3})", "served"),
        ("Kitchen(prep_times={'burger': 0.3}).order(['burger'])", "served"),
        ("order_threads(['burger'], prep_times={'burger': 0.3})", "served"),
        ("order_blocking(['burger'], prep_times={'burger': 60})", "refused"),  # past 2 s
        # It waited out its whole order, and the exit with it.
        ("order_threads(['burger'], prep_times={'burger': 60})", "refused"),
    ],
)
def test_a_thread_an_atexit_handler_starts_does_not_hold_the_exit_in_a_kit_call(
    call: str, answer: str
) -> None:
    """From 3.15 the interpreter joins, after the ``atexit`` handlers, the
    non-daemon threads an earlier handler started: one waiting in the kit
    when the kit's handler stopped it waited on, as a daemon thread's wait
    does, and the exit never ended. The kit's handler now joins such a thread
    first, for its 2 s, while the kit still runs for it, and answers what
    outlasts them as a shutdown by hand does: the daemon threads' waits too,
    which stay silent otherwise (before 3.15 such a thread is not waited for)."""
    script = f"""
        import atexit, threading, time
        from coroscope.bridge import Kitchen, order_blocking, order_threads
        def work():
            try:
                {call}
                print("served")
            except RuntimeError:
                print("refused")
        def handler():  # registered after the kit's: runs before it
            try:
                threading.Thread(target=work).start()
            except RuntimeError:
                return  # 3.12 refuses new threads at exit
            time.sleep(0.1)  # in the call when the kit's handler runs
        atexit.register(handler)
        daemon = lambda: order_blocking(["burger"], prep_times={{"burger": 60}})
        threading.Thread(target=daemon, daemon=True).start()
        order_threads(["fries"], prep_times={{"fries": 0}})
        """
    done = run_python(script, timeout=30)  # for ever, before
    assert done.returncode == 0, done.stderr
    if sys.version_info >= (3, 15):
        assert done.stdout == f"{answer}\n"
    if answer == "served":
        assert done.stderr == ""
