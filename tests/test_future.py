"""The Rust ``Future`` inside real asyncio programs, next to ``asyncio.Future``.

CPython's own future tests run against it in ``test_future_cpython.py``; these
stories check what those do not: that asyncio's combinators, Tasks and loops
(asyncio's, uvloop and rloop) treat it exactly as their own future. Each scenario runs
once per future class and the logs must be identical.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from coroscope.await_from_rust import Task
from coroscope.awaitable import Future

from tests.conftest import Run

FutureClass = Callable[..., Any]
Scenario = Callable[[FutureClass], Coroutine[Any, Any, list[object]]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    SCENARIOS[fn.__name__] = fn
    return fn


def later(future: Any, method: str, *args: object) -> None:
    """Finish ``future`` on the next loop iteration, as I/O would."""
    asyncio.get_running_loop().call_soon(getattr(future, method), *args)


@scenario
async def gather_results_and_exceptions(cls: FutureClass) -> list[object]:
    a, b, c = cls(), cls(), cls()
    later(c, "set_result", "c")
    later(a, "set_exception", ValueError("a"))
    later(b, "set_result", "b")
    results = await asyncio.gather(a, b, c, return_exceptions=True)
    return [repr(r) for r in results]


@scenario
async def gather_fails_fast(cls: FutureClass) -> list[object]:
    a, b = cls(), cls()
    later(a, "set_exception", KeyError("k"))
    try:
        await asyncio.gather(a, b)
    except KeyError as exc:
        return [repr(exc), b.done()]
    return ["no error"]


@scenario
async def wait_first_completed(cls: FutureClass) -> list[object]:
    a, b = cls(), cls()
    later(b, "set_result", 2)
    done, pending = await asyncio.wait([a, b], return_when=asyncio.FIRST_COMPLETED)
    return [done == {b}, pending == {a}]


@scenario
async def wait_for_times_out_and_cancels(cls: FutureClass) -> list[object]:
    never = cls()
    try:
        await asyncio.wait_for(never, 0.01)
    except TimeoutError:  # asyncio.timeout raises the builtin one
        return ["timeout", never.cancelled()]
    return ["no timeout"]


@scenario
async def timeout_context_cancels_the_await(cls: FutureClass) -> list[object]:
    never = cls()
    try:
        async with asyncio.timeout(0.01):
            await never
    except TimeoutError:  # asyncio.timeout raises the builtin one
        return ["timeout", never.cancelled()]
    return ["no timeout"]


@scenario
async def shield_protects_the_inner_future(cls: FutureClass) -> list[object]:
    inner = cls()
    outer = asyncio.shield(inner)
    outer.cancel()
    later(inner, "set_result", "inner survived")
    try:
        await outer
    except asyncio.CancelledError:
        pass
    return [outer.cancelled(), await inner]


@scenario
async def ensure_future_and_wrap_future_keep_it(cls: FutureClass) -> list[object]:
    future = cls()
    same = asyncio.ensure_future(future) is future and asyncio.wrap_future(future) is future
    future.cancel()
    return [same, asyncio.isfuture(future)]


@scenario
async def cancelling_the_task_cancels_the_future_with_its_message(
    cls: FutureClass,
) -> list[object]:
    future = cls()

    async def waiter() -> object:
        return await future

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    task.cancel("stop")
    try:
        await task
    except asyncio.CancelledError as exc:
        return [future.cancelled(), exc.args]
    return ["not cancelled"]


@scenario
async def cancelling_the_future_cancels_the_task(cls: FutureClass) -> list[object]:
    future = cls()
    task = asyncio.ensure_future(_await(future))
    await asyncio.sleep(0)
    future.cancel("from the future")
    try:
        await task
    except asyncio.CancelledError as exc:
        return [task.cancelled(), exc.args]
    return ["not cancelled"]


async def _await(awaitable: Any) -> object:
    return await awaitable


@scenario
async def callbacks_run_in_order_in_their_context(cls: FutureClass) -> list[object]:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    log: list[object] = []
    future = cls()
    var.set("at registration")
    future.add_done_callback(lambda f: log.append(("first", var.get(), f.result())))
    other = contextvars.Context()
    future.add_done_callback(lambda f: log.append(("second", var.get())), context=other)
    var.set("at completion")
    future.set_result(1)
    log.append("set_result returned before any callback ran")
    await asyncio.sleep(0)
    return log


@scenario
async def as_completed_in_completion_order(cls: FutureClass) -> list[object]:
    futures = [cls() for _ in range(3)]
    for i in (2, 0, 1):
        later(futures[i], "set_result", i)
    return [await f for f in asyncio.as_completed(futures)]


@scenario
async def awaiting_twice_gives_the_result_twice(cls: FutureClass) -> list[object]:
    future = cls()
    later(future, "set_result", "r")
    return [await future, await future]


@scenario
async def an_exception_keeps_its_traceback_when_reraised(cls: FutureClass) -> list[object]:
    future = cls()
    try:
        raise ValueError("original")
    except ValueError as exc:
        future.set_exception(exc)
    depths = []
    for _ in range(2):
        try:
            future.result()
        except ValueError as exc:
            depths.append(len(list(_frames(exc.__traceback__))))
    return depths


def _frames(tb: Any) -> Any:
    while tb is not None:
        yield tb
        tb = tb.tb_next


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_asyncio_treats_the_rust_future_as_its_own(run: Run[Any], name: str) -> None:
    program = SCENARIOS[name]
    assert run(program(Future)) == run(program(asyncio.Future))


def test_a_future_made_with_no_loop_fails_as_asyncio_future_does() -> None:
    errors: list[str] = []

    def make_both() -> None:
        for cls in (asyncio.Future, Future):
            try:
                cls()
            except RuntimeError as exc:
                errors.append(str(exc))

    thread = threading.Thread(target=make_both)
    thread.start()
    thread.join()
    assert len(errors) == 2
    assert errors[0] == errors[1]
    assert "There is no current event loop" in errors[0]


def test_awaiting_from_another_loop_is_refused_as_for_asyncio_future(run: Run[Any]) -> None:
    other = asyncio.new_event_loop()
    try:
        future = Future(loop=other)

        async def main() -> None:
            await future

        with pytest.raises(RuntimeError, match="attached to a different loop"):
            run(main())
    finally:
        other.close()


def test_never_retrieved_exception_reaches_the_loop_exception_handler(run: Run[Any]) -> None:
    reports: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reports.append(ctx))
        future = Future()
        future.set_exception(ZeroDivisionError("lost"))
        del future
        retrieved = Future()
        retrieved.set_exception(ZeroDivisionError("seen"))
        retrieved.exception()
        del retrieved

    run(main())
    assert [r["message"] for r in reports] == ["Future exception was never retrieved"]
    assert repr(reports[0]["future"]) == "<Future finished exception=ZeroDivisionError('lost')>"
    assert str(reports[0]["exception"]) == "lost"


def test_a_subclass_with_its_own_init_is_reported_under_its_name(run: Run[Any]) -> None:
    class Tagged(Future):
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag = tag

    reports: list[str] = []

    async def main() -> str:
        asyncio.get_running_loop().set_exception_handler(
            lambda loop, ctx: reports.append(ctx["message"])
        )
        tagged = Tagged("t")
        lost = Tagged("lost")
        lost.set_exception(OSError())
        del lost
        later(tagged, "set_result", tagged.tag)
        return str(await tagged)

    assert run(main()) == "t"
    assert reports == ["Tagged exception was never retrieved"]


def test_many_threads_add_callbacks_while_the_loop_finishes_it(run: Run[Any]) -> None:
    threads, per_thread = 8, 500
    called: list[int] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future = Future()

        def add_many() -> None:
            for _ in range(per_thread):
                # asyncio's rule: loop methods from other threads go through
                # call_soon_threadsafe, and so do done-callback registrations.
                loop.call_soon_threadsafe(future.add_done_callback, lambda f: called.append(1))

        workers = [threading.Thread(target=add_many) for _ in range(threads)]
        for worker in workers:
            worker.start()
        await asyncio.to_thread(lambda: [w.join() for w in workers])
        await asyncio.sleep(0)
        future.set_result(None)
        await asyncio.sleep(0)

    run(main())
    assert len(called) == threads * per_thread


def test_unsynchronised_use_from_threads_is_safe_in_memory() -> None:
    """asyncio forbids it, but a Rust object must still not crash or lose state."""
    loop = asyncio.new_event_loop()
    try:
        future = Future(loop=loop)
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def race() -> None:
            barrier.wait()
            for _ in range(200):
                future.add_done_callback(print)
                future.remove_done_callback(print)
            try:
                future.set_result(threading.get_ident())
                outcomes.append("won")
            except asyncio.InvalidStateError:
                outcomes.append("lost")

        workers = [threading.Thread(target=race) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert sorted(outcomes) == ["lost"] * 7 + ["won"]
        assert future._callbacks == []
    finally:
        loop.close()


def test_generic_alias_and_repr_follow_asyncio() -> None:
    assert Future[int].__origin__ is Future
    loop = asyncio.new_event_loop()
    try:
        future = Future(loop=loop)
        assert repr(future) == "<Future pending>"
        future.set_result([1])
        assert repr(future) == "<Future finished result=[1]>"
    finally:
        loop.close()


def test_any_attribute_can_be_set_on_a_future_and_a_task_as_on_asyncios() -> None:
    """Real code does: proxy.py's worker sets ``task._work_id``, CPython's own
    ``test_proactor_events`` sets ``fut.result``."""

    async def main() -> None:
        future, task = Future(), Task(asyncio.sleep(0))
        future.note = "set by a test"  # type: ignore[attr-defined]
        task._work_id = 7  # type: ignore[attr-defined]
        assert (future.note, task._work_id) == ("set by a test", 7)  # type: ignore[attr-defined]
        await task

    asyncio.run(main())


@pytest.mark.parametrize("method", ["result", "exception"])
def test_a_subclass_that_skips_init_says_so_as_asyncio_does(method: str) -> None:
    """``result()`` and ``exception()`` said the result was not ready yet, when
    the object was never initialised."""

    def said(base: type) -> tuple[str, str]:
        class Skips(base):  # type: ignore[misc, valid-type]
            def __init__(self) -> None:
                pass

        with pytest.raises(asyncio.InvalidStateError) as raised:
            getattr(Skips(), method)()
        return type(raised.value).__name__, str(raised.value)

    assert (
        said(Future)
        == said(asyncio.Future)
        == (
            "InvalidStateError",
            "Future object is not initialized.",
        )
    )
