"""The jobs the benchmarks time, written once.

A *workload* is ``async def run(n)``: ``n`` operations of one job, returning how
many of them gave what was expected, so a runner checks a variant once
(``await run(k) == k``) before it times it. Every workload does exactly ``n``
operations, whatever ``n`` is: criterion's runs grow ``n`` step by step and
read the time per operation off the slope.

Read by the Python runner (``groups.py`` builds its variants from these), the
criterion benches (``benches/``) and the instruction counts. This module
imports nothing but the standard library: ``benches/drive.rs`` compiles it into
the bench (``include_str!``), which then needs no installed package.
"""

from __future__ import annotations

import asyncio
import collections
import operator
import types
from collections.abc import Callable, Coroutine, Generator, Iterator
from typing import Any

Workload = Callable[[int], Coroutine[Any, Any, Any]]
# Makes one awaitable. Typed loosely: a hand-written awaitable whose __await__
# returns an iterator (PythonStopIteration) is not the Awaitable typing knows.
Maker = Callable[[], Any]

# --- coroutines for the drivers -------------------------------------------------------


@types.coroutine
def bare_yield() -> Generator[None, None, None]:
    yield


async def awaits(n: int) -> int:
    """An ``async def`` awaiting a bare ``yield`` ``n`` times: each await makes a
    generator, so most of a step is the coroutine's own work."""
    for _ in range(n):
        await bare_yield()
    return n


@types.coroutine
def yields(n: int) -> Generator[None, None, int]:
    """The thinnest coroutine there is, yielding ``n`` times itself: most of a
    step is the driver's work."""
    for _ in range(n):
        yield
    return n


def python_send_loop(coro: Any) -> Any:
    """The baseline driver: ``coro.send(None)`` in a Python loop until ``StopIteration``."""
    try:
        while True:
            coro.send(None)
    except StopIteration as stop:
        return stop.value


def c_floor(coro: Any) -> None:
    """The coroutine consumed entirely in C (``deque`` pulls its iterator to the
    end): its resumes alone, with no driver at all. It checks nothing and drops
    the result."""
    iterator: Iterator[Any] = coro.__await__() if hasattr(coro, "__await__") else coro
    collections.deque(iterator, maxlen=0)


def drive(driver: Callable[[Any], Any], checked: bool = True) -> Workload:
    """``n`` awaits of a bare yield, ``DRIVE`` at a time in one coroutine that
    ``driver`` runs to its result. A drive's awaits are good when the driver
    gives the coroutine's result; an unchecked driver (``c_floor``, which drops
    it) has all its awaits counted."""

    async def run(n: int) -> int:
        good = 0
        for start in range(0, n, DRIVE):
            size = min(DRIVE, n - start)
            result = driver(awaits(size))
            good += size if not checked or result == size else 0
        return good

    return run


DRIVE = 100
"""Awaits per coroutine that ``drive`` runs."""


# --- awaiting one thing at a time -----------------------------------------------------


class PythonStopIteration:
    """A Python awaitable that is ready at once: ``__next__`` raises ``StopIteration(value)``."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __await__(self) -> PythonStopIteration:
        return self

    def __next__(self) -> None:
        raise StopIteration(self.value)


async def python_coroutine(value: object) -> object:
    return value


def sequential(make: Maker, expect: object) -> Workload:
    """``n`` awaits of ``make()``, one after another."""

    async def run(n: int) -> int:
        good = 0
        for _ in range(n):
            good += (await make()) == expect
        return good

    return run


def unchecked(make: Maker) -> Workload:
    """``n`` awaits of ``make()``, one after another, their results not looked
    at: a user's awaitable (``compare``, ``count_instructions``), whose result
    the kit does not know."""

    async def run(n: int) -> int:
        for _ in range(n):
            await make()
        return n

    return run


def fanout(make: Maker, expect: object) -> Workload:
    """``n`` awaits of ``make()`` at once, under one ``gather``."""

    async def run(n: int) -> int:
        return (await asyncio.gather(*(make() for _ in range(n)))).count(expect)

    return run


def batched(make: Maker, expect: object, width: int) -> Workload:
    """``n`` awaits of ``make()``, ``width`` at a time under a ``gather``, as a
    busy program waits on timers or threads."""
    if operator.index(width) < 1:
        raise ValueError(f"width must be at least 1, not {width}")

    async def run(n: int) -> int:
        good = 0
        for done in range(0, n, width):
            results = await asyncio.gather(*(make() for _ in range(min(width, n - done))))
            good += results.count(expect)
        return good

    return run


async def await_fresh_done_c_future(n: int) -> int:
    """``n`` awaits of a C future made and finished for each await."""
    loop = asyncio.get_running_loop()
    good = 0
    for _ in range(n):
        future = loop.create_future()
        future.set_result(1)
        good += await future
    return good


async def await_reused_done_c_future(n: int) -> int:
    """``n`` awaits of one finished C future: nothing is made per await."""
    future = asyncio.get_running_loop().create_future()
    future.set_result(1)
    good = 0
    for _ in range(n):
        good += await future
    return good


def round_trip(cls: Callable[..., Any]) -> Workload:
    """``n`` times: make a ``cls`` future on the running loop, set its result, await it."""

    async def run(n: int) -> int:
        loop = asyncio.get_running_loop()
        good = 0
        for _ in range(n):
            future = cls(loop=loop)
            future.set_result(1)
            good += await future
        return good

    return run


async def await_a_bare_future() -> object:
    """The least a waiting task can hold: its coroutine awaits a C future that
    nothing will finish (no timer, no handle, no Rust)."""
    return await asyncio.get_running_loop().create_future()


# --- programs of many tasks -----------------------------------------------------------


def with_tasks(factory: Any, body: Workload) -> Workload:
    """``body(n)``, with every task the loop makes built by ``factory`` (None: the C Task)."""

    async def run(n: int) -> object:
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        loop.set_task_factory(factory)
        try:
            return await asyncio.ensure_future(body(n))
        finally:
            loop.set_task_factory(previous)

    return run


SPIN = 100
"""How many times each of ``spinners``' tasks awaits ``asyncio.sleep(0)``."""


async def spinners(n: int) -> int:
    """``n`` steps: tasks each doing ``await asyncio.sleep(0)`` ``SPIN`` times
    (the last task the rest), all gathered."""

    async def spin(steps: int) -> int:
        for _ in range(steps):
            await asyncio.sleep(0)
        return steps

    return sum(await asyncio.gather(*(spin(min(SPIN, n - i)) for i in range(0, n, SPIN))))


async def gather_tree(n: int) -> int:
    """A binary tree of gathers with ``n`` leaves: each node gathers its two halves."""

    async def node(leaves: int) -> int:
        if leaves <= 1:
            return leaves
        half = leaves // 2
        return sum(await asyncio.gather(node(half), node(leaves - half)))

    # A whole number, as range() takes (a float would halve for ever); none
    # below zero, as range() does none.
    return await node(max(operator.index(n), 0))
