"""asyncio's introspection (3.14+) looking at Rust Tasks: what it sees, and why.

``asyncio.capture_call_graph`` walks a task's coroutine frames (``cr_await``) and
its ``_asyncio_awaited_by`` set, which the Rust Task keeps as asyncio's tasks do
(``future_add_to_awaited_by`` when it waits, ``..._discard_...`` when woken), so
the same program gives the same graph under either task. CPython's own
``test_graph`` runs against the Rust Task too (``test_task_cpython.py``).

``python -m asyncio ps|pstree PID`` is another matter: it reads a *running
process's memory* from outside, walking each thread's list of C Task structs by
the offsets CPython publishes for debuggers. A Rust Task is no such struct; asyncio
keeps it in a set of "non-native" tasks that only Python code in that process can
read. So those tools show the C tasks only.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from coroscope.await_from_rust import Task, task_factory

pytestmark = pytest.mark.skipif(
    sys.version_info < (3, 14), reason="asyncio's call graph and `asyncio ps` are new in 3.14"
)


def shape(graph: Any) -> tuple[object, ...]:
    """A call graph without object ids: task names (numbered ones as ``Task-N``),
    frame names, who awaits."""
    name = re.sub(r"^Task-\d+$", "Task-N", graph.future.get_name())
    frames = [entry.frame.f_code.co_name for entry in graph.call_stack]
    return (name, frames, sorted(shape(parent) for parent in graph.awaited_by))


async def program() -> tuple[Any, str]:
    """A leaf three frames deep, in a TaskGroup, inside a named task, reporting
    its own call graph, as asyncio captures and prints it."""
    seen: list[tuple[Any, str]] = []

    async def leaf() -> None:
        await asyncio.sleep(0)
        printed = io.StringIO()
        asyncio.print_call_graph(file=printed)
        seen.append((asyncio.capture_call_graph(), printed.getvalue()))

    async def middle() -> None:
        await leaf()

    async def group() -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(middle(), name="middle")

    await asyncio.create_task(group(), name="group")
    return seen[0]


def graph_under(factory: Any) -> tuple[Any, str]:
    async def main() -> tuple[Any, str]:
        asyncio.get_running_loop().set_task_factory(factory)
        return await asyncio.create_task(program(), name="program")

    return asyncio.run(main())


def test_a_rust_task_has_the_call_graph_a_c_task_has() -> None:
    c_graph, _ = graph_under(None)
    rust_graph, _ = graph_under(task_factory)
    assert isinstance(rust_graph.future, Task)
    assert shape(rust_graph) == shape(c_graph)
    # asyncio.run's own task is made before the factory is set: a C one in both.
    assert shape(c_graph) == (
        "middle",
        ["leaf", "middle"],
        [
            (
                "group",
                ["_aexit", "__aexit__", "group"],
                [("program", ["program"], [("Task-N", ["main"], [])])],
            )
        ],
    )


def test_print_call_graph_calls_a_rust_task_a_future_with_the_same_frames() -> None:
    """asyncio names a node ``Task(name=...)`` only if ``isinstance(x, asyncio.Task)``,
    the C class; a Rust Task is an ``asyncio.Future`` but not that, so it prints as
    ``Future(id=...)``. The frames and the awaited-by lines are the same."""
    _, c_text = graph_under(None)
    _, rust_text = graph_under(task_factory)

    def lines(text: str) -> list[str]:
        text = re.sub(r"id=0x[0-9a-f]+", "id=…", text)
        return re.sub(r"Task\(name='[^']*', id=…\)", "Future(id=…)", text).splitlines()

    for name in ("middle", "group", "program"):
        assert f"* Task(name='{name}'" in c_text
        assert f"* Task(name='{name}'" not in rust_text
    assert rust_text.count("* Future(id=") == 3
    assert lines(rust_text) == lines(c_text)


TARGET = textwrap.dedent(
    """
    import asyncio
    from coroscope.await_from_rust import Task

    async def leaf():
        await asyncio.sleep(60)

    async def main():
        c_task = asyncio.create_task(leaf(), name="c-task")
        rust_task = Task(leaf(), name="rust-task")
        print("ready", flush=True)
        await asyncio.gather(c_task, rust_task)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("command", ["ps", "pstree"])
def test_asyncio_ps_reads_c_tasks_from_memory_and_cannot_see_rust_ones(command: str) -> None:
    target = subprocess.Popen([sys.executable, "-c", TARGET], stdout=subprocess.PIPE, text=True)
    try:
        assert target.stdout is not None
        assert target.stdout.readline().strip() == "ready"
        shown = subprocess.run(
            [sys.executable, "-m", "asyncio", command, str(target.pid)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        target.kill()
        target.wait()
    if shown.returncode != 0 and "ermission" in shown.stderr:
        pytest.skip(f"reading another process's memory is not allowed here: {shown.stderr}")
    assert shown.returncode == 0, shown.stderr
    assert "c-task" in shown.stdout
    assert "rust-task" not in shown.stdout
