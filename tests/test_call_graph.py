"""The call graph through Rust awaitables (``coroscope.call_graph``): a task's await
chain, its last link named (a timer and its deadline, a tokio task, an order, a
future_into_py future, PyO3's async fn), and who awaits the task, on every Python
the kit supports, under a C Task and a Rust Task alike."""

from __future__ import annotations

import asyncio
import doctest
import io
import re
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from coroscope.await_from_rust import task_factory
from coroscope.awaitable import RustAwaitable, TimerFuture
from coroscope.bridge import Doorbell, sleep_fast, ticks
from coroscope.call_graph import CallGraph, capture_call_graph, format_call_graph, print_call_graph
from coroscope.catalogue import Crossing, crossings

from tests.conftest import Run

FACTORIES = {"c_task": None, "rust_task": task_factory}
# What a chain ends in when the kit could not tell what it waits on.
UNNAMED = {"a Rust future", "whoever sets its result", "an awaitable with no frame to show"}
PARKED = 5.0  # seconds: long enough that every wait below is still pending when looked at


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> Any:
    return FACTORIES[request.param]


async def parked(
    factory: Any, awaitable: Callable[[], Awaitable[Any]], name: str = "parked"
) -> asyncio.Task[Any]:
    """A task (made by ``factory``) two frames deep in an await of ``awaitable()``,
    suspended there."""
    asyncio.get_running_loop().set_task_factory(factory)

    async def inner() -> Any:
        return await awaitable()

    async def outer() -> Any:
        return await inner()

    task = asyncio.create_task(outer(), name=name)
    for _ in range(3):
        await asyncio.sleep(0)
    return task


async def look(factory: Any, awaitable: Callable[[], Awaitable[Any]]) -> CallGraph:
    task = await parked(factory, awaitable)
    try:
        graph = capture_call_graph(task)
        assert graph is not None
        return graph
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def test_a_task_parked_in_a_fast_bridge_sleep_names_the_sleep_and_its_deadline(
    run: Run[Any], factory: Any
) -> None:
    graph = run(look(factory, lambda: sleep_fast(PARKED)))
    assert [frame.name for frame in graph.frames] == [
        "parked.<locals>.inner",
        "parked.<locals>.outer",
    ]
    assert graph.waits_on is not None
    assert (graph.waits_on.kind, graph.waits_on.what) == ("RustAwaitable", "a tokio timer")
    assert graph.waits_on.due_in is not None and 0 < graph.waits_on.due_in <= PARKED
    assert re.search(r"RustAwaitable: a tokio timer, due in [\d.e+]+ ms", str(graph))


@pytest.mark.parametrize("way", crossings("sleep") + crossings("order"), ids=lambda c: c.name)
def test_every_bridge_s_long_wait_says_what_it_waits_on(
    run: Run[Any], factory: Any, way: Crossing
) -> None:
    graph = run(look(factory, lambda: way("value", PARKED)))
    assert graph.waits_on is not None
    assert graph.waits_on.what not in UNNAMED, str(graph)


def test_a_doorbell_ring_a_tick_and_a_timer_future_are_named(run: Run[Any]) -> None:
    async def next_tick() -> None:
        async for _ in ticks(2, PARKED):
            pass

    rung = run(look(None, Doorbell().wait))
    tick = run(look(None, next_tick))
    timer = run(look(None, lambda: TimerFuture(None, PARKED)))
    assert [str(graph.waits_on) for graph in (rung, tick, timer)] == [
        "RustAwaitable: a ring of its Doorbell",
        "RustAwaitable: the next tick, from a tokio task through a channel",
        "TimerFuture: a tokio timer",
    ]


def test_what_an_awaitable_waits_on_is_gone_once_it_finishes(run: Run[Any]) -> None:
    async def main() -> tuple[object, object]:
        nap: RustAwaitable[None] = sleep_fast(0.001)
        before = nap.waiting_on
        await nap
        return before, nap.waiting_on

    before, after = run(main())
    assert isinstance(before, tuple) and before[0] == "a tokio timer"
    assert after is None


def test_who_awaits_a_task_is_found_through_a_gather_a_task_group_and_a_plain_await(
    run: Run[Any], factory: Any
) -> None:
    async def main() -> dict[str, list[str]]:
        asyncio.get_running_loop().set_task_factory(factory)
        found: dict[str, list[str]] = {}

        async def child() -> None:
            await sleep_fast(PARKED)

        def parents(task: asyncio.Task[Any]) -> list[str]:
            graph = capture_call_graph(task)
            assert graph is not None
            return sorted(parent.task.get_name() for parent in graph.awaited_by)  # type: ignore[attr-defined]

        async def wait_for(task: asyncio.Task[Any]) -> None:
            await task

        async def gather(task: asyncio.Task[Any]) -> None:
            # Gathered here, not passed in: 3.14 counts the task that calls
            # `gather` as the one awaiting.
            await asyncio.gather(task)

        plain = asyncio.create_task(child(), name="plain")
        gathered = asyncio.create_task(child(), name="gathered")
        awaiters = [
            asyncio.create_task(wait_for(plain), name="awaits-plain"),
            asyncio.create_task(gather(gathered), name="awaits-gather"),
        ]

        async def group() -> None:
            async with asyncio.TaskGroup() as tg:
                grouped = tg.create_task(child(), name="grouped")
                await asyncio.sleep(0.01)
                found["grouped"] = parents(grouped)
                grouped.cancel()

        await asyncio.create_task(group(), name="group")
        found["plain"], found["gathered"] = parents(plain), parents(gathered)
        for task in [plain, gathered, *awaiters]:
            task.cancel()
        await asyncio.gather(plain, gathered, *awaiters, return_exceptions=True)
        return found

    assert run(main()) == {
        "grouped": ["group"],
        "plain": ["awaits-plain"],
        "gathered": ["awaits-gather"],
    }


def test_the_running_task_s_graph_starts_at_its_caller(run: Run[Any], factory: Any) -> None:
    async def main() -> list[str]:
        asyncio.get_running_loop().set_task_factory(factory)

        async def leaf() -> list[str]:
            graph = capture_call_graph()
            assert graph is not None and graph.waits_on is None
            return [frame.name.rsplit(".", 1)[-1] for frame in graph.frames]

        async def middle() -> list[str]:
            return await leaf()

        return await asyncio.create_task(middle())

    assert run(main()) == ["leaf", "middle"]


def test_print_call_graph_reads_as_asyncio_s_with_one_more_section(run: Run[Any]) -> None:
    async def main() -> str:
        task = await parked(None, lambda: sleep_fast(PARKED), name="napper")
        printed = io.StringIO()
        print_call_graph(task, file=printed)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return printed.getvalue()

    lines = run(main()).splitlines()
    assert re.fullmatch(r"\* Task\(name='napper', id=0x[0-9a-f]+\)", lines[0])
    assert lines[1] == "  + Call stack:"
    assert re.fullmatch(
        r"  \|   File '.*test_call_graph\.py', line \d+, in async parked\.<locals>\.inner\(\)",
        lines[2],
    )
    assert lines[4:6] == ["  + Waits on:", lines[5]] and lines[5].startswith(
        "  |   RustAwaitable: a tokio timer, due in "
    )


@pytest.mark.skipif(sys.version_info < (3, 14), reason="asyncio's call graph is new in 3.14")
def test_the_frames_and_parents_are_asyncio_s_own_where_asyncio_has_a_graph(
    run: Run[Any], factory: Any
) -> None:
    async def main() -> tuple[str, str]:
        task = await parked(factory, lambda: sleep_fast(PARKED), name="napper")

        async def awaiter() -> None:
            await task

        waiting = asyncio.create_task(awaiter(), name="awaiter")
        await asyncio.sleep(0)
        ours, theirs = format_call_graph(task), ""
        if sys.version_info >= (3, 14):
            theirs = asyncio.format_call_graph(task)
        task.cancel()
        await asyncio.gather(task, waiting, return_exceptions=True)
        return ours, theirs

    def same(text: str) -> list[str]:
        """Lines without the section asyncio does not have, and with a task
        named alike (asyncio calls a Rust Task a Future: see
        ``test_task_introspection.py``)."""
        lines, skip = [], False
        for line in text.splitlines():
            if skip or line.strip() == "+ Waits on:":
                skip = not skip
                continue
            lines.append(re.sub(r"\* (Task\(name='[^']*', |Future\()id=", "* (id=", line))
        return lines

    ours, theirs = run(main())
    assert "+ Waits on:" in ours
    assert same(ours) == same(theirs)


def test_in_jupyter_a_graph_shows_as_html_beside_asyncio_s_own_on_3_14(run: Run[Any]) -> None:
    graph = run(look(None, lambda: sleep_fast(PARKED)))
    page = graph._repr_html_()
    assert "a tokio timer" in page and "&lt;locals&gt;" in page
    assert ("asyncio.format_call_graph" in page) == (sys.version_info >= (3, 14))


def test_the_module_s_own_example_runs_as_written() -> None:
    import coroscope.call_graph

    assert doctest.testmod(coroscope.call_graph).failed == 0


def test_bad_input_is_refused_in_asyncio_s_words(run: Run[Any]) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        capture_call_graph()
    with pytest.raises(TypeError, match=r"compatible with asyncio\.Future"):
        capture_call_graph(42)  # type: ignore[arg-type]

    async def from_a_callback() -> object:
        seen: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(lambda: seen.set_result(capture_call_graph()))
        return await seen

    assert run(from_a_callback()) is None
