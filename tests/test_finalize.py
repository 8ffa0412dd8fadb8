"""The Rust Future and Task report what they lose as asyncio's C ones do, when
the interpreter exits and when the collector frees them with their loop
(``src/support/finalize.rs``); in debug mode, a slow step names the task.

Each story runs twice in a fresh interpreter, with asyncio's classes and with
the kit's, and the two outputs must match (addresses aside).
"""

from __future__ import annotations

import re
import textwrap

import pytest

from tests.conftest import run_python

CLASSES = {
    "asyncio": "F, T = asyncio.Future, asyncio.Task",
    "kit": "from coroscope.awaitable import Future as F; "
    "from coroscope.await_from_rust import Task as T",
}

STORIES = {
    "a future's lost exception, at exit": """
        loop = asyncio.new_event_loop()
        f = F(loop=loop); f.set_exception(ValueError("boom"))
        """,
    "a failed task nobody awaited, at exit": """
        loop = asyncio.new_event_loop()
        async def fails(): raise ValueError("boom")
        t = T(fails(), loop=loop, name="fails")
        loop.run_until_complete(asyncio.sleep(0.01))
        """,
    "a task still pending, at exit": """
        loop = asyncio.new_event_loop()
        async def waits(): await asyncio.sleep(10)
        t = T(waits(), loop=loop, name="waits")
        loop.run_until_complete(asyncio.sleep(0.01))
        """,
    "a task that never started, at exit": """
        loop = asyncio.new_event_loop()
        async def never(): pass
        t = T(never(), loop=loop, name="never")
        """,
    "a failed task freed by the collector with its loop": """
        import gc
        loop = asyncio.new_event_loop()
        async def fails(): raise ValueError("boom")
        t = T(fails(), loop=loop, name="cycle")
        loop.run_until_complete(asyncio.sleep(0.01))
        loop.keep = t
        del t, loop
        gc.collect()
        print("collected")
        """,
    "a pending task of a subclass, at exit": """
        class Sub(T): pass
        loop = asyncio.new_event_loop()
        async def waits(): await asyncio.sleep(10)
        t = Sub(waits(), loop=loop, name="sub")
        loop.run_until_complete(asyncio.sleep(0.01))
        """,
    "an exception handler gets the task itself": """
        loop = asyncio.new_event_loop()
        def handler(loop, context):
            task = context["future"]
            print(type(task).__name__, task.get_name(), type(task.exception()).__name__)
        loop.set_exception_handler(handler)
        async def fails(): raise ValueError("boom")
        t = T(fails(), loop=loop, name="handled")
        loop.run_until_complete(asyncio.sleep(0.01))
        del t
        """,
    "a subclass's __del__ replaces the report, or calls it": """
        class Quiet(F):
            def __del__(self): print("Quiet.__del__")
        class Polite(F):
            def __repr__(self): return "<Polite>"
            def __del__(self):
                print("Polite.__del__")
                super().__del__()
        loop = asyncio.new_event_loop()
        for cls in (Quiet, Polite):
            f = cls(loop=loop); f.set_exception(ValueError(cls.__name__))
            del f
        """,
    "a pending task freed by the collector, in debug mode, to its own loop's handler": """
        import gc
        loop = asyncio.new_event_loop(); loop.set_debug(True)
        loop.set_exception_handler(lambda loop, context: print(sorted(context)))
        async def forever(): await loop.create_future()
        t = T(forever(), loop=loop)
        loop.run_until_complete(asyncio.sleep(0))
        del t
        gc.collect()
        loop.close()
        """,
    "a task whose __init__ fails in call_soon (a closed loop)": """
        import gc
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(lambda loop, context: print(context["message"]))
        loop.close()
        async def nothing(): pass
        coro = nothing()
        try:
            T(coro, loop=loop)
        except RuntimeError as err:
            print("RuntimeError:", err)
        coro.close()
        gc.collect()
        """,
    "a lost exception on a closed loop, at exit": """
        loop = asyncio.new_event_loop()
        f = F(loop=loop); f.set_exception(ValueError("boom"))
        loop.close()
        """,
}


# What an asyncio task left pending at exit may be waiting on, with the kit's
# objects standing in for asyncio's future (the reference is asyncio's own).
WAITED_ON = {
    "asyncio": "await loop.create_future()",
    "kit": "await Future(loop=loop)",
    "kit-timer": "await TimerFuture(1, 10)",
    "kit-sleep": "await sleep_awaitable(10, 1)",
    "kit-fast": "await sleep_fast(10, 1)",
    "kit-doorbell": "await Doorbell().wait()",
    # The second tick: the first comes at once (and a finished task has
    # nothing to report, which a sweep once took for a lost report).
    "kit-ticks": "[await anext(it) for it in [ticks(2, 10)] for _ in range(2)]",
}


@pytest.mark.parametrize("waited_on", sorted(set(WAITED_ON) - {"asyncio"}))
def test_an_asyncio_task_pending_at_exit_on_a_kit_object_is_reported(waited_on: str) -> None:
    """The report's ``wait_for=`` shows the kit's object, which must not import
    anything at exit; and the wake tokio's timers all give as the runtime stops
    at exit must not queue a handle that keeps the task (and its report) alive."""

    def story(waits_on: str) -> str:
        done = run_python(
            f"""
            import asyncio
            from coroscope.awaitable import Future, TimerFuture
            from coroscope.bridge import Doorbell, sleep_awaitable, sleep_fast, ticks
            loop = asyncio.new_event_loop()
            async def waits():
                return {waits_on}
            t = loop.create_task(waits(), name="waits")
            loop.run_until_complete(asyncio.sleep(0.05))
            """
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stderr

    expected = story(WAITED_ON["asyncio"])
    reported = story(WAITED_ON[waited_on])
    assert "ImportError" not in reported, reported
    task_line = "task: <Task pending name='waits' coro=<waits() running at"
    assert (
        expected.splitlines()[:1]
        == reported.splitlines()[:1]
        == ["Task was destroyed but it is pending!"]
    ), reported
    assert task_line in reported, reported


@pytest.mark.parametrize("waited_on", sorted({*WAITED_ON, "asyncio-sleep"}))
def test_a_rust_task_freed_pending_says_the_line_its_coroutine_waits_at(waited_on: str) -> None:
    """The collector finalizes a garbage cycle's objects in the order of its
    list, and a coroutine finalized before its task is closed there: a Rust
    Task waiting on a Doorbell reported ``coro=<waits() done, ...>``. The C
    Task gets either order by chance (waiting on ``asyncio.sleep``, ``done``)."""
    waits_on = WAITED_ON.get(waited_on, "await asyncio.sleep(10)")
    done = run_python(
        f"""
        import asyncio, gc
        from coroscope.await_from_rust import Task
        from coroscope.awaitable import Future, TimerFuture
        from coroscope.bridge import Doorbell, sleep_awaitable, sleep_fast, ticks
        loop = asyncio.new_event_loop()
        async def waits():
            return {waits_on}
        t = Task(waits(), loop=loop, name="waits")
        loop.run_until_complete(asyncio.sleep(0.05))
        loop.close()
        del t
        gc.collect()
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "task: <Task pending name='waits' coro=<waits() running at" in done.stderr, done.stderr


def _output(classes: str, story: str) -> str:
    done = run_python(f"import asyncio\n{CLASSES[classes]}\n" + story.strip("\n"))
    assert done.returncode == 0, done.stderr[-2000:]
    # The wake-up callback's name differs (`Task.task_wakeup` in C).
    return re.sub(r"0x[0-9a-f]+|task_wakeup|_wakeup", "…", done.stdout + done.stderr)


@pytest.mark.parametrize("story", sorted(STORIES))
def test_reports_at_exit_and_from_the_collector_match_asyncio(story: str) -> None:
    body = textwrap.dedent(STORIES[story])
    expected = _output("asyncio", body)
    assert "ImportError" not in expected
    assert _output("kit", body) == expected


def test_a_slow_step_in_debug_mode_names_the_task() -> None:
    """asyncio names a slow callback's task only for an ``asyncio.Task``; the
    Rust Task's step shows the task's repr instead of ``Task._step()``."""
    done = run_python(
        """
        import asyncio, logging, time
        from coroscope.await_from_rust import task_factory
        logging.basicConfig(format="%(message)s")
        async def slow():
            time.sleep(0.15)
        async def main():
            asyncio.get_running_loop().set_task_factory(task_factory)
            await asyncio.create_task(slow(), name="slowpoke")
        asyncio.run(main(), debug=True)
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    executing = [line for line in done.stderr.splitlines() if line.startswith("Executing")]
    assert executing, done.stderr
    assert "name='slowpoke' coro=<slow()" in executing[0], executing
