"""Taking the steps by hand: ``Stepper`` (``src/await_from_rust/stepper.rs``).

A Stepper must answer every call (``send``, ``throw``, ``close``) as the coroutine
itself would, from the very first one. How its steps are shown is in
``tests/test_records.py``.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Generator
from typing import Any

import pytest
from coroscope.await_from_rust import (
    Stepper,
    StepRecord,
    await_foo,
    drive_send,
    trace,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.coroutines import (
    AGREEMENT,
    Statement,
    StopIterationClass,
    bare_yield,
    execute,
    programs,
    python_await,
    raised_by,
    raises_chained,
    sleeps_then_returns,
)

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


def test_a_stepper_refuses_what_is_not_awaitable_in_awaits_words() -> None:
    with pytest.raises(TypeError) as ours:
        Stepper(3)
    assert str(ours.value) == str(raised_by(lambda: python_await(3)))


# --- every driver ------------------------------------------------------------------


async def interrupted(exc: type[BaseException]) -> None:
    await asyncio.sleep(0)
    raise exc  # Ctrl-C or sys.exit() arriving while the coroutine runs


def step_until_done(coro: Any) -> None:
    stepper = Stepper(coro)
    while not stepper.done:
        stepper.step()


@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("drive", [trace, drive_send, await_foo, step_until_done])
def test_ctrl_c_and_sys_exit_go_through_every_driver(drive: Any, exc: type[BaseException]) -> None:
    """They stop the program, not the coroutine: a driver that recorded one as the
    coroutine's last step and returned would let the script carry on."""
    with pytest.raises(exc):
        drive(interrupted(exc))


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


def test_a_cycle_through_the_exception_a_stepper_keeps_is_freed() -> None:
    """The exception was kept where the collector could not see it: a cycle
    through it (the exception referring back to the Stepper) was never freed,
    where one through an asyncio future's exception is."""
    import gc
    import weakref

    class Failure(Exception):
        stepper: object = None

    async def fails() -> None:
        raise Failure

    stepper = Stepper(fails())
    with pytest.raises(Failure) as raised:
        stepper.send(None)
    raised.value.stepper = stepper
    freed = weakref.ref(raised.value)
    del stepper, raised
    gc.collect()
    assert freed() is None
