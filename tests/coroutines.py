"""Coroutines, reference drivers and random programs that the driving tests share
(``test_drive.py``, ``test_stepper.py``): what Python itself does, to compare with."""

from __future__ import annotations

import asyncio
import contextlib
import types
from collections.abc import Callable, Coroutine, Generator
from typing import Any

import pytest
from coroscope.await_from_rust import (
    DEFAULT_MAX_STEPS,
    Stepper,
    StepRecord,
    await_foo,
    drive_send,
    trace,
)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


@types.coroutine
def bare_yield() -> Generator[None, Any, Any]:
    """Suspend once, handing ``None`` to the driver, as ``asyncio.sleep(0)`` does."""
    return (yield)


async def sleeps_then_returns(n: int, value: object) -> object:
    for _ in range(n):
        await asyncio.sleep(0)
    return value


def python_await(obj: object) -> Any:
    """What Python's own ``await obj`` gives, stepped by a plain-Python loop."""

    async def awaiter() -> Any:
        return await obj  # type: ignore[misc]

    return reference_drive(awaiter())


def reference_drive(coro: Coroutine[Any, Any, Any], max_steps: int = DEFAULT_MAX_STEPS) -> Any:
    """The reference driver, in plain Python: send None until StopIteration."""
    for _ in range(max_steps):
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value
        if yielded is not None:
            raise RuntimeError(f"reference driver cannot serve {yielded!r}")
    raise RuntimeError("coroutine did not finish")


def raised_by(fn: Callable[[], object]) -> BaseException:
    with pytest.raises(BaseException) as info:
        fn()
    return info.value


class StopIterationClass:
    """An __await__ iterator written as a class: returns by raising StopIteration."""

    def __await__(self) -> StopIterationClass:
        return self

    def __next__(self) -> None:
        raise StopIteration("from __next__")


async def raises_chained() -> None:
    await asyncio.sleep(0)
    try:
        {}["missing"]
    except KeyError as key_error:
        raise ValueError("outer", 2) from key_error


# --- random programs, and what each driver makes of them ----------------------------


class ProgramError(Exception):
    """Raised by generated programs, beside builtin exceptions."""


ERRORS: dict[str, type[BaseException]] = {
    "ValueError": ValueError,
    "KeyError": KeyError,
    "ProgramError": ProgramError,
    "StopIteration": StopIteration,  # becomes RuntimeError at the coroutine boundary
    "RuntimeError": RuntimeError,
}

Statement = tuple[Any, ...]

leaves = st.one_of(
    st.just(("yield",)),
    st.tuples(st.just("add"), st.integers(-9, 9)),
    st.tuples(st.just("raise"), st.sampled_from(sorted(ERRORS)), st.integers(0, 9)),
    st.tuples(st.just("return"), st.integers(-9, 9)),
)


def compound(children: st.SearchStrategy[Statement]) -> st.SearchStrategy[Statement]:
    block = st.lists(children, max_size=4)
    return st.one_of(
        st.tuples(st.just("await"), block),
        st.tuples(st.just("try"), block, st.sampled_from(sorted(ERRORS)), block, block),
    )


programs = st.lists(st.recursive(leaves, compound, max_leaves=16), max_size=6)


async def execute(block: list[Statement]) -> int:
    """Interpret a generated program: every nested block is a new coroutine."""
    total = 0
    for statement in block:
        match statement:
            case ("yield",):
                sent = await bare_yield()
                total += 1 if sent is None else 1000
            case ("add", n):
                total += n
            case ("raise", name, n):
                raise ERRORS[name](n)
            case ("return", n):
                return total + n
            case ("await", inner):
                total += await execute(inner)
            case ("try", body, caught, handler, final):
                try:
                    total += await execute(body)
                except ERRORS[caught] as err:
                    total += 100 + len(err.args) + await execute(handler)
                finally:
                    total += await execute(final)
    return total


Outcome = tuple[str, object, int]


def outcome_of(records: list[StepRecord]) -> Outcome:
    last = records[-1]
    if last.outcome == "raise":
        return ("raise", (type(last.value), last.value.args), len(records))
    return ("return", last.value, len(records))


def reference_outcome(program: list[Statement]) -> Outcome:
    coro = execute(program)
    steps = 0
    while True:
        steps += 1
        try:
            coro.send(None)
        except StopIteration as stop:
            return ("return", stop.value, steps)
        except BaseException as err:
            return ("raise", (type(err), err.args), steps)


def driver_outcome(drive: Callable[..., Any], program: list[Statement], steps: int) -> Outcome:
    """Run with exactly `steps` allowed (must be enough), and check one fewer is not."""
    if steps > 1:
        stopped = execute(program)
        with pytest.raises(RuntimeError, match="did not finish"):
            drive(stopped, max_steps=steps - 1)
        # Finish it here: closed at GC instead, its `finally` blocks could yield.
        with contextlib.suppress(BaseException):
            reference_drive(stopped)
    try:
        return ("return", drive(execute(program), max_steps=steps), steps)
    except BaseException as err:
        return ("raise", (type(err), err.args), steps)


def stepper_outcome(program: list[Statement]) -> Outcome:
    stepper = Stepper(execute(program))
    while not stepper.done:
        stepper.step()
    return outcome_of(stepper.history)


def check_drivers_agree(program: list[Statement]) -> None:
    expected = reference_outcome(program)
    steps = expected[2]
    assert driver_outcome(await_foo, program, steps) == expected
    assert driver_outcome(drive_send, program, steps) == expected
    assert stepper_outcome(program) == expected
    assert outcome_of(trace(execute(program))) == expected


AGREEMENT = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def panic_exception() -> type[BaseException]:
    """PyO3's ``PanicException`` (which no module exports): what a Rust panic
    becomes in Python, and what Python code can raise too."""
    from coroscope.await_from_rust import await_foo
    from coroscope.awaitable import panic_awaitable

    try:
        await_foo(panic_awaitable("to learn the type"))
    except BaseException as panic:  # a BaseException: `except Exception` misses it
        return type(panic)
    raise AssertionError("panic_awaitable did not panic")
