"""Threads and the GIL (``src/bridge/kitchen.rs``): cooking on threads while Python
runs, and the attached wait that deadlocks unless it detaches."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from coroscope.bridge import (
    Kitchen,
    order_threads,
)

from tests.conftest import FAST, MEAL_ORDER

# --- threads and the GIL ------------------------------------------------------------


def test_threads_cook_while_other_python_threads_run() -> None:
    beats = 0
    stop = threading.Event()

    def heartbeat() -> None:
        nonlocal beats
        while not stop.is_set():
            beats += 1
            time.sleep(0.001)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    try:
        assert order_threads(["value_meal"], prep_times=FAST) == MEAL_ORDER
    finally:
        stop.set()
        thread.join()
    assert beats > 0  # the waiting order detached: the heartbeat thread ran


def test_waiting_attached_deadlocks_and_gives_up_with_the_fix_in_the_message() -> None:
    with Kitchen(prep_times={"fries": 0.005}, pool_size=2) as kitchen:
        with pytest.raises(TimeoutError, match=r"deadlock: .*release=True"):
            kitchen.order(["fries"] * 5, release=False, timeout=0.2)


def test_many_python_threads_order_at_once_and_the_pools_balance() -> None:
    threads, per_order = 6, ["value_meal", "burger", "soda"]
    served: list[list[str]] = []
    fast = {"burger": 0.002, "fries": 0.001, "soda": 0.0}
    with Kitchen(prep_times=fast, pool_size=3) as kitchen:

        def place() -> None:
            served.append(kitchen.order(per_order, timeout=30))

        workers = [threading.Thread(target=place) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        stats = kitchen.stats()
    assert len(served) == threads
    assert all(sorted(s) == sorted(["burger", "soda", "fries", "burger", "soda"]) for s in served)
    for item, row in stats.items():
        assert row["cooked"] == row["served"] + row["in_pool"], item
    assert stats["burger"]["served"] == 2 * threads


def test_a_closed_kitchen_refuses_orders_like_a_shut_down_executor() -> None:
    kitchen = Kitchen(prep_times={"soda": 0.0})
    kitchen.close()
    with pytest.raises(RuntimeError, match="cannot take new orders after the kitchen is closed"):
        kitchen.order(["soda"])


def test_closing_the_kitchen_answers_an_order_waiting_for_its_items() -> None:
    """At once, and not in the words of an order refused at the door."""
    kitchen = Kitchen(prep_times={"soda": 0.0, "burger": 60.0}, pool_size=1)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(kitchen.order, ["soda", "burger"], timeout=60)
        while kitchen.stats()["soda"]["served"] == 0:  # served its soda: waits for the burger
            time.sleep(0.01)
        kitchen.close()
        with pytest.raises(RuntimeError, match=r"^the kitchen closed before the order was ready$"):
            waiting.result(timeout=10)


@pytest.mark.parametrize("pool_size", [0, -1])
def test_a_kitchen_with_no_room_in_its_pools_is_refused(pool_size: int) -> None:
    with pytest.raises(ValueError, match="pool_size must be greater than 0"):
        Kitchen(pool_size=pool_size)


def test_a_kitchen_order_with_a_huge_timeout_just_waits() -> None:
    """It used to raise PanicException (a BaseException) from a duration overflow."""
    with Kitchen(prep_times={"soda": 0.0}) as kitchen:
        assert kitchen.order(["soda"], timeout=1e19) == ["soda"]
