"""``src/support/c_future.rs``: from 3.14 the Rust ``Future`` (and so the Rust ``Task``) is a
real subclass of asyncio's C ``Future``, extended through PEP 697, and the C part
it carries is never what answers a call."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref

import pytest
from coroscope.await_from_rust import Task
from coroscope.awaitable import Future, TimerFuture

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 14),
    reason="the C base is built where asyncio's call graph needs it, 3.14+",
)

# Names of asyncio's Future that the Rust class may leave to the C part, and why.
LEFT_TO_THE_C_PART = {
    # The finalizer: it reports a lost exception from the C part's fields, which
    # stay empty (the Rust part reports its own, when it is freed).
    "__del__",
    # 3.14's awaited-by set: the C field is what asyncio's bookkeeping fills.
    "_asyncio_awaited_by",
}


def test_a_rust_future_and_task_are_asyncio_futures_to_isinstance() -> None:
    assert issubclass(Future, asyncio.Future)
    assert issubclass(Task, asyncio.Future)
    assert issubclass(TimerFuture, asyncio.Future)
    assert Future.__mro__[1] is asyncio.Future


def test_no_name_of_asyncios_future_is_answered_by_the_zeroed_c_part() -> None:
    inherited = {
        name
        for name in dir(asyncio.Future)
        if name not in vars(object) and getattr(Future, name) is getattr(asyncio.Future, name)
    }
    assert inherited <= LEFT_TO_THE_C_PART


def test_weak_references_come_from_the_c_part_and_die_with_the_future() -> None:
    future = Future.__new__(Future)
    ref = weakref.ref(future)
    assert ref() is future
    del future
    assert ref() is None


def test_freeing_futures_tasks_and_subclasses_leaves_each_class_as_it_was() -> None:
    """The C dealloc drops the instance's reference to its class, and nothing
    else does: a second drop would free the class under its instances."""

    class Sub(Task):
        pass

    async def burst() -> None:
        for _ in range(2_000):
            Future()
            Sub(asyncio.sleep(0))
            timer = TimerFuture(None, 0)
            timer.cycle = timer  # type: ignore[attr-defined]  # freed by the collector
        await asyncio.sleep(0.01)

    classes = (Future, Task, Sub, TimerFuture)
    asyncio.run(burst())
    gc.collect()
    before = [sys.getrefcount(cls) for cls in classes]
    asyncio.run(burst())
    gc.collect()
    assert [sys.getrefcount(cls) for cls in classes] == before
