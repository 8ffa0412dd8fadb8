"""Real asyncio programs, each returning what it observed (values, exceptions,
order of events, context values), for ``tests/test_task.py`` to run once on the
loop's own Task and once on the Rust Task. Task names and reprs are left out of
what they return (each Task implementation numbers its own tasks).

A new program is one more ``@program`` here; the tests pick it up.
"""

from __future__ import annotations

import asyncio
import contextvars
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

Program = Callable[[], Coroutine[Any, Any, list[object]]]
PROGRAMS: dict[str, Program] = {}


async def await_it(awaitable: Any) -> Any:
    """A coroutine that awaits ``awaitable``: what a task can be made of."""
    return await awaitable


def program(fn: Program) -> Program:
    PROGRAMS[fn.__name__] = fn
    return fn


async def worker(log: list[object], name: str, steps: int, delay: float = 0) -> str:
    for i in range(steps):
        log.append(f"{name}{i}")
        await asyncio.sleep(delay)
    return name


@program
async def sleep_zero_interleaves() -> list[object]:
    log: list[object] = []
    results = await asyncio.gather(worker(log, "a", 3), worker(log, "b", 2))
    return [log, results]


@program
async def timed_sleeps_finish_in_order() -> list[object]:
    log: list[object] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    async def napper(i: int) -> None:
        # Deadlines 10 ms apart from one start: on a loaded machine, making the
        # tasks (eagerly started, each sleeping from its own "now") took longer
        # than 2 ms gaps and reordered them.
        await asyncio.sleep(start + 0.01 * (3 - i) - loop.time())
        log.append(i)

    await asyncio.gather(*(napper(i) for i in range(3)))
    return log


@program
async def gather_collects_exceptions() -> list[object]:
    async def fails() -> None:
        await asyncio.sleep(0)
        raise ValueError("boom")

    results = await asyncio.gather(fails(), asyncio.sleep(0, "ok"), return_exceptions=True)
    return [repr(r) for r in results]


@program
async def gather_cancels_nothing_but_reports_the_first_error() -> list[object]:
    async def fails() -> None:
        raise KeyError("first")

    slow = asyncio.ensure_future(asyncio.sleep(0.01, "slow"))
    try:
        await asyncio.gather(fails(), slow)
    except KeyError as exc:
        return [repr(exc), slow.done(), await slow]
    return []


@program
async def wait_first_completed_and_all() -> list[object]:
    fast = asyncio.ensure_future(asyncio.sleep(0, "fast"))
    slow = asyncio.ensure_future(asyncio.sleep(0.01, "slow"))
    done, pending = await asyncio.wait({fast, slow}, return_when=asyncio.FIRST_COMPLETED)
    first = [t.result() for t in done], len(pending)
    done, pending = await asyncio.wait({fast, slow})
    return [first, sorted(t.result() for t in done), len(pending)]


@program
async def wait_for_times_out_and_cancels_the_inner_task() -> list[object]:
    log: list[object] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            log.append("inner cancelled")
            raise

    try:
        await asyncio.wait_for(slow(), 0.005)
    except TimeoutError:  # asyncio.timeout raises the builtin one
        log.append("timeout")
    return log


@program
async def timeout_context_turns_cancel_into_timeout() -> list[object]:
    log: list[object] = []
    try:
        async with asyncio.timeout(0.005) as cm:
            await asyncio.sleep(1)
    except TimeoutError:  # asyncio.timeout raises the builtin one
        log.append(["timeout", cm.expired()])
    task = asyncio.current_task()
    assert task is not None
    log.append(task.cancelling())
    return log


@program
async def task_group_runs_children_and_cancels_siblings_on_error() -> list[object]:
    log: list[object] = []

    async def fails() -> None:
        await asyncio.sleep(0.001)
        raise ValueError("child failed")

    async def sibling() -> None:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            log.append("sibling cancelled")
            raise

    try:
        async with asyncio.TaskGroup() as group:
            ok = group.create_task(asyncio.sleep(0, "ok"))
            group.create_task(fails())
            group.create_task(sibling())
    except ExceptionGroup as errors:
        log.append([str(e) for e in errors.exceptions])
    log.append(ok.result())
    return log


@program
async def shield_keeps_the_inner_task_alive() -> list[object]:
    inner = asyncio.ensure_future(asyncio.sleep(0.005, "inner done"))
    outer = asyncio.ensure_future(asyncio.shield(inner))
    await asyncio.sleep(0)
    outer.cancel()
    try:
        await outer
    except asyncio.CancelledError:
        pass
    return [outer.cancelled(), await inner]


@program
async def queue_producer_consumer() -> list[object]:
    queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=2)
    got: list[object] = []

    async def produce() -> None:
        for i in range(5):
            await queue.put(i)
        await queue.put(None)

    async def consume() -> None:
        while (item := await queue.get()) is not None:
            got.append(item)

    await asyncio.gather(produce(), consume())
    return got


@program
async def event_lock_and_semaphore() -> list[object]:
    log: list[object] = []
    event, lock, semaphore = asyncio.Event(), asyncio.Lock(), asyncio.Semaphore(2)
    inside = 0

    async def guarded(i: int) -> None:
        nonlocal inside
        await event.wait()
        async with semaphore:
            inside += 1
            log.append(("in", i, inside <= 2))
            await asyncio.sleep(0)
            inside -= 1
        async with lock:
            log.append(("locked", i))
            await asyncio.sleep(0)

    tasks = [asyncio.ensure_future(guarded(i)) for i in range(4)]
    await asyncio.sleep(0)
    event.set()
    await asyncio.gather(*tasks)
    return log


@program
async def cancel_before_the_first_step() -> list[object]:
    log: list[object] = []

    async def never_started() -> None:
        log.append("started")

    task = asyncio.ensure_future(never_started())
    task.cancel("early")
    try:
        await task
    except asyncio.CancelledError as exc:
        log.append(exc.args)
    return [log, task.cancelled()]


@program
async def cancel_while_waiting_and_catch_it() -> list[object]:
    log: list[object] = []

    async def stubborn() -> str:
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError as exc:
            log.append(("caught", exc.args))
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            return "survived"
        return "not cancelled"

    task = asyncio.ensure_future(stubborn())
    await asyncio.sleep(0)
    log.append(task.cancel("please stop"))
    log.append(task.cancelling())
    log.append(await task)
    log.append([task.cancelled(), task.cancelling()])
    return log


@program
async def cancel_a_done_task_and_cancel_twice() -> list[object]:
    done = asyncio.ensure_future(asyncio.sleep(0, "done"))
    await done
    pending = asyncio.ensure_future(asyncio.sleep(1))
    await asyncio.sleep(0)
    answers = [done.cancel(), pending.cancel(), pending.cancel(), pending.cancelling()]
    try:
        await pending
    except asyncio.CancelledError:
        answers.append("cancelled")
    return answers


@program
async def a_task_cancelling_itself_stops_at_its_nextawait_it() -> list[object]:
    log: list[object] = []

    async def quits() -> None:
        asyncio.current_task().cancel("self")  # type: ignore[union-attr]
        log.append("still running until the next await")
        await asyncio.sleep(0)
        log.append("never reached")

    task = asyncio.ensure_future(quits())
    try:
        await task
    except asyncio.CancelledError as exc:
        log.append(exc.args)
    return log


@program
async def cancel_right_before_return() -> list[object]:
    async def returns_at_once() -> str:
        return "returned"

    task = asyncio.ensure_future(returns_at_once())
    task.cancel()
    try:
        return [await task]
    except asyncio.CancelledError:
        return ["cancelled", task.cancelled()]


@program
async def exceptions_keep_type_and_chain() -> list[object]:
    async def fails() -> None:
        await asyncio.sleep(0)
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise RuntimeError("outer") from exc

    task = asyncio.ensure_future(fails())
    try:
        await task
    except RuntimeError as exc:
        return [repr(exc), repr(exc.__cause__), repr(task.exception())]
    return []


@program
async def contextvars_are_per_task_copies() -> list[object]:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("parent")

    async def child() -> list[str]:
        seen = [var.get()]
        var.set("child")
        await asyncio.sleep(0)
        seen.append(var.get())
        return seen

    seen = await asyncio.ensure_future(child())
    other = contextvars.Context()
    in_other = await asyncio.get_running_loop().create_task(child(), context=other)
    return [seen, in_other, var.get()]


@program
async def current_and_all_tasks_see_the_task() -> list[object]:
    async def me() -> bool:
        task = asyncio.current_task()
        return task is not None and task in asyncio.all_tasks()

    return [await asyncio.ensure_future(me())]


@program
async def bad_yields_raise_asyncio_errors() -> list[object]:
    import types

    @types.coroutine
    def yields(value: object) -> Any:
        yield value

    log: list[object] = []
    for bad in (42, asyncio.sleep(0)):
        try:
            await asyncio.ensure_future(await_it(yields(bad)))
        except RuntimeError as exc:
            log.append(str(exc).split(" in task")[0].split(":")[0])
        if asyncio.iscoroutine(bad):
            bad.close()
    return log


@program
async def a_failure_keeps_the_coroutines_frames_in_its_traceback() -> list[object]:
    async def fails() -> None:
        raise ValueError("inner")

    try:
        await asyncio.ensure_future(fails())
    except ValueError as err:
        return [frame.name for frame in traceback.extract_tb(err.__traceback__)]
    return ["did not fail"]


@program
async def cancel_without_a_message_gives_a_cancelled_error_without_args() -> list[object]:
    async def body() -> None:
        await asyncio.sleep(0)
        await asyncio.sleep(10)

    seen: list[object] = []
    for queued in (False, True):  # before its first step, then queued again after it
        task = asyncio.ensure_future(body())
        if queued:
            await asyncio.sleep(0)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError as err:
            seen.append(err.args)
    return seen


@program
async def a_panic_exception_ends_its_task_and_the_program_goes_on() -> list[object]:
    """PyO3's ``PanicException``, raised by Python code: a ``BaseException``
    but neither ``KeyboardInterrupt`` nor ``SystemExit``, so the task ends
    with it, as with any exception (a Rust Task's step that let PyO3 resume
    it as a panic stayed the loop's current task, and the loop froze)."""
    from tests.coroutines import panic_exception

    panic = panic_exception()

    async def raises() -> None:
        await asyncio.sleep(0)
        raise panic("raised from Python")

    task = asyncio.ensure_future(raises())
    try:
        await asyncio.wait_for(asyncio.shield(task), 5)
    except BaseException as exc:  # the PanicException is one
        caught = type(exc).__name__
    await asyncio.sleep(0)  # another step of this task: the loop is not wedged
    return [caught, task.done(), type(task.exception()).__name__]
