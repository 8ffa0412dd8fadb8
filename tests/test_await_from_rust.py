"""Driving Python coroutines by hand from Rust: await_foo, drive_send, Stepper, trace.

The promise under test is "semantics identical to Python's": wherever Python's own
``await`` has an answer (a result, an exception, an error message), the drivers give
the same one, so most tests compare a driver with what Python itself does.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import traceback
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DRIVERS = [await_foo, drive_send]
drivers = pytest.mark.parametrize("drive", DRIVERS, ids=lambda d: d.__name__)


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


# --- what can be awaited ----------------------------------------------------------


class AwaitableClass:
    """An object with __await__ that delegates to a coroutine."""

    def __await__(self) -> Generator[Any, Any, str]:
        return (yield from sleeps_then_returns(2, "from __await__").__await__())


class StopIterationClass:
    """An __await__ iterator written as a class: returns by raising StopIteration."""

    def __await__(self) -> StopIterationClass:
        return self

    def __next__(self) -> None:
        raise StopIteration("from __next__")


@types.coroutine
def generator_based() -> Generator[None, Any, str]:
    yield
    return "from types.coroutine"


def done_future() -> asyncio.Future[str]:
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        future.set_result("from a done future")
        return future
    finally:
        loop.close()


async def _async_def() -> str:
    return "from an async def"


# name -> (make the awaitable, what awaiting it gives)
AWAITABLES: dict[str, tuple[Callable[[], object], object]] = {
    "coroutine object": (lambda: sleeps_then_returns(3, "from a coroutine"), "from a coroutine"),
    "async def function": (lambda: _async_def, "from an async def"),
    "types.coroutine generator": (generator_based, "from types.coroutine"),
    "types.coroutine function": (lambda: generator_based, "from types.coroutine"),
    "class with __await__": (AwaitableClass, "from __await__"),
    "class raising StopIteration": (StopIterationClass, "from __next__"),
    "done asyncio.Future": (done_future, "from a done future"),
}


@drivers
@pytest.mark.parametrize(("make", "expected"), AWAITABLES.values(), ids=AWAITABLES.keys())
def test_every_kind_of_awaitable_gives_what_await_gives(
    drive: Callable[[object], Any], make: Callable[[], object], expected: object
) -> None:
    obj = make()
    if not callable(obj):
        assert python_await(make()) == expected, "the table agrees with Python"
    assert drive(obj) == expected


@drivers
def test_a_coroutine_that_returns_none_gives_none(drive: Callable[[object], Any]) -> None:
    assert drive(sleeps_then_returns(2, None)) is None


# --- exceptions pass through unchanged ---------------------------------------------


async def raises_chained() -> None:
    await asyncio.sleep(0)
    try:
        {}["missing"]
    except KeyError as key_error:
        raise ValueError("outer", 2) from key_error


@drivers
def test_an_exception_keeps_its_type_args_cause_and_frames(drive: Callable[[object], Any]) -> None:
    err = raised_by(lambda: drive(raises_chained()))
    assert type(err) is ValueError
    assert err.args == ("outer", 2)
    assert isinstance(err.__cause__, KeyError)
    assert isinstance(err.__context__, KeyError)
    frames = [frame.name for frame in traceback.extract_tb(err.__traceback__)]
    assert "raises_chained" in frames


async def raises_stop_iteration() -> None:
    await asyncio.sleep(0)
    raise StopIteration("inside")


@drivers
def test_stop_iteration_inside_a_coroutine_becomes_runtime_error_as_pep_479_says(
    drive: Callable[[object], Any],
) -> None:
    expected = raised_by(lambda: python_await(raises_stop_iteration()))
    err = raised_by(lambda: drive(raises_stop_iteration()))
    assert type(err) is type(expected) is RuntimeError
    assert err.args == expected.args
    assert isinstance(err.__cause__, StopIteration)


# --- misuse gives Python's own errors ----------------------------------------------


class AwaitReturnsInt:
    def __await__(self) -> int:
        return 1


class AwaitReturnsCoroutine:
    def __await__(self) -> Coroutine[Any, Any, int]:
        async def inner() -> int:
            return 1

        return inner()


class InstanceAwait:
    """``__await__`` set on the instance: ``await`` ignores it, and so must we."""

    def __init__(self) -> None:
        self.__await__ = lambda: iter(())


MISUSE: dict[str, Callable[[], object]] = {
    "int": lambda: 1,
    "plain function": lambda: len,
    "generator not marked types.coroutine": lambda: (x for x in ()),
    "__await__ returns an int": AwaitReturnsInt,
    "__await__ returns a coroutine": AwaitReturnsCoroutine,
    "__await__ only on the instance": InstanceAwait,
}


@drivers
@pytest.mark.parametrize("make", MISUSE.values(), ids=MISUSE.keys())
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_misuse_gives_the_same_type_error_as_await(
    drive: Callable[[object], Any], make: Callable[[], object]
) -> None:
    expected = raised_by(lambda: python_await(make()))
    err = raised_by(lambda: drive(make()))
    assert type(err) is type(expected) is TypeError
    assert str(err) == str(expected)


@drivers
def test_a_coroutine_awaited_twice_raises_pythons_own_error(drive: Callable[[object], Any]) -> None:
    coro = sleeps_then_returns(1, "once")
    assert drive(coro) == "once"
    expected = raised_by(lambda: reference_drive(coro))
    err = raised_by(lambda: drive(coro))
    assert type(err) is RuntimeError
    assert str(err) == str(expected) == "cannot reuse already awaited coroutine"


@drivers
def test_a_coroutine_suspended_elsewhere_is_refused(drive: Callable[[object], Any]) -> None:
    async def inner() -> None:
        await asyncio.sleep(0)

    async def outer() -> None:
        await inner()

    coro = inner()
    suspended = outer()
    # Suspend `coro` inside another awaiter, as `await` would: the driver must refuse.
    holder = Stepper(_awaits(coro))
    holder.step()
    err = raised_by(lambda: drive(coro))
    assert type(err) is RuntimeError
    assert str(err) == "coroutine is being awaited already"
    holder.close()
    suspended.close()


async def _awaits(coro: Coroutine[Any, Any, Any]) -> Any:
    return await coro


# --- what gets yielded -------------------------------------------------------------


@drivers
def test_bare_yields_are_resumed_with_none(drive: Callable[[object], Any]) -> None:
    received: list[object] = []

    @types.coroutine
    def records_what_it_receives() -> Generator[None, Any, int]:
        for _ in range(3):
            received.append((yield))
        return len(received)

    assert drive(records_what_it_receives()) == 3
    assert received == [None, None, None]


@drivers
def test_a_pending_future_needs_an_event_loop(drive: Callable[[object], Any]) -> None:
    loop = asyncio.new_event_loop()
    future = loop.create_future()

    async def waits() -> object:
        return await future

    err = raised_by(lambda: drive(waits()))
    loop.close()
    assert type(err) is RuntimeError
    assert "needs an event loop" in str(err)
    assert repr(future) in str(err)
    assert "asyncio.run" in str(err)


@drivers
def test_a_bad_yield_is_named_in_the_error(drive: Callable[[object], Any]) -> None:
    @types.coroutine
    def yields_a_number() -> Generator[int, Any, None]:
        yield 42

    err = raised_by(lambda: drive(yields_a_number()))
    assert type(err) is RuntimeError
    assert "neither None" in str(err)
    assert str(err).endswith(": 42")


@drivers
def test_max_steps_counts_resumptions(drive: Callable[..., Any]) -> None:
    # Three yields, then the return: four steps.
    assert drive(sleeps_then_returns(3, "ok"), max_steps=4) == "ok"
    err = raised_by(lambda: drive(sleeps_then_returns(3, "ok"), max_steps=3))
    assert type(err) is RuntimeError
    assert "did not finish within max_steps=3" in str(err)


@drivers
def test_a_coroutine_that_never_finishes_is_stopped(drive: Callable[..., Any]) -> None:
    async def forever() -> None:
        while True:
            await asyncio.sleep(0)

    err = raised_by(lambda: drive(forever(), max_steps=1000))
    assert "did not finish" in str(err)


@drivers
@pytest.mark.parametrize(("max_steps", "error"), [(0, ValueError), (-1, ValueError)])
def test_max_steps_must_be_positive(
    drive: Callable[..., Any], max_steps: int, error: type[Exception]
) -> None:
    coro = sleeps_then_returns(0, None)
    with pytest.raises(error):
        drive(coro, max_steps=max_steps)
    coro.close()


@pytest.mark.parametrize("fn", [await_foo, drive_send, trace], ids=lambda f: f.__name__)
def test_the_signature_shows_the_real_default(fn: Callable[..., Any]) -> None:
    # What Jupyter's `?` shows must be what the function does.
    assert inspect.signature(fn).parameters["max_steps"].default == DEFAULT_MAX_STEPS == 1_000_000


# --- Stepper -----------------------------------------------------------------------


def test_a_stepper_shows_each_step() -> None:
    stepper = Stepper(sleeps_then_returns(2, "done"))
    assert repr(stepper) == "<Stepper coroutine sleeps_then_returns steps=0 not started>"
    assert stepper.send(None) is None
    assert not stepper.done
    assert "suspended, last yielded None" in repr(stepper)
    assert stepper.send(None) is None
    with pytest.raises(StopIteration) as stop:
        stepper.send(None)
    assert stop.value.value == "done"
    assert stepper.done
    assert stepper.steps == 3
    assert stepper.result == "done"
    assert stepper.exception is None
    assert [(r.index, r.action, r.outcome, r.value) for r in stepper.history] == [
        (1, "send", "yield", None),
        (2, "send", "yield", None),
        (3, "send", "return", "done"),
    ]
    assert repr(stepper).endswith("steps=3 returned 'done'>")


def test_a_stepper_sends_values_in() -> None:
    @types.coroutine
    def echo() -> Generator[object, object, list[object]]:
        got = []
        for _ in range(2):
            got.append((yield len(got)))
        return got

    stepper = Stepper(echo())
    assert stepper.send(None) == 0
    assert stepper.send("a") == 1
    with pytest.raises(StopIteration) as stop:
        stepper.send("b")
    assert stop.value.value == ["a", "b"]


def test_result_before_done_is_an_invalid_state() -> None:
    stepper = Stepper(sleeps_then_returns(1, None))
    with pytest.raises(asyncio.InvalidStateError, match="still suspended"):
        _ = stepper.result
    with pytest.raises(asyncio.InvalidStateError):
        _ = stepper.exception
    stepper.close()


def test_step_records_a_raise_instead_of_raising() -> None:
    stepper = Stepper(raises_chained())
    assert stepper.step().outcome == "yield"
    record = stepper.step()
    assert isinstance(record, StepRecord)
    assert record.outcome == "raise"
    assert isinstance(record.value, ValueError)
    assert stepper.done
    assert stepper.exception is record.value
    with pytest.raises(ValueError, match="outer"):
        _ = stepper.result


def test_throw_raises_at_the_await_and_the_coroutine_may_catch_it() -> None:
    async def catches() -> str:
        try:
            await asyncio.sleep(0)
        except KeyError as err:
            return f"caught {err.args[0]}"
        return "not caught"

    stepper = Stepper(catches())
    stepper.step()
    with pytest.raises(StopIteration) as stop:
        stepper.throw(KeyError("k"))
    assert stop.value.value == "caught k"
    assert stepper.history[-1].action == "throw"


def test_throw_that_is_not_caught_comes_back_out() -> None:
    stepper = Stepper(sleeps_then_returns(3, None))
    stepper.step()
    with pytest.raises(KeyError):
        stepper.throw(KeyError)
    assert isinstance(stepper.exception, KeyError)


def test_close_runs_finally_blocks() -> None:
    ran: list[str] = []

    async def cleans_up() -> None:
        try:
            await asyncio.sleep(0)
        finally:
            ran.append("finally")

    stepper = Stepper(cleans_up())
    stepper.step()
    stepper.close()
    assert ran == ["finally"]
    assert stepper.done
    assert stepper.result is None
    assert repr(stepper).endswith("closed>")
    stepper.close()  # closing twice is harmless, as for generators


def test_close_of_a_coroutine_that_ignores_generator_exit_matches_python() -> None:
    @types.coroutine
    def stubborn_gen() -> Generator[None, None, None]:
        while True:
            try:
                yield
            except GeneratorExit:
                pass

    async def stubborn() -> None:
        while True:
            try:
                await bare_yield()
            except GeneratorExit:
                pass

    for make in (stubborn_gen, stubborn):
        python_coro = make()
        python_coro.send(None)
        expected = raised_by(python_coro.close)

        stepper = Stepper(make())
        stepper.step()
        err = raised_by(stepper.close)
        assert type(err) is type(expected) is RuntimeError
        assert str(err) == str(expected)
        assert not stepper.done, "the coroutine is still suspended, as in Python"
        # End both for good: only an exception they do not catch can.
        for end in (python_coro.throw, stepper.throw):
            with pytest.raises(SystemExit):
                end(SystemExit)


def test_a_stepper_works_on_a_plain_await_iterator() -> None:
    stepper = Stepper(StopIterationClass())
    with pytest.raises(StopIteration) as stop:
        stepper.send(None)
    assert stop.value.value == "from __next__"
    stepper.close()  # already done: nothing to do


def test_throw_into_an_iterator_without_throw_raises_it_directly() -> None:
    class Counting:
        def __await__(self) -> Counting:
            return self

        def __next__(self) -> None:
            return None

    stepper = Stepper(Counting())
    stepper.step()
    with pytest.raises(ValueError, match="thrown"):
        stepper.throw(ValueError("thrown"))
    assert stepper.done


def test_a_stepper_refuses_what_is_not_awaitable() -> None:
    with pytest.raises(TypeError, match="can't be used in 'await' expression"):
        Stepper(3)


# --- trace -------------------------------------------------------------------------


def test_trace_returns_one_record_per_step() -> None:
    records = trace(sleeps_then_returns(2, "v"))
    assert [r.outcome for r in records] == ["yield", "yield", "return"]
    assert records[-1].value == "v"
    assert all(r.ns >= 0 for r in records)
    assert repr(records[0]) == "<step 1: send None -> yield None>"


def test_trace_records_the_coroutines_exception_as_the_last_step() -> None:
    records = trace(raises_chained)
    assert [r.outcome for r in records] == ["yield", "raise"]
    assert isinstance(records[-1].value, ValueError)


def test_trace_raises_driver_errors() -> None:
    with pytest.raises(RuntimeError, match="did not finish"):
        trace(sleeps_then_returns(5, None), max_steps=2)


# --- differential testing: random programs, every driver agrees ---------------------


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


@settings(AGREEMENT, max_examples=2000)
@given(programs)
def test_every_driver_agrees_with_the_reference_driver(program: list[Statement]) -> None:
    check_drivers_agree(program)


@pytest.mark.slow
@settings(AGREEMENT, max_examples=50_000)
@given(programs)
def test_every_driver_agrees_on_many_more_programs(program: list[Statement]) -> None:
    check_drivers_agree(program)


# --- the Stepper against a bare coroutine, from the very first call ---------------

THROWN: dict[str, object] = {"5": 5, "ValueError": ValueError, "ValueError('x')": ValueError("x")}

calls = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.sampled_from([None, 5])),
        st.tuples(st.just("throw"), st.sampled_from(sorted(THROWN))),
        st.just(("close",)),
    ),
    min_size=1,
    max_size=6,
)


def call_outcomes(target: Any, sequence: list[tuple[Any, ...]]) -> list[tuple[str, object]]:
    """What each call did: what it returned, the value it stopped with, or the
    type of what it raised (messages may be worded differently)."""
    seen: list[tuple[str, object]] = []
    for call in sequence:
        try:
            match call:
                case ("send", value):
                    seen.append(("yielded", target.send(value)))
                case ("throw", name):
                    seen.append(("yielded", target.throw(THROWN[name])))
                case ("close",):
                    seen.append(("closed", target.close()))
        except StopIteration as stop:
            seen.append(("stopped", stop.value))
        except BaseException as err:
            seen.append(("raised", type(err)))
    # Run it to its end here: left to the collector, its `finally` blocks
    # would raise where nobody sees.
    for _ in range(10_000):
        try:
            target.send(None)
        except BaseException:
            break
    return seen


@settings(AGREEMENT, max_examples=500)
@given(programs, calls)
@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
def test_a_stepper_answers_any_call_sequence_as_the_coroutine_itself_would(
    program: list[Statement], sequence: list[tuple[Any, ...]]
) -> None:
    """Invalid first calls included (a value sent into an unstarted coroutine,
    a throw of something that is not an exception): the Stepper used to call
    itself done after the TypeError and run the body on the next send."""
    reference = call_outcomes(execute(program), sequence)
    assert call_outcomes(Stepper(execute(program)), sequence) == reference
