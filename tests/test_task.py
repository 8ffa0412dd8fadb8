"""The Rust ``Task``: real asyncio programs, once on asyncio's Task and once on ours.

Each program in ``tests/task_programs.py`` returns what it observed.
``test_programs_behave_the_same`` runs it with the loop's own Task and again with
``loop.set_task_factory(task_factory)``; the logs must be identical.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import io
import sys
from collections.abc import Callable
from typing import Any

import pytest
from coroscope._compat import eager_factory
from coroscope.await_from_rust import Task, task_factory
from coroscope.awaitable import Future

from tests.conftest import Run
from tests.task_programs import PROGRAMS, Program, await_it


def run_with(factory: Any, run: Run[Any], program: Program) -> list[object]:
    async def main() -> list[object]:
        if factory is not None:
            asyncio.get_running_loop().set_task_factory(factory)
        return await asyncio.ensure_future(program())

    return run(main())


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_programs_behave_the_same(run: Run[Any], name: str) -> None:
    expected = run_with(None, run, PROGRAMS[name])
    assert run_with(task_factory, run, PROGRAMS[name]) == expected


EAGER = pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are new in Python 3.12")


@EAGER
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_programs_behave_the_same_with_eager_tasks(run: Run[Any], name: str) -> None:
    expected = run_with(eager_factory(asyncio.Task), run, PROGRAMS[name])
    assert run_with(eager_factory(Task), run, PROGRAMS[name]) == expected


def test_the_factory_makes_rust_tasks(run: Run[Any]) -> None:
    async def main() -> list[object]:
        asyncio.get_running_loop().set_task_factory(task_factory)
        task = asyncio.ensure_future(asyncio.sleep(0))
        inner = await asyncio.ensure_future(await_it(_current_type()))
        await task
        return [type(task), inner]

    assert run(main()) == [Task, Task]


async def _current_type() -> type:
    return type(asyncio.current_task())


# --- the Task API, directly ---------------------------------------------------------


def test_a_task_reports_its_name_coro_and_loop(run: Run[Any]) -> None:
    async def main() -> list[object]:
        coro = asyncio.sleep(0, "v")
        task = Task(coro, name="brewer")
        answers: list[object] = [task.get_name(), task.get_coro() is coro]
        answers.append(task.get_loop() is asyncio.get_running_loop())
        task.set_name(42)
        answers += [task.get_name(), repr(task).startswith("<Task pending name='42' coro=<sleep()")]
        answers.append(await task)
        return answers

    assert run(main()) == ["brewer", True, True, "42", True, "v"]


def test_default_names_count_on_asyncios_python_counter(run: Run[Any]) -> None:
    """The C Task's counter lives in ``_asyncio``'s own state, out of reach: the
    Rust Task counts on the one asyncio's pure-Python Task uses."""
    from asyncio import tasks

    async def main() -> list[int]:
        first = int(Task(asyncio.sleep(0)).get_name().removeprefix("Task-"))
        second = int(Task(asyncio.sleep(0)).get_name().removeprefix("Task-"))
        after = tasks._task_name_counter()  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        return [second - first, after - second]

    assert run(main()) == [1, 1]


def test_result_and_exception_follow_the_task_state(run: Run[Any]) -> None:
    async def main() -> None:
        task = Task(asyncio.sleep(0.001, "r"))
        with pytest.raises(asyncio.InvalidStateError, match="Result is not ready"):
            task.result()
        with pytest.raises(asyncio.InvalidStateError, match="Exception is not set"):
            task.exception()
        assert await task == "r"
        assert task.result() == "r" and task.exception() is None

    run(main())


def test_set_result_and_set_exception_are_refused(run: Run[Any]) -> None:
    async def main() -> None:
        task = Task(asyncio.sleep(0))
        with pytest.raises(RuntimeError, match="Task does not support set_result operation"):
            task.set_result(1)
        with pytest.raises(RuntimeError, match="Task does not support set_exception operation"):
            task.set_exception(ValueError())
        await task

    run(main())


def test_done_callbacks_run_once_done(run: Run[Any]) -> None:
    async def main() -> list[object]:
        seen: list[object] = []
        task = Task(asyncio.sleep(0, "x"))
        task.add_done_callback(lambda t: seen.append(("first", t.result())))
        task.add_done_callback(print)
        assert task.remove_done_callback(print) == 1
        await task
        await asyncio.sleep(0)
        return seen

    assert run(main()) == [("first", "x")]


def test_not_a_coroutine_is_refused(run: Run[Any]) -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="a coroutine was expected, got 42"):
            Task(42)

    run(main())


def test_awaiting_a_task_from_another_loop_is_refused(run: Run[Any]) -> None:
    other = asyncio.new_event_loop()
    try:
        foreign = Task(asyncio.sleep(0), loop=other)

        async def main() -> None:
            await foreign

        with pytest.raises(RuntimeError, match="attached to a different loop"):
            run(main())
        other.run_until_complete(foreign)
    finally:
        other.close()


def test_a_destroyed_pending_task_is_reported(run: Run[Any]) -> None:
    reports: list[dict[str, Any]] = []

    async def waits_forever() -> None:
        await asyncio.get_running_loop().create_future()

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        Task(waits_forever())
        await asyncio.sleep(0)  # the task starts, then waits on a future nobody holds
        gc.collect()

    run(main())
    assert [r["message"] for r in reports] == ["Task was destroyed but it is pending!"]
    assert repr(reports[0]["task"]).startswith("<Task pending name='Task-")


def test_the_stack_of_a_waiting_task_is_its_coroutine_frame(run: Run[Any]) -> None:
    async def waits() -> None:
        await asyncio.sleep(1)

    async def main() -> tuple[list[str], str]:
        task = Task(waits())
        await asyncio.sleep(0)
        frames = [frame.f_code.co_name for frame in task.get_stack()]
        printed = io.StringIO()
        task.print_stack(file=printed)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return frames, printed.getvalue()

    frames, printed = run(main())
    assert frames == ["waits"]
    assert printed.startswith("Stack for <Task pending name=") and "in waits" in printed


# --- eager start (3.12+) and the other version-dependent parts ------------------


@EAGER
def test_an_eager_task_that_never_suspends_is_done_before_create_task_returns(
    run: Run[Any],
) -> None:
    async def answer() -> int:
        return 42

    async def main() -> list[object]:
        task = Task(answer(), eager_start=True)
        # Done already: no loop iteration ran, and nothing is left for the loop.
        return [task.done(), task.result(), task.get_coro(), task in asyncio.all_tasks()]

    assert run(main()) == [True, 42, None, False]


@EAGER
def test_an_eager_task_runs_its_first_step_as_the_current_task_then_waits_on_the_loop(
    run: Run[Any],
) -> None:
    log: list[object] = []

    async def child() -> str:
        log.append(("child starts", asyncio.current_task() is task_box[0]))
        await asyncio.sleep(0)
        log.append("child resumes")
        return "done"

    task_box: list[Any] = []

    async def main() -> list[object]:
        parent = asyncio.current_task()
        loop = asyncio.get_running_loop()
        loop.set_task_factory(eager_factory(Task))
        task_box.append(None)
        task = loop.create_task(child())
        task_box[0] = task
        log.append(("create_task returned", asyncio.current_task() is parent))
        log.append(("registered", task in asyncio.all_tasks()))
        log.append(await task)
        return log

    # The first step ran inside create_task, before task_box held the task.
    assert run(main()) == [
        ("child starts", False),
        ("create_task returned", True),
        ("registered", True),
        "child resumes",
        "done",
    ]


@EAGER
def test_an_eager_task_runs_in_its_own_context() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="outer")

    async def sets() -> str:
        var.set("inner")
        return var.get()

    async def main() -> list[object]:
        context = contextvars.copy_context()
        task = Task(sets(), eager_start=True, context=context)
        return [task.result(), var.get(), context[var], task.get_context() is context]

    assert asyncio.run(main()) == ["inner", "outer", "inner", True]


@EAGER
def test_an_eager_task_whose_context_cannot_be_entered_is_refused_and_leaves_no_task() -> None:
    """Its first step fails before its coroutine runs: the construction raises,
    and no task stays listed pending with no step to come (``asyncio.run``
    waited for it for ever as it ended)."""
    context = contextvars.copy_context()

    async def main() -> list[object]:
        coro = _answer()
        try:  # entered already: here, around the construction
            context.run(Task, coro, eager_start=True, context=context)
        except RuntimeError as err:
            refused = str(err).startswith("cannot enter context")
        coro.close()
        return [refused, asyncio.all_tasks() == {asyncio.current_task()}]

    loop = asyncio.new_event_loop()  # not asyncio.run: it would wait for such a task
    try:
        assert loop.run_until_complete(main()) == [True, True]
    finally:
        loop.close()


async def _answer() -> int:
    return 42


def test_eager_start_follows_the_running_python() -> None:
    async def main() -> object:
        coro = _answer()
        try:
            return Task(coro, eager_start=True).done()
        except TypeError as err:
            coro.close()
            return str(err)

    if sys.version_info >= (3, 12):
        assert asyncio.run(main()) is True
    else:
        assert asyncio.run(main()) == (
            "Task.__init__() got an unexpected keyword argument 'eager_start'"
        )


@pytest.mark.parametrize("shown", [Task, task_factory, asyncio.Task])
def test_eager_start_is_shown_where_it_is_taken_as_asyncio_shows_it(shown: Any) -> None:
    """``inspect.signature`` (what Jupyter's ``?`` prints) offered
    ``eager_start`` on 3.11, which refuses it."""
    import inspect

    offered = "eager_start" in inspect.signature(shown).parameters
    assert offered == (sys.version_info >= (3, 12))


def test_eager_start_outside_a_running_loop_schedules_as_usual() -> None:
    loop = asyncio.new_event_loop()
    try:
        kwargs = {"eager_start": True} if sys.version_info >= (3, 12) else {}
        task = Task(asyncio.sleep(0, "slept"), loop=loop, **kwargs)
        assert not task.done()
        assert loop.run_until_complete(task) == "slept"
    finally:
        loop.close()


def test_uncancel_to_zero_forgets_an_undelivered_cancel_from_3_13() -> None:
    async def main() -> list[object]:
        task = Task(asyncio.sleep(0, "finished"))
        task.cancel()
        remaining = task.uncancel()
        try:
            return [remaining, await task]
        except asyncio.CancelledError:
            return [remaining, "cancelled"]

    expected = "finished" if sys.version_info >= (3, 13) else "cancelled"
    assert asyncio.run(main()) == [0, expected]
    # And exactly as asyncio's own Task does on this version:
    with_c_task = asyncio.new_event_loop()
    try:
        task = with_c_task.create_task(asyncio.sleep(0, "finished"))
        task.cancel()
        task.uncancel()
        outcome = with_c_task.run_until_complete(asyncio.gather(task, return_exceptions=True))
        assert ("finished" if outcome == ["finished"] else "cancelled") == expected
    finally:
        with_c_task.close()


def test_the_factory_passes_every_keyword_the_loop_gives_on_to_the_task(run: Run[Any]) -> None:
    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        task = task_factory(loop, asyncio.sleep(0, "slept"), name="named")
        return [task.get_name(), await task]

    assert run(main()) == ["named", "slept"]


def test_the_factory_refuses_a_keyword_the_task_does_not_know_as_the_task_does() -> None:
    loop = asyncio.new_event_loop()
    try:
        coro = asyncio.sleep(0)
        with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
            task_factory(loop, coro, name="named", colour="red")  # type: ignore[call-arg]
        coro.close()
    finally:
        loop.close()


def test_the_factory_passes_every_keyword_on_when_it_calls_the_class() -> None:
    """A `loop=` keyword (not the positional loop) sends the factory to the class
    call: the other keywords go with it."""
    loop = asyncio.new_event_loop()
    try:
        task = task_factory(loop, asyncio.sleep(0, "slept"), name="named", loop=loop)  # type: ignore[call-arg]
        assert task.get_name() == "named"
        assert loop.run_until_complete(task) == "slept"
    finally:
        loop.close()


@pytest.mark.parametrize("task_class", [Task, asyncio.Task], ids=["rust", "c"])
def test_a_future_subclass_is_asked_its_own_loop_as_asyncio_asks_it(task_class: Any) -> None:
    """A subclass may override ``get_loop``: the Task asks it, and refuses a
    future whose loop is another, as asyncio's Task does."""
    other = asyncio.new_event_loop()

    class Elsewhere(Future):
        def get_loop(self) -> asyncio.AbstractEventLoop:
            return other

    async def main() -> str:
        try:
            await task_class(waits_on(Elsewhere()))
        except RuntimeError as err:
            return str(err)
        return "not refused"

    async def waits_on(future: Any) -> None:
        await future

    try:
        assert "attached to a different loop" in asyncio.run(main())
    finally:
        other.close()


@pytest.mark.parametrize("task_class", [Task, asyncio.Task], ids=["rust", "c"])
def test_a_task_initialized_twice_says_what_the_c_task_says(task_class: Any) -> None:
    """Up to 3.14 a second ``__init__`` is taken and schedules a step that the
    finished task refuses; 3.15 refuses the ``__init__``. The words are the C
    Task's either way (they were the Python Task's: a comma, ``_step``, and
    the class's bare name where 3.15 names its module too)."""

    class Mine(task_class):  # type: ignore[misc,valid-type]
        pass

    async def one() -> int:
        return 1

    async def main() -> str:
        loop = asyncio.get_running_loop()
        said: list[str] = []
        loop.set_exception_handler(lambda _, context: said.append(str(context["exception"])))
        task = Mine(first, loop=loop)
        try:
            task.__init__(second, loop=loop)
        except RuntimeError as err:
            return str(err)
        await task
        await asyncio.sleep(0)  # the stray step
        return said[0].replace(repr(task), "<task>")

    first, second = one(), one()
    said = asyncio.run(main())
    first.close()
    second.close()
    if sys.version_info >= (3, 15):
        assert said == f"{Mine.__module__}.{Mine.__qualname__} object is already initialized"
    else:
        step = "__step" if sys.version_info >= (3, 14) else "_step"
        assert said == f"{step}(): already done: <task> None"


async def _waits_on(task: Any) -> None:
    await task


async def _cancelling_through(
    task_class: Any, cancel_of: Callable[[Any], Any], cancel_outer: Callable[[Any], object]
) -> tuple[int, int]:
    """An outer task awaiting an inner one whose ``cancel`` is ``cancel_of(inner)``,
    set on the instance: ``cancel_outer(outer)``, then both tasks' cancel counts."""
    inner = task_class(asyncio.sleep(3600))
    outer = task_class(_waits_on(inner))
    await asyncio.sleep(0)
    inner.cancel = cancel_of(inner)
    cancel_outer(outer)
    counts = outer.cancelling(), inner.cancelling()
    del inner.cancel
    inner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    return counts


@pytest.mark.parametrize("task_class", [Task, asyncio.Task], ids=["rust", "c"])
def test_a_cancel_set_on_an_awaited_task_is_called_as_the_c_task_calls_it(task_class: Any) -> None:
    """The Rust Task walks a chain of Rust Tasks without calling each one's
    ``cancel``; a ``cancel`` set on the task itself (a mock) must still be
    called, and what it answers decides, as in C."""
    asked: list[object] = []

    def refuse(msg: object = None) -> bool:
        asked.append(msg)
        return False

    def cancel_outer(outer: Any) -> None:
        outer.cancel("stop")

    counts = asyncio.run(_cancelling_through(task_class, lambda _: refuse, cancel_outer))
    assert (*counts, asked) == (1, 0, ["stop"])


@pytest.mark.parametrize("task_class", [Task, asyncio.Task], ids=["rust", "c"])
def test_another_of_the_task_s_methods_set_as_its_cancel_is_called_as_the_c_task_calls_it(
    task_class: Any,
) -> None:
    """Only the kit's own ``cancel`` is walked past: another of the task's
    methods set in its place is bound to the task too, but it is not
    ``cancel``. Called, it refuses the message, and the TypeError is the
    caller's, as in C."""

    def cancel_outer(outer: Any) -> None:
        with pytest.raises(TypeError):
            outer.cancel("stop")

    counts = asyncio.run(
        _cancelling_through(task_class, lambda inner: inner.cancelling, cancel_outer)
    )
    assert counts == (1, 0)


@pytest.mark.parametrize("task_class", [Task, asyncio.Task], ids=["rust", "c"])
def test_an_awaited_future_s_cancel_gets_the_message_by_position_as_from_the_c_task(
    task_class: Any,
) -> None:
    """The C Task calls ``waiter.cancel(msg)``: a future subclass whose
    parameter has another name works under it (by keyword, a TypeError)."""

    class Renamed(asyncio.Future[None]):
        def cancel(self, message: Any = None) -> bool:  # type: ignore[override]
            return super().cancel(message)

    async def main() -> str:
        future = Renamed()
        task = task_class(waits_on(future))
        await asyncio.sleep(0)
        task.cancel("stop")
        try:
            await task
        except asyncio.CancelledError as err:
            return str(err)
        return "not cancelled"

    async def waits_on(future: Any) -> None:
        await future

    assert asyncio.run(main()) == "stop"
