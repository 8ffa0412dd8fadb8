"""The state of a Rust Future or Task is held by one thread at a time, and the
collector can start inside any critical section (``src/support/state_lock.rs``).

On a build with a GIL the lock is a flag that only the GIL's holder touches: these
stories are what a missing lock would break (lost updates from threads, a
collector that waits on a held state or reads it half-written).
"""

from __future__ import annotations

import asyncio
import threading

from coroscope.await_from_rust import Task
from coroscope.awaitable import Future

from tests.conftest import run_python

THREADS = 4
EACH = 2_000


def _in_threads(work: object) -> None:
    start = threading.Barrier(THREADS)

    def run() -> None:
        start.wait()
        work()  # type: ignore[operator]

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_threads_adding_callbacks_to_one_future_lose_none() -> None:
    loop = asyncio.new_event_loop()
    try:
        future = Future(loop=loop)
        ran: list[object] = []
        mine = ran.append

        _in_threads(lambda: [future.add_done_callback(mine) for _ in range(EACH)])

        assert len(future._callbacks) == THREADS * EACH
        future.set_result("done")
        loop.run_until_complete(asyncio.sleep(0))
        assert ran == [future] * (THREADS * EACH)
    finally:
        loop.close()


def test_threads_removing_callbacks_remove_each_exactly_once() -> None:
    loop = asyncio.new_event_loop()
    try:
        future = Future(loop=loop)
        callbacks = [lambda _f, i=i: i for i in range(THREADS * EACH)]
        for callback in callbacks:
            future.add_done_callback(callback)
        removed: list[int] = []

        def remove_a_quarter(quarter: list[object]) -> None:
            removed.extend(future.remove_done_callback(cb) for cb in quarter)

        quarters = [callbacks[i::THREADS] for i in range(THREADS)]
        threads = [threading.Thread(target=remove_a_quarter, args=(q,)) for q in quarters]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert removed == [1] * (THREADS * EACH)
        assert future._callbacks == []
    finally:
        loop.close()


def test_threads_renaming_one_task_leave_one_of_their_names() -> None:
    loop = asyncio.new_event_loop()
    try:
        task = Task(asyncio.sleep(0), loop=loop)
        names = [f"thread-{i}" for i in range(THREADS)]
        counter = iter(names)
        lock = threading.Lock()

        def rename() -> None:
            with lock:
                name = next(counter)
            for _ in range(EACH):
                task.set_name(name)
                assert task.get_name() in names

        _in_threads(rename)

        assert task.get_name() in names
        loop.run_until_complete(task)
    finally:
        loop.close()


def test_tasks_and_futures_finish_with_the_collector_running_at_every_allocation() -> None:
    """Every allocation inside a critical section then starts the collector,
    which must pass a held state by (not wait on it, not read it)."""
    done = run_python(
        """
        import asyncio, gc
        from coroscope.await_from_rust import task_factory
        from coroscope.awaitable import Future

        async def node(depth):
            if depth == 0:
                future = Future()
                asyncio.get_running_loop().call_soon(future.set_result, 1)
                return await future
            return sum(await asyncio.gather(node(depth - 1), node(depth - 1)))

        async def main():
            asyncio.get_running_loop().set_task_factory(task_factory)
            return await asyncio.ensure_future(node(7))

        gc.set_threshold(1)
        print(asyncio.run(main()))
        """,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "128"
