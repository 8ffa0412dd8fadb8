"""``coroscope.timeline.record()`` (and its Rust hooks, ``src/support/timeline.rs``): every
task step on the loop, in the order the program implies, with who woke it."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import Any

import pytest
from coroscope import timeline
from coroscope._native import unwatch_steps, watch_steps
from coroscope.await_from_rust import task_factory
from coroscope.bridge import sleep_fast, sleep_future_into_py

from tests.conftest import Run


async def spin(steps: int) -> int:
    for _ in range(steps):
        await asyncio.sleep(0)
    return steps


async def via(awaitable: Any) -> Any:
    return await awaitable


def recorded(run: Run[Any], body: Any) -> timeline.Timeline:
    async def main() -> timeline.Timeline:
        async with timeline.record() as tl:
            await body()
        return tl

    return run(main())


def test_gather_interleaves_three_coroutines_one_step_each_per_iteration(run: Run[Any]) -> None:
    async def body() -> None:
        await asyncio.gather(spin(2), spin(2), spin(2))

    tl = recorded(run, body)
    names = tl.tasks()
    assert len(names) == 3
    # Round robin: each task takes one step per loop iteration, in creation order.
    assert [s.task for s in tl.steps] == names * 3
    assert all(s.woken_by.endswith("(started before the recording)") for s in tl.steps[:3])
    assert {s.woken_by for s in tl.steps[3:]} == {"itself (bare yield)"}
    assert [s.waits_on for s in tl.steps] == ["the loop (bare yield)"] * 6 + ["done"] * 3
    assert all(s.coro == "spin" for s in tl.steps)
    assert all(0 <= s.start_ns <= s.end_ns for s in tl.steps)
    assert [s.start_ns for s in tl.steps] == sorted(s.start_ns for s in tl.steps)


def test_a_task_awaiting_another_waits_on_it_and_is_woken_by_it(run: Run[Any]) -> None:
    async def body() -> None:
        worker = asyncio.ensure_future(spin(1))
        await asyncio.gather(worker, via(worker))

    tl = recorded(run, body)
    worker, waiter = tl.tasks()
    mine = [s for s in tl.steps if s.task == waiter]
    assert [s.waits_on for s in mine] == [f"task {worker}", "done"]
    assert mine[1].woken_by == f"task {worker} (1 hop)"
    assert mine[1].by_task == worker


def test_a_task_created_inside_a_recorded_task_names_its_creator(run: Run[Any]) -> None:
    async def parent() -> int:
        return await asyncio.ensure_future(spin(0))

    async def body() -> None:
        await asyncio.ensure_future(parent())

    tl = recorded(run, body)
    parent_name, child_name = tl.tasks()
    child_first = next(s for s in tl.steps if s.task == child_name)
    assert child_first.woken_by == f"created by task {parent_name}"
    assert child_first.by_task == parent_name


def test_wakes_from_a_timer_and_from_tokio_threads_through_each_bridge_are_told_apart() -> None:
    async def body() -> None:
        await asyncio.gather(
            via(asyncio.sleep(0.002)), via(sleep_future_into_py(0.002)), via(sleep_fast(0.002))
        )

    async def main() -> timeline.Timeline:
        async with timeline.record() as tl:
            await body()
        return tl

    tl = asyncio.run(main())
    timer, two_hop, one_hop = tl.tasks()
    woke = {s.task: s.woken_by for s in tl.steps if not s.woken_by.startswith("created")}
    assert woke[timer] == "timer (2 hops)"
    # future_into_py: the tokio thread's call_soon_threadsafe, then the done callback.
    assert woke[two_hop] == "thread coroscope-tokio (2 hops)"
    # the fast bridge: finished inline while its wake queue drains.
    assert woke[one_hop] == "fast bridge: a tokio thread, through the wake queue (1 hop)"
    waits = {s.task: s.waits_on for s in tl.steps if s.woken_by.startswith("created")}
    assert waits[timer] == waits[two_hop] == "_asyncio.Future"
    assert waits[one_hop] == "coroscope.awaitable.Future"


def test_on_uvloop_steps_and_task_wakes_are_recorded_and_other_wakes_are_the_loop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def body() -> None:
        worker = asyncio.ensure_future(spin(1))
        await asyncio.gather(worker, via(worker), via(asyncio.sleep(0.001)))

    async def main() -> timeline.Timeline:
        async with timeline.record() as tl:
            await body()
        return tl

    tl = uvloop.run(main()) if hasattr(uvloop, "run") else asyncio.run(main())
    worker, waiter, sleeper = tl.tasks()
    woke = {s.task: s.woken_by for s in tl.steps if s.waits_on == "done"}
    assert woke[waiter] == f"task {worker} (1 hop)"
    assert woke[sleeper] == "the loop"


def test_an_error_and_a_cancellation_are_how_steps_end(run: Run[Any]) -> None:
    async def fails() -> None:
        raise ValueError("no")

    async def body() -> None:
        doomed = asyncio.ensure_future(asyncio.sleep(1))
        await asyncio.sleep(0)
        doomed.cancel()
        await asyncio.gather(fails(), doomed, return_exceptions=True)

    tl = recorded(run, body)
    assert sorted(s.waits_on for s in tl.steps if s.waits_on != "_asyncio.Future") == [
        "cancelled",
        "raised ValueError",
    ]


def test_the_loop_is_given_back_as_it_was_and_later_tasks_are_not_recorded(
    run: Run[Any],
) -> None:
    async def main() -> list[object]:
        loop = asyncio.get_running_loop()
        before = (loop.get_task_factory(), dict(vars(loop)) if hasattr(loop, "__dict__") else {})
        async with timeline.record() as tl:
            await asyncio.ensure_future(spin(0))
        after = (loop.get_task_factory(), dict(vars(loop)) if hasattr(loop, "__dict__") else {})
        await asyncio.ensure_future(spin(1))
        return [before == after, len(tl.steps)]

    assert run(main()) == [True, 1]


def test_the_table_and_the_plot_show_every_step(run: Run[Any]) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")

    async def body() -> None:
        worker = asyncio.ensure_future(spin(2))
        await asyncio.gather(worker, via(worker))

    tl = recorded(run, body)
    lines = tl.table().splitlines()
    assert len(lines) == 1 + len(tl.steps)
    assert "woken by" in lines[0] and "then waits on" in lines[0]
    figure = tl.plot(title="two tasks")
    ax = figure.axes[0]
    worker, waiter = tl.tasks()
    assert [label.get_text() for label in ax.get_yticklabels()] == [
        f"{worker} · spin",
        f"{waiter} · via",
    ]
    assert ax.get_title(loc="left") == "two tasks"
    assert len(ax.collections) == len(tl.steps)  # one bar each
    # One arrow: the worker's last step wakes the waiter.
    assert len(ax.texts) == 1
    assert "<table>" in tl._repr_html_() and repr(tl).startswith("<Timeline: 5 steps of 2 tasks")


def test_the_picture_names_each_lane_as_the_code_named_its_task_and_tells_each_step(
    run: Run[Any],
) -> None:
    """In a browser, pointing at a step shows its record (the SVG's ``<title>``)."""

    async def worker(steps: int) -> None:
        for _ in range(steps):
            await asyncio.sleep(0)

    async def main() -> timeline.Timeline:
        async with timeline.record() as tl:
            await asyncio.gather(
                asyncio.create_task(worker(2), name="burger"),
                asyncio.create_task(worker(1), name="soda"),
            )
        return tl

    tl = run(main())
    picture = tl._repr_html_()
    assert picture.startswith("<svg") and "<table>" in picture
    assert "burger · worker" in picture and "soda · worker" in picture
    first, zoomed = picture.split("</svg>")[:2]  # the picture, then its zoom, four times wider
    records = re.findall(r"<rect [^>]*><title>([^<]*)</title>", first)
    assert len(records) == len(tl.steps) == 5
    assert re.findall(r"<rect [^>]*><title>([^<]*)</title>", zoomed) == records
    assert 'width="3040"' in zoomed and "scroll sideways" in picture
    assert records[0].startswith("#0 task burger (")
    assert all("woken by: " in r and "then waits on: " in r for r in records)


def test_watching_twice_keeps_the_last_recorder_and_unwatching_twice_is_harmless() -> None:
    loop = asyncio.new_event_loop()
    try:
        first, second = timeline.Timeline(), timeline.Timeline()
        watch_steps(loop, first)
        watch_steps(loop, second)

        async def main() -> None:
            await asyncio.ensure_future(spin(0))

        from coroscope.await_from_rust import task_factory

        loop.set_task_factory(task_factory)  # type: ignore[arg-type]
        loop.run_until_complete(main())
        unwatch_steps(loop)
        unwatch_steps(loop)
        # main (two steps: start, then woken by spin) and spin (one step).
        assert (len(first.steps), len(second.steps)) == (0, 3)
    finally:
        loop.close()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are new in Python 3.12")
def test_an_eager_first_step_is_recorded_inside_its_creator(run: Run[Any]) -> None:
    from coroscope.await_from_rust import Task

    async def body() -> None:
        async def parent() -> int:
            return Task(spin(0), eager_start=True).result()

        await asyncio.ensure_future(parent())

    tl = recorded(run, body)
    parent_step, child_step = sorted(tl.steps, key=lambda s: s.start_ns)[:2]
    assert child_step.woken_by == f"created by task {parent_step.task}"
    # Nested: the child's whole step lies inside the parent's.
    assert parent_step.start_ns < child_step.start_ns <= child_step.end_ns < parent_step.end_ns


def test_a_block_inside_a_recording_block_is_refused_and_the_outer_one_keeps_recording(
    run: Run[Any],
) -> None:
    async def main() -> list[object]:
        async with timeline.record() as outer:
            with pytest.raises(RuntimeError, match="already recording this loop"):
                async with timeline.record():
                    pass
            await asyncio.ensure_future(spin(2))
        async with timeline.record() as after:  # the loop is free again
            await asyncio.ensure_future(spin(0))
        return [len(outer.steps), len(after.steps)]

    assert run(main()) == [3, 1]


def test_many_tasks_of_one_name_get_distinct_labels_in_order() -> None:
    """Labels are handed out in constant time: 3.13.0 names every task a factory
    makes ``None``, and thousands of tasks must not cost seconds to read."""
    tl = timeline.Timeline()

    class Named:
        def get_name(self) -> str:
            return "worker"

    tasks = [Named() for _ in range(20_000)]
    labels = [tl._label(task) for task in tasks]
    assert labels[:3] == ["worker", "worker#2", "worker#3"]
    assert len(set(labels)) == len(tasks)
    assert tl._label(tasks[1]) == "worker#2"  # a task keeps its label


def test_a_recorder_that_fails_is_reported_and_the_task_runs_on(
    run: Run[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Failing:
        def begin(self, task: Any, hint: str | None) -> None:
            raise ValueError("begin failed")

        def end(self, task: Any) -> None:
            raise ValueError("end failed")

    reported: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(str(u.exc_value)))

    async def main() -> int:
        loop = asyncio.get_running_loop()
        loop.set_task_factory(task_factory)
        watch_steps(loop, Failing())
        try:
            return await asyncio.ensure_future(spin(2))
        finally:
            unwatch_steps(loop)
            loop.set_task_factory(None)

    assert run(main()) == 2
    assert reported == ["begin failed", "end failed"] * 3  # three steps, each reported


def test_a_callback_failing_inside_a_recording_is_reported_as_without_it() -> None:
    """The recording wraps the loop's callbacks; asyncio's report must still name
    the callback, where it is defined and where it was scheduled, and its
    traceback must hold no frame of the wrapper's."""
    from tests.conftest import run_python

    def report(recording: bool) -> list[str]:
        done = run_python(
            f"""
            import asyncio, contextlib, logging
            from coroscope.timeline import record
            logging.basicConfig(format="%(message)s")
            def broken_callback():
                raise KeyError("cb")
            async def main():
                async with (record() if {recording} else contextlib.AsyncExitStack()):
                    asyncio.get_running_loop().call_soon(broken_callback)
                    await asyncio.sleep(0.01)
            asyncio.run(main(), debug=True)
            """
        )
        assert done.returncode == 0, done.stderr[-2000:]
        lines = done.stderr.splitlines()
        # The report's head, and the exception's traceback. Between them,
        # debug mode's stack of where the handle was made ends one frame
        # short under the recording (told in the closing note of session 16).
        head = [line for line in lines if line.startswith(("Exception", "handle"))]
        return head + lines[lines.index("Traceback (most recent call last):") :]

    assert report(recording=True) == report(recording=False)


def test_a_slow_step_inside_a_recording_is_named_by_its_task_as_without_it() -> None:
    """Debug mode's "Executing ... took" line reads the callback's repr when it
    is made; the recording's wrapper named itself there."""
    from tests.conftest import run_python

    def report(recording: bool) -> list[str]:
        done = run_python(
            f"""
            import asyncio, contextlib, logging, time
            from coroscope.await_from_rust import task_factory
            from coroscope.timeline import record
            logging.basicConfig(format="%(message)s")
            async def slow():
                time.sleep(0.12)
            async def main():
                asyncio.get_running_loop().set_task_factory(task_factory)
                async with (record() if {recording} else contextlib.AsyncExitStack()):
                    await asyncio.create_task(slow(), name="slowpoke")
            asyncio.run(main(), debug=True)
            """
        )
        assert done.returncode == 0, done.stderr[-2000:]
        # Without the time it took, which differs run to run.
        lines = done.stderr.splitlines()
        return [line.rsplit(" took ", 1)[0] for line in lines if "slowpoke" in line]

    without = report(recording=False)
    assert len(without) == 1 and without[0].startswith("Executing <Handle <Task finished"), without
    assert report(recording=True) == without


def test_a_recording_gives_back_the_loop_as_it_found_it(run: Run[Any]) -> None:
    """It took its hooks off by deleting the loop's instance attributes, and
    with them a patch of the user's own."""

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        if not hasattr(loop, "__dict__"):
            return True  # uvloop: nothing to patch, nothing wrapped
        original = loop.call_soon

        def mine(callback: Any, *args: Any, context: Any = None) -> Any:
            return original(callback, *args, context=context)

        loop.call_soon = mine  # type: ignore[method-assign]
        async with timeline.record():
            await asyncio.ensure_future(asyncio.sleep(0))
        kept_from_before = loop.call_soon is mine
        async with timeline.record():
            loop.call_soon = mine  # patched again inside the block: it stays too
        return kept_from_before and loop.call_soon is mine

    assert run(main())


def test_a_recording_that_fails_to_start_leaves_the_loop_as_it_was(
    run: Run[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure (a Ctrl-C, say) inside the setup left the loop marked as
    recording, so every later block was refused, and hooked."""

    def refuse(loop: Any, recorder: Any) -> None:
        raise KeyboardInterrupt

    async def main() -> int:
        loop = asyncio.get_running_loop()
        with pytest.raises(KeyboardInterrupt), monkeypatch.context() as patched:
            patched.setattr(timeline.recorder, "watch_steps", refuse)
            async with timeline.record():
                pass
        assert loop.get_task_factory() is None
        assert not {"call_soon", "call_at"} & set(getattr(loop, "__dict__", {}))
        async with timeline.record() as tl:
            await asyncio.ensure_future(asyncio.sleep(0))
        return len(tl.steps)

    assert run(main()) > 0


def test_ctrl_c_inside_the_recorder_stops_the_program_without_losing_the_step() -> None:
    """The Rust Task skipped the step the interrupted recorder was timing, so
    nobody scheduled the task again and ``asyncio.run`` waited for it for ever
    as it cleaned up."""
    from tests.conftest import run_python

    done = run_python(
        """
        import asyncio
        from coroscope import timeline

        async def worker():
            for _ in range(3):
                await asyncio.sleep(0)

        async def main():
            async with timeline.record() as tl:
                original = tl.begin
                def begin(task, hint):
                    if task.get_name() == "worker":
                        tl.begin = original
                        raise KeyboardInterrupt  # as a SIGINT landing in Python code
                    return original(task, hint)
                tl.begin = begin
                await asyncio.create_task(worker(), name="worker")

        try:
            asyncio.run(main())
        except KeyboardInterrupt:
            print("KeyboardInterrupt out of asyncio.run")
        """,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "KeyboardInterrupt out of asyncio.run"


def test_a_task_factory_set_inside_the_block_stays_after_it(run: Run[Any]) -> None:
    def mine(loop: Any, coro: Any, **kwargs: Any) -> Any:
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        async with timeline.record():
            loop.set_task_factory(mine)
        return loop.get_task_factory() is mine

    assert run(main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are 3.12+")
def test_a_recorded_program_with_eager_tasks_keeps_them_eager(run: Run[Any]) -> None:
    """A recording made every task lazy: a task that finishes inside
    ``create_task`` was still pending there, so the recorded program ran
    differently from the real one."""

    async def quick() -> int:
        return 1

    async def main() -> tuple[bool, list[str]]:
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        loop.set_task_factory(asyncio.create_eager_task_factory(asyncio.Task))  # type: ignore[attr-defined]
        try:
            async with timeline.record() as tl:
                done_at_creation = asyncio.create_task(quick(), name="quick").done()
        finally:  # the runner's own tasks after this (uvloop passes eager_start)
            loop.set_task_factory(previous)
        return done_at_creation, tl.tasks()

    assert run(main()) == (True, ["quick"])


def test_by_order_each_step_gets_one_slot_in_the_order_the_steps_began(run: Run[Any]) -> None:
    """Steps of a few µs vary with the machine's noise; a lesson on interleaving
    draws each in an equal slot, and leaves the Rust side out."""

    async def main() -> timeline.Timeline:
        async def worker(steps: int) -> None:
            for _ in range(steps):
                await asyncio.sleep(0)

        async with timeline.record() as tl:
            await asyncio.gather(
                *(asyncio.create_task(worker(n), name=name) for name, n in (("a", 2), ("b", 1)))
            )
            await sleep_future_into_py(0.001)
        return tl

    tl = run(main())
    picture = tl.show(by="order")._repr_html_().split("</svg>")[0]
    widths = {
        float(w) for w in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"', picture)
    }
    assert len(widths) == 1 and "(Rust)" not in picture and "one slot each" in picture
    assert tl.rust_side and "(Rust)" in tl.svg()
    starts = [float(x) for x in re.findall(r'<rect x="([\d.]+)"', picture)]
    assert starts == sorted(starts)  # drawn in the order the steps began
    fig = tl.plot(by="order")
    assert "one slot each" in fig.axes[0].get_xlabel()
    with pytest.raises(ValueError, match="by must be one of 'time', 'order'"):
        tl.svg(by="duration")


def test_each_step_is_made_into_its_record_once_however_often_it_is_drawn(
    run: Run[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing reads ``steps`` again and again (sorting, lanes, labels): each
    read must cost nothing new, or 4,000 steps took 18 s to show in Jupyter."""

    async def main() -> timeline.Timeline:
        async def one() -> None:
            await asyncio.sleep(0)

        async with timeline.record() as tl:
            await asyncio.gather(*(one() for _ in range(50)))
        return tl

    tl = run(main())
    steps = tl.steps
    assert len(steps) > 50
    labelled: list[object] = []
    monkeypatch.setattr(timeline.Timeline, "_label", lambda _tl, task: labelled.append(task))
    tl.svg(), tl._repr_html_(), tl.table(), tl.show(by="order")
    assert labelled == [] and tl.steps is steps  # nothing made again
