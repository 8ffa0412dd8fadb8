"""The example shapes every bridge wraps (``src/support/shapes.rs``), through every bridge
of the catalogue: each gives its value back, and only a wait lets the loop run."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from coroscope.catalogue import BRIDGES, CROSSINGS, SHAPES

from tests.conftest import Run

# --- the three shapes of wait, through every bridge ------------------------------------

# Every crossing of the catalogue, each shape through each bridge that has it:
# the benchmarks (python -m coroscope.bench, benches/groups.rs) time exactly these.
EVERY = {c.name: c for c in CROSSINGS}


@pytest.mark.parametrize("name", EVERY)
def test_every_crossing_gives_its_value_back_alone_or_gathered(
    name: str, run: Run[Any], rust_futures_all_dropped: None
) -> None:
    cross = EVERY[name]

    async def main() -> tuple[object, list[object]]:
        return await cross("one"), await asyncio.gather(*(cross(i) for i in range(100)))

    assert run(main()) == (
        cross.shape.gives("one"),
        [cross.shape.gives(i) for i in range(100)],
    )


@pytest.mark.parametrize("name", [c.name for c in CROSSINGS if c.shape.name in ("ready", "yield")])
def test_only_a_crossing_that_waits_lets_the_loop_run_in_between(name: str, run: Run[Any]) -> None:
    """A callback scheduled before the await runs during it only if the await yields.

    ``future_into_py`` always yields: its asyncio future is finished later, from
    tokio, even when the Rust future was ready at its first poll. (A hop may or
    may not wait: the tokio task can finish before its handle is first polled.)
    """
    cross = EVERY[name]

    async def main() -> bool:
        ran = asyncio.Event()
        asyncio.get_running_loop().call_soon(ran.set)
        await cross(None)
        return ran.is_set()

    assert run(main()) is (cross.shape.name != "ready" or cross.bridge.name == "future_into_py")


# The crossings whose awaitable holds the value it gives (stepped on the loop's
# thread; future_into_py's value waits in tokio, as asyncio's call_later keeps
# its arguments, until the future is done). PyO3's own Coroutine cannot show
# its future's captures to the collector: upstream, pinned by a strict xfail.
HOLDING = [
    pytest.param(
        c,
        marks=pytest.mark.xfail(reason="PyO3's Coroutine: upstream", strict=True)
        if c.bridge.name == "async_fn"
        else (),
        id=c.name,
    )
    for c in CROSSINGS
    if not c.bridge.other_thread and c.shape.name != "order"
]


@pytest.mark.parametrize("cross", HOLDING)
def test_a_value_that_refers_back_to_its_awaitable_is_freed_by_the_collector(
    cross: Any, run: Run[Any], rust_futures_all_dropped: None
) -> None:
    """A coroutine's frame is traversed, so ``x.awaitable = f(x)`` makes a cycle
    the collector frees; an awaitable that hid ``x`` inside its Rust future made
    one it never did."""

    class Holder:
        awaitable: object = None

    async def main() -> bool:
        holder = Holder()
        holder.awaitable = cross(holder, 60.0)
        freed = weakref.ref(holder)
        del holder
        gc.collect()
        return freed() is None

    assert run(main())


def test_the_catalogue_holds_every_example_named_by_the_rule() -> None:
    """Every ``<shape>_<bridge>`` function the kit exports is in the catalogue, so
    the benchmarks, the soak and these tests all see it."""
    from coroscope._native import awaitable, bridge

    shapes = {shape.name for shape in SHAPES}
    bridges = {way.name for way in BRIDGES}
    exported = {
        name
        for module in (awaitable, bridge)
        for name in module.__all__
        if name.split("_", 1)[0] in shapes and name.split("_", 1)[1] in bridges
    }
    assert exported == set(EVERY)


@pytest.mark.parametrize("bridge", ["awaitable", "fast"])
def test_a_zero_sleep_makes_no_timer_and_is_ready_at_its_first_step(bridge: str) -> None:
    """tokio's timers tick each millisecond: a zero sleep with a timer would wait
    for the next tick. Without one it finishes at its first step, so even a driver
    that cannot wait (``drive_send`` refuses anything pending) runs it to the end."""
    from coroscope import bridge as bridges
    from coroscope.await_from_rust import drive_send
    from coroscope.bridge import sleep_awaitable

    sleep = sleep_awaitable if bridge == "awaitable" else bridges.sleep_fast
    assert drive_send(sleep(0, "at once")) == "at once"
    with pytest.raises(RuntimeError):
        drive_send(sleep(0.001, "later"))  # a real timer: pending at its first step
