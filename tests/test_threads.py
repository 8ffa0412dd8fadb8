"""The kit's own threads (``src/support/threads.rs``): a cook wakes at once when
its kitchen closes or the runtime shuts down, waits without spinning, and is
waited for."""

from __future__ import annotations

import threading
import time

from coroscope.bridge import Kitchen

from tests.conftest import run_python


def test_closing_a_kitchen_does_not_wait_for_the_cooks_to_finish_cooking() -> None:
    kitchen = Kitchen(prep_times={"burger": 3600.0, "fries": 3600.0, "soda": 3600.0})
    closing = threading.Thread(target=kitchen.close)
    closing.start()
    closing.join(30)  # an hour if close() joined sleeping cooks
    assert not closing.is_alive()


def test_an_idle_kitchen_with_instant_items_sleeps() -> None:
    """A zero prep time used to keep a core busy: the cook retried a full pool."""
    with Kitchen(prep_times={"burger": 0.0, "fries": 0.0, "soda": 0.0}) as kitchen:
        idle = 0.5
        used_before = time.process_time()
        time.sleep(idle)
        cpu_used = time.process_time() - used_before
        assert kitchen.order(["value_meal"]) == ["burger", "soda", "fries"]
    assert cpu_used < idle / 2, f"busy for {cpu_used:.2f} of {idle} idle seconds"


def test_a_shutdown_stops_every_cook_at_once_and_waits_for_them() -> None:
    done = run_python(
        """
        import os, coroscope
        from coroscope._settle import settle
        from coroscope.bridge import Kitchen
        threads = lambda: len(os.listdir("/proc/self/task"))
        before = threads()
        kitchens = [Kitchen(prep_times={"burger": 3600}) for _ in range(3)]
        assert settle(lambda: threads() == before + 9), ("three cooks each", threads(), before)
        coroscope.shutdown(timeout=30)  # an hour if the cooks slept on
        # A cook's own last instructions run just after it is counted out.
        settle(lambda: threads() == before)
        print(threads() - before)
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
