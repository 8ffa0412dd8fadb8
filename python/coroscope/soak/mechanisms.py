"""What the soak awaits: every mechanism of the kit, each with the value it must
give back and the object whose refcount must not move, and what a storm cancels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from coroscope.await_from_rust import await_foo, drive_send, task_factory, trace
from coroscope.awaitable import Delegate, Future, Ready, ReadySend, TimerFuture, YieldN
from coroscope.bench.workloads import bare_yield
from coroscope.bridge import Doorbell, call_python, ticks
from coroscope.catalogue import CROSSINGS, crossing, crossings


class _Value:
    """What every leak trial passes through its awaits: its refcount is watched."""

    def __repr__(self) -> str:
        return "VALUE"


VALUE = _Value()


async def _passes(value: object) -> object:
    """A coroutine that yields to its driver once, then returns ``value``."""
    await bare_yield()
    return value


def _future_round_trip(value: object) -> Future[object]:
    future: Future[object] = Future()
    future.set_result(value)
    return future


async def _tick_once() -> object:
    async for _ in ticks(1, 0):
        pass
    return VALUE


@dataclass(frozen=True)
class Mechanism:
    """One way of awaiting: ``make()`` gives an awaitable whose result must equal
    ``expect``. ``batch`` awaits run concurrently (a ``gather``) when they wait
    on timers or threads, one after another otherwise. ``driver``: run ``make()``
    with this Rust driver instead of awaiting it. ``tasks``: the loop's task
    factory while it runs. ``watched``: the object whose refcount must not move."""

    name: str
    make: Callable[[], Any]
    watched: object
    expect: object = VALUE
    batch: int = 1
    driver: Callable[[Any], Any] | None = None
    tasks: Any = None


def _batch(crossing: Any) -> int:
    """Awaits that wait on tokio run a thousand (timers, orders) or a hundred at
    a time, as a busy program's would; the rest one after another."""
    if crossing.shape.name in ("sleep", "order"):
        return 1000
    return 100 if crossing.other_thread else 1


# The shortest timer there is: tokio's 1 ms tick.
TIMER = 1e-4

MECHANISMS = [
    Mechanism("control: asyncio.sleep(0)", lambda: asyncio.sleep(0, VALUE), asyncio.sleep),
    Mechanism("await_foo", lambda: _passes(VALUE), await_foo, driver=await_foo),
    Mechanism("drive_send", lambda: _passes(VALUE), drive_send, driver=drive_send),
    Mechanism("trace", lambda: _passes(VALUE), trace, driver=lambda c: trace(c)[-1].value),
    Mechanism("Ready", lambda: Ready(VALUE), Ready),
    Mechanism("ReadySend", lambda: ReadySend(VALUE), ReadySend),
    Mechanism("YieldN", lambda: YieldN(1, VALUE), YieldN),
    Mechanism("Delegate", lambda: Delegate(_passes(VALUE)), Delegate),
    Mechanism("Future", lambda: _future_round_trip(VALUE), Future),
    # Timers get a delay above zero: a zero delay makes no timer, and the timer
    # is what is tried (tokio rounds it up to its next 1 ms tick).
    Mechanism("TimerFuture", lambda: TimerFuture(VALUE, TIMER), TimerFuture, batch=1000),
    *(
        Mechanism(
            c.name,
            partial(c, VALUE, TIMER if c.shape.name == "sleep" else 0.0),
            c.make,
            c.shape.gives(VALUE),
            _batch(c),
        )
        for c in CROSSINGS
    ),
    Mechanism("call_python", lambda: call_python(_passes(VALUE)), call_python, batch=100),
    Mechanism("ticks", _tick_once, ticks, batch=100),
    Mechanism("Rust Task", lambda: _passes(VALUE), task_factory, batch=100, tasks=task_factory),
]

# What a storm cancels: Rust futures that wait for a minute unless cancelled.
STORM: dict[str, Callable[[], Awaitable[object]]] = {
    **{c.name: partial(c, None, 60.0) for shape in ("sleep", "order") for c in crossings(shape)},
    "TimerFuture": lambda: TimerFuture(None, 60),
    "Doorbell.wait": lambda: Doorbell().wait(),
    "sleep_awaitable in Rust Tasks": partial(crossing("sleep", "awaitable"), None, 60.0),
}
