"""Who awaits what, through Rust: a task's await chain, continued where asyncio's stops.

``asyncio.capture_call_graph`` (3.14+) walks a task's coroutines through
``cr_await`` and stops where the chain leaves Python. A task parked in
``await sleep_fast(5)`` then shows its frames and nothing under them: the
``RustAwaitable`` has no frame, and asyncio cannot tell a timer from a
deadlock. This module walks the same chain (on every Python the kit supports)
and names its last link: what the awaitable waits on (its maker says:
``RustAwaitable.waiting_on``; a tokio timer with its deadline, a task on a
tokio worker, a PyBurger order, a Doorbell ring), or which future the task
sleeps on (a ``future_into_py`` future is known by the callback
pyo3-async-runtimes puts on it, PyO3's ``async fn`` by its ``Coroutine``).

>>> import asyncio
>>> from coroscope.bridge import sleep_fast
>>> from coroscope.call_graph import capture_call_graph
>>> async def nap():
...     await sleep_fast(5)
>>> async def main():
...     task = asyncio.create_task(nap())
...     await asyncio.sleep(0.01)
...     graph = capture_call_graph(task)
...     task.cancel()
...     return graph.waits_on.what, graph.frames[0].name
>>> asyncio.run(main())
('a tokio timer', 'nap')

``print_call_graph`` prints it as ``asyncio.print_call_graph`` does, with one
more section, ``+ Waits on:``; in Jupyter a ``CallGraph`` shows as HTML, and on
3.14+ beside asyncio's own graph of the same task.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import sys
from types import FrameType
from typing import IO, Any

__all__ = [
    "CallGraph",
    "Frame",
    "Wait",
    "capture_call_graph",
    "format_call_graph",
    "print_call_graph",
]

# pyo3-async-runtimes puts a callback of this type on every future it makes
# (`future_into_py`), to cancel the Rust side when the future is cancelled.
_FUTURE_INTO_PY_CALLBACK = "PyDoneCallback"
# PyO3's `async fn` returns this type (`builtins.Coroutine`), which has no
# `cr_await`: the chain ends at it.
_PYO3_COROUTINE = "Coroutine"
_COROUTINE = 0x80  # inspect.CO_COROUTINE, without importing inspect


@dataclasses.dataclass(frozen=True)
class Frame:
    """One suspended coroutine (or generator) of the chain: where it waits."""

    name: str
    filename: str
    line: int
    kind: str  # "async", "async generator" or "generator", as asyncio prints it


@dataclasses.dataclass(frozen=True)
class Wait:
    """The chain's last link: the object awaited and what it waits on.

    ``due_in`` is the seconds left on a timer (negative once due and the
    wake-up is on its way); ``None`` for a wait with no deadline.
    """

    kind: str
    what: str
    due_in: float | None = None

    def __str__(self) -> str:
        due = "" if self.due_in is None else f", due in {self.due_in * 1e3:.3g} ms"
        return f"{self.kind}: {self.what}{due}"


@dataclasses.dataclass(frozen=True, repr=False)
class CallGraph:
    """A task, its await chain (innermost frame first, as asyncio lists it),
    what the chain ends in (``None`` for the running task), and the graphs of
    the tasks awaiting it."""

    task: asyncio.Future[Any]
    frames: tuple[Frame, ...]
    waits_on: Wait | None
    awaited_by: tuple[CallGraph, ...]

    def __str__(self) -> str:
        return "\n".join(_render(self, 0))

    def __repr__(self) -> str:
        parents = f", awaited by {len(self.awaited_by)}" if self.awaited_by else ""
        waits = f", waits on {self.waits_on}" if self.waits_on is not None else ""
        return f"<CallGraph of {_name(self.task)}: {len(self.frames)} frames{waits}{parents}>"

    def _repr_html_(self) -> str:
        ours = f"<pre>{html.escape(str(self))}</pre>"
        theirs = _asyncio_text(self.task)
        if theirs is None:
            return ours
        cells = [
            ("coroscope.call_graph", ours),
            ("asyncio.format_call_graph", f"<pre>{html.escape(theirs)}</pre>"),
        ]
        head = "".join(f"<th style='text-align:left'>{name}</th>" for name, _ in cells)
        body = "".join(
            f"<td style='vertical-align:top;text-align:left'>{cell}</td>" for _, cell in cells
        )
        return f"<table><tr>{head}</tr><tr>{body}</tr></table>"


def capture_call_graph(
    future: asyncio.Future[Any] | None = None, /, *, depth: int = 1
) -> CallGraph | None:
    """The call graph of ``future`` (a Task, C or Rust, or a Future), or of the
    current task when ``future`` is ``None``, as ``asyncio.capture_call_graph``
    takes them: ``None`` when no task is running, ``RuntimeError`` with no
    running loop. ``depth`` skips that many of the caller's frames when the
    graph is of the running task."""
    loop = asyncio._get_running_loop()
    current = None if loop is None else asyncio.current_task(loop)
    if future is None:
        if loop is None:
            raise RuntimeError("no running event loop")
        if current is None:
            return None
        future = current
    elif not asyncio.isfuture(future):
        raise TypeError(f"{future!r} object does not appear to be compatible with asyncio.Future")
    if current is not None and future is current:
        return _graph(current, _running_frames(current, sys._getframe(depth)), None, set())
    frames, leaf = _suspended_chain(future)
    return _graph(future, frames, leaf, set())


def format_call_graph(future: asyncio.Future[Any] | None = None, /, *, depth: int = 1) -> str:
    """:func:`capture_call_graph`, as text (``""`` when there is no task)."""
    graph = capture_call_graph(future, depth=depth + 1)
    return "" if graph is None else str(graph)


def print_call_graph(
    future: asyncio.Future[Any] | None = None, /, *, file: IO[str] | None = None, depth: int = 1
) -> None:
    """:func:`format_call_graph`, printed (to ``file``, or ``sys.stdout``)."""
    print(format_call_graph(future, depth=depth + 1), file=file)


def _graph(
    future: asyncio.Future[Any], frames: tuple[Frame, ...], leaf: Wait | None, seen: set[int]
) -> CallGraph:
    # A task is drawn once per path: `seen` holds the tasks above this one, so a
    # (mis)wired cycle ends instead of recursing for ever.
    seen = seen | {id(future)}
    parents = tuple(
        _graph(parent, *_suspended_chain(parent), seen)
        for parent in _awaited_by(future)
        if id(parent) not in seen
    )
    return CallGraph(future, frames, leaf, parents)


def _running_frames(task: asyncio.Future[Any], frame: FrameType | None) -> tuple[Frame, ...]:
    """The running task's frames, from ``frame`` out to its coroutine's own."""
    coro = task.get_coro() if hasattr(task, "get_coro") else None
    bottom = getattr(coro, "cr_frame", None)
    frames = []
    while frame is not None:
        frames.append(_frame(frame, "async" if frame.f_code.co_flags & _COROUTINE else ""))
        if frame is bottom:
            break
        frame = frame.f_back
    return tuple(frames)


def _suspended_chain(future: asyncio.Future[Any]) -> tuple[tuple[Frame, ...], Wait | None]:
    """A suspended task's frames (innermost first) and its chain's last link."""
    link: Any = future.get_coro() if hasattr(future, "get_coro") else None
    if link is None:
        return (), _future_wait(future, None)
    frames: list[Frame] = []
    while (step := _step(link)) is not None:
        frame, kind, link = step
        if frame is not None:
            frames.append(_frame(frame, kind))
    frames.reverse()  # asyncio lists the innermost frame first
    return tuple(frames), _leaf_wait(link, getattr(future, "_fut_waiter", None))


def _step(link: Any) -> tuple[FrameType | None, str, Any] | None:
    """A coroutine's (or generator's) frame, its kind and what it awaits;
    ``None`` for anything else: the end of the Python chain."""
    for frame_attr, await_attr, kind in _LINKS:
        if hasattr(link, await_attr):
            return getattr(link, frame_attr), kind, getattr(link, await_attr)
    return None


_LINKS = (
    ("cr_frame", "cr_await", "async"),
    ("ag_frame", "ag_await", "async generator"),
    ("gi_frame", "gi_yieldfrom", "generator"),
)


def _frame(frame: FrameType, kind: str) -> Frame:
    return Frame(frame.f_code.co_qualname, frame.f_code.co_filename, frame.f_lineno or 0, kind)


def _leaf_wait(leaf: Any, waiter: Any) -> Wait | None:
    """What a chain ending at ``leaf`` waits on (``waiter``: the future the task sleeps on)."""
    waiting_on = getattr(leaf, "waiting_on", None)
    if waiting_on is not None and type(leaf).__name__ == "RustAwaitable":
        what, due_in = waiting_on
        return Wait("RustAwaitable", what, due_in)
    if type(leaf).__name__ == _PYO3_COROUTINE:
        return Wait(
            f"PyO3 async fn {leaf.__qualname__}", "a Rust future, polled by PyO3's Coroutine"
        )
    return _future_wait(waiter, leaf)


def _future_wait(waiter: Any, leaf: Any) -> Wait | None:
    if waiter is None:
        if leaf is None:
            return None
        return Wait(type(leaf).__qualname__, "an awaitable with no frame to show")
    kind = type(waiter).__qualname__
    if hasattr(waiter, "get_coro"):
        return Wait(kind, f"task {waiter.get_name()!r}")
    if type(waiter).__name__ == "TimerFuture":
        return Wait(kind, "a tokio timer")
    children = getattr(waiter, "_children", None)
    if children is not None:
        return Wait(kind, f"gather of {len(children)}")
    if any(
        type(callback).__name__ == _FUTURE_INTO_PY_CALLBACK for callback, _ in _callbacks(waiter)
    ):
        return Wait(kind, "a Rust future on tokio (future_into_py)")
    return Wait(kind, "whoever sets its result")


def _callbacks(future: Any) -> list[tuple[Any, Any]]:
    return list(getattr(future, "_callbacks", None) or ())


def _awaited_by(future: asyncio.Future[Any]) -> list[asyncio.Future[Any]]:
    """The tasks awaiting ``future``: asyncio's own record on 3.14+ (a Rust
    Task keeps it too); before 3.14, found by asking every task of the loop
    what it sleeps on (itself, or a gather holding it) and which TaskGroup's
    callback it carries."""
    recorded = getattr(future, "_asyncio_awaited_by", None)
    if sys.version_info >= (3, 14):
        return list(recorded or ())
    try:
        tasks = asyncio.all_tasks(future.get_loop())
    except RuntimeError:  # the loop is closed, or the future has none
        return []
    parents: list[asyncio.Future[Any]] = []
    for task in tasks:
        waiter = getattr(task, "_fut_waiter", None)
        if waiter is future or future in (getattr(waiter, "_children", None) or ()):
            parents.append(task)
    for callback, _ in _callbacks(future):
        group = getattr(callback, "__self__", None)
        parent = getattr(group, "_parent_task", None)
        if isinstance(group, asyncio.TaskGroup) and parent is not None:
            parents.append(parent)
    return parents


def _render(graph: CallGraph, level: int) -> list[str]:
    """asyncio's layout (``format_call_graph``), with ``+ Waits on:``."""
    pad = "    " * level
    lines = [f"{pad}* {_name(graph.task)}"]
    if graph.frames:
        lines.append(f"{pad}  + Call stack:")
        for frame in graph.frames:
            kind = f"{frame.kind} " if frame.kind else ""
            lines.append(
                f"{pad}  |   File {frame.filename!r}, line {frame.line}, in {kind}{frame.name}()"
            )
    if graph.waits_on is not None:
        lines.append(f"{pad}  + Waits on:")
        lines.append(f"{pad}  |   {graph.waits_on}")
    if graph.awaited_by:
        lines.append(f"{pad}  + Awaited by:")
        for parent in graph.awaited_by:
            lines.extend(_render(parent, level + 1))
    return lines


def _name(task: asyncio.Future[Any]) -> str:
    """A task as asyncio's graph names it (a Rust Task too, by its name)."""
    if hasattr(task, "get_name"):
        return f"Task(name={task.get_name()!r}, id={id(task):#x})"
    return f"Future(id={id(task):#x})"


def _asyncio_text(task: asyncio.Future[Any]) -> str | None:
    """asyncio's own graph of ``task`` (3.14+), for the side-by-side view."""
    if sys.version_info < (3, 14):
        return None
    try:
        return asyncio.format_call_graph(task)
    except (TypeError, RuntimeError, ValueError) as error:
        return f"asyncio.format_call_graph failed: {error!r}"
