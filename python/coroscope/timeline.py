"""See the loop think: a timeline of every task step, and what woke each one.

::

    async with coroscope.timeline.record() as tl:
        await asyncio.gather(a(), b(), c())
    tl             # in Jupyter: a picture (point at a step for its record) and a table
    tl.table()     # text: one line per step
    tl.plot()      # matplotlib: a lane per task, steps as bars, wakes as arrows
    tl.steps       # the records (Step)

For the block, ``record()`` makes every task the loop creates a Rust ``Task``
(``coroscope.await_from_rust.task_factory``; the loop's previous factory comes
back after) and watches them (``src/support/timeline.rs``): each step of each task is
timed, with what woke it and what the task then waits on. Tasks created before
the block (a notebook cell's own task, for one) are not Rust tasks and are not
recorded; create the work inside the block.

What woke a step is followed along the loop's callbacks. While recording on
asyncio's own loop, ``call_soon``, ``call_soon_threadsafe`` and ``call_at`` are
wrapped on the loop object, so a callback carries who scheduled it: a task (its
step scheduled the wake), a thread (``call_soon_threadsafe``, with the thread's
name: ``tokio-runtime-w`` is a tokio worker), or a timer; each callback in
between is one *hop*. ``future_into_py``'s wake takes two hops (the tokio
thread's ``call_soon_threadsafe``, then the future's done callback); the fast
bridge finishes the waiter inline while draining its wake queue, one hop, which
Rust itself tells the recorder. uvloop's loop cannot be wrapped (a C type
without a ``__dict__``): there, steps, waits and task-to-task wakes are still
recorded, other wakes show as ``the loop``.

What watching costs: two Python calls per step (``begin``/``end``); the
benchmark group ``timeline_overhead`` measures it. With no recording active,
nothing is paid.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coroscope._compat import eager_factory
from coroscope._native import unwatch_steps, watch_steps
from coroscope.await_from_rust import Task, task_factory

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Step", "Timeline", "record"]

# (who scheduled it, hops since): what a callback carries while recording. Who
# is a task object (named only when the steps are read: no string per step) or
# words ("timer", "thread NAME").
Origin = tuple[Any, int]


@dataclass(frozen=True)
class Step:
    """One step of one task: the coroutine ran from ``start_ns`` to ``end_ns``
    (nanoseconds since the recording began)."""

    task: str
    coro: str
    start_ns: int
    end_ns: int
    # What made this step run: "created by task T", "task T (1 hop)", "itself
    # (bare yield)", "thread tokio-runtime-w (2 hops)", "timer (1 hop)", "the loop".
    woken_by: str
    # What the task waits on after the step: "task T", a future's type, "the
    # loop (bare yield)", or how it ended ("done", "raised ValueError", "cancelled").
    waits_on: str
    # The task whose step caused this one (a creator or a waker), if a task did.
    by_task: str | None = None

    @property
    def duration_ns(self) -> int:
        """How long the step ran, in nanoseconds."""
        return self.end_ns - self.start_ns


class Timeline:
    """The steps recorded by one ``record()`` block (``steps``), with ``table()``
    and ``plot()``. While the block runs it is also the recorder the Rust Task
    reports to (``begin``/``end``).

    Recording keeps each step raw (the task, two clock readings, what it waited
    on); the ``Step`` records, with their words, are made when first read. The
    timeline holds the tasks it saw (and so their results) until it is dropped.
    """

    def __init__(self) -> None:
        self._raw: list[tuple[Any, int, int, Origin | None, str | None, Any, bool]] = []
        self._steps: list[Step] = []
        # Who the callback running now was scheduled by (see _wrap_loop).
        self._origin: Origin | None = None
        # Steps begun and not ended: eager tasks start inside another's step.
        self._open: list[tuple[int, Origin | None, str | None]] = []
        self._labels: dict[int, str] = {}  # id(task) -> its unique name here
        # The labels given, and per name the last copy number: a new label in
        # constant time (a set rebuilt per task made 25,000 tasks take seconds).
        self._taken: set[str] = set()
        self._copies: dict[str, int] = {}
        self._t0 = time.perf_counter_ns()
        self._recording = True

    # --- the recorder protocol (called by the Rust Task) -------------------------

    def begin(self, task: Any, hint: str | None) -> None:
        """A step of ``task`` starts; ``hint`` is a wake only Rust saw."""
        if self._recording:
            self._open.append((time.perf_counter_ns(), self._origin, hint))
            self._origin = (task, 0)

    def end(self, task: Any) -> None:
        """The step that ``begin`` opened is over."""
        if self._recording and self._open:
            end = time.perf_counter_ns()
            start, origin, hint = self._open.pop()
            self._origin = origin
            # Only what changes later is read now: whether it ended, what it waits on.
            self._raw.append((task, start, end, origin, hint, task._fut_waiter, task.done()))

    @property
    def steps(self) -> list[Step]:
        """Every step, in the order the steps ended."""
        for raw in self._raw:
            self._label(raw[0])
        seen = {id(raw[0]) for raw in self._raw[: len(self._steps)]}
        for task, start, end, origin, hint, waiter, done in self._raw[len(self._steps) :]:
            name = self._labels[id(task)]
            who = self._who(origin)
            woken_by, by_task = _woken_by(name, id(task) not in seen, who, hint)
            seen.add(id(task))
            coro = task.get_coro()
            coro = getattr(coro, "__qualname__", type(coro).__qualname__)
            waits_on = _ended(task) if done else self._waiting_on(waiter)
            self._steps.append(
                Step(name, coro, start - self._t0, end - self._t0, woken_by, waits_on, by_task)
            )
        return self._steps

    def _label(self, task: Any) -> str:
        """The task's name, made unique among the recorded tasks: names can
        repeat (CPython 3.13.0 names every task a factory makes ``None``)."""
        label = self._labels.get(id(task))
        if label is None:
            name = label = task.get_name()
            copy = self._copies.get(name, 1)
            while label in self._taken:
                copy += 1
                label = f"{name}#{copy}"
            self._copies[name] = copy
            self._taken.add(label)
            self._labels[id(task)] = label
        return label

    def _who(self, origin: Origin | None) -> tuple[str, int] | None:
        """An origin in words: a task recorded here is "task NAME"; one that is
        not (made before the block: in a notebook, the cell's own task) is
        "NAME (started before the recording)", never confused with a recorded
        one (C and Rust tasks number themselves apart)."""
        if origin is None:
            return None
        who, hops = origin
        if isinstance(who, str):
            return origin
        if id(who) in self._labels:
            return f"task {self._labels[id(who)]}", hops
        return f"{who.get_name()} (started before the recording)", hops

    def _waiting_on(self, waiter: Any) -> str:
        if waiter is None:
            return "the loop (bare yield)"
        if id(waiter) in self._labels:
            return f"task {self._labels[id(waiter)]}"
        if isinstance(waiter, asyncio.Task) or hasattr(waiter, "get_coro"):
            return f"{waiter.get_name()} (started before the recording)"
        kind = type(waiter)
        return f"{kind.__module__}.{kind.__qualname__}"

    # --- reading it ------------------------------------------------------------------

    def tasks(self) -> list[str]:
        """Task names, in the order of their first step."""
        return list(dict.fromkeys(step.task for step in self.steps))

    def table(self) -> str:
        """One line per step: when, how long, who, woken by what, then waiting on what."""
        lines = [
            f"{'#':>3} {'start µs':>9} {'took µs':>8}  {'task':<10} {'coroutine':<18} "
            f"{'woken by':<34} then waits on"
        ]
        for i, s in enumerate(self.steps):
            lines.append(
                f"{i:>3} {s.start_ns / 1e3:>9.1f} {s.duration_ns / 1e3:>8.1f}  {s.task:<10} "
                f"{s.coro[-18:]:<18} {s.woken_by:<34} {s.waits_on}"
            )
        return "\n".join(lines)

    def plot(self, title: str = "task steps", ax: Axes | None = None) -> Figure:
        """A lane per task: each step a bar, the gaps between bars are waits; an
        arrow from the step of the task that woke (or created) another to the
        step it caused; a marker where a thread or a timer woke a step. Draws on
        ``ax`` when given (two timelines side by side), else on a new figure."""
        import matplotlib.pyplot as plt

        lanes = {name: i for i, name in enumerate(self.tasks())}
        if ax is None:
            fig, ax = plt.subplots(figsize=(10, 0.6 * len(lanes) + 1.6))
        else:
            fig = ax.figure  # type: ignore[assignment]
        width = max((s.end_ns for s in self.steps), default=1) / 1e3
        least = width / 400  # a step too short to see still shows
        for s in self.steps:
            y = lanes[s.task]
            ax.broken_barh([(s.start_ns / 1e3, max(s.duration_ns / 1e3, least))], (y - 0.3, 0.6))
        ends: dict[str, list[Step]] = {}
        for s in self.steps:
            if s.by_task in lanes and s.by_task != s.task:
                before = [w for w in ends.get(s.by_task, []) if w.start_ns <= s.start_ns]
                if before:
                    src = before[-1]
                    ax.annotate(
                        "",
                        xy=(s.start_ns / 1e3, lanes[s.task]),
                        xytext=(src.end_ns / 1e3, lanes[src.task]),
                        arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.8},
                    )
            elif s.woken_by.startswith(("thread", "fast bridge", "timer")):
                kind = "timer" if s.woken_by.startswith("timer") else "thread"
                ax.plot(
                    s.start_ns / 1e3,
                    lanes[s.task] - 0.42,  # above the bar (the axis runs downwards)
                    marker="v",
                    color="tab:orange" if kind == "thread" else "tab:green",
                    label=f"woken by a {kind}",
                )
            ends.setdefault(s.task, []).append(s)
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            unique = dict(zip(labels, handles, strict=True))
            # Above the plot, not on it: a marker at the right end stays visible.
            ax.legend(
                unique.values(),
                unique.keys(),
                loc="lower right",
                bbox_to_anchor=(1.0, 1.0),
                ncols=len(unique),
                fontsize=8,
                frameon=False,
            )
        coros = {s.task: s.coro for s in reversed(self.steps)}
        ax.set_yticks(list(lanes.values()), [f"{name} · {coros[name]}" for name in lanes])
        ax.invert_yaxis()
        ax.set_xlabel("µs since the recording began (bars: steps; gaps: waiting)")
        ax.set_title(title, loc="left")  # left: the legend sits on the right
        ax.margins(x=0.02)  # a step or marker at either end is not cut in half
        fig.tight_layout()
        return fig

    def svg(self, width: int = 760) -> str:
        """The timeline as an SVG picture, for the browser: a lane per task,
        named as the code named it; each step a bar (never thinner than a
        pixel and a half, however short); a grey line from the step that woke
        or created another to the step it caused; an orange mark above a step a
        thread, the fast bridge or a timer woke. Pointing at a bar shows its
        record (the SVG ``<title>``: no script, so it works in any notebook)."""
        steps = self.steps
        lanes = {name: i for i, name in enumerate(self.tasks())}
        coros = {s.task: s.coro for s in reversed(steps)}
        label_w, lane_h, top = 190, 26, 28
        plot_w = width - label_w - 10
        # From the first step, not from the block's start: what ran before it
        # (the block's own setup) is no step of a task.
        t0 = min((s.start_ns for s in steps), default=0)
        span = max(max((s.end_ns for s in steps), default=1) - t0, 1)

        def x(ns: int) -> float:
            return label_w + (ns - t0) / span * plot_w

        height = top + lane_h * len(lanes) + 34
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11" role="img">',
            f"<title>{len(steps)} steps of {len(lanes)} tasks</title>",
        ]
        for name, i in lanes.items():
            y = top + i * lane_h
            parts.append(
                f'<text x="{label_w - 6}" y="{y + lane_h / 2 + 4}" text-anchor="end">'
                f"{_esc(name)} · {_esc(coros[name].rsplit('.', 1)[-1])}</text>"
                f'<line x1="{label_w}" x2="{width - 10}" y1="{y + lane_h / 2}" '
                f'y2="{y + lane_h / 2}" stroke="#eee"/>'
            )
        last_end: dict[str, Step] = {}
        for i, s in enumerate(steps):
            y = top + lanes[s.task] * lane_h
            start, w = x(s.start_ns), max(x(s.end_ns) - x(s.start_ns), 1.5)
            if s.by_task in last_end and s.by_task != s.task:
                src = last_end[s.by_task]
                from_y = top + lanes[src.task] * lane_h + lane_h / 2
                parts.append(
                    f'<line x1="{x(src.end_ns):.1f}" y1="{from_y}" x2="{start:.1f}" '
                    f'y2="{y + lane_h / 2}" stroke="#999" stroke-width="0.8"/>'
                )
            elif s.woken_by.startswith(("thread", "fast bridge", "timer")):
                parts.append(
                    f'<path d="M{start - 4:.1f},{y + 1} h8 l-4,5 z" fill="#e67e22">'
                    f"<title>{_esc(s.woken_by)}</title></path>"
                )
            record = (
                f"#{i} task {s.task} ({s.coro})\nstart {s.start_ns / 1e3:.1f} µs, "
                f"took {s.duration_ns / 1e3:.1f} µs\nwoken by: {s.woken_by}\n"
                f"then waits on: {s.waits_on}"
            )
            parts.append(
                f'<rect x="{start:.1f}" y="{y + 7}" width="{w:.1f}" height="{lane_h - 12}" '
                f'fill="#3b75af"><title>{_esc(record)}</title></rect>'
            )
            last_end[s.task] = s
        axis_y = top + lane_h * len(lanes) + 4
        parts.append(
            f'<line x1="{label_w}" x2="{width - 10}" y1="{axis_y}" y2="{axis_y}" stroke="#333"/>'
            f'<text x="{label_w}" y="{axis_y + 14}">{t0 / 1e3:.1f} µs</text>'
            f'<text x="{width - 10}" y="{axis_y + 14}" text-anchor="end">'
            f"{(t0 + span) / 1e3:.1f} µs since the recording began</text>"
            '<text x="4" y="16" fill="#555">bars: steps (point at one for its record) · '
            "grey lines: a task woke or created another · orange mark: a thread or a "
            "timer woke it</text></svg>"
        )
        return "".join(parts)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{i}</td><td>{s.start_ns / 1e3:.1f}</td><td>{s.duration_ns / 1e3:.1f}</td>"
            f"<td>{_esc(s.task)}</td><td>{_esc(s.coro)}</td><td>{_esc(s.woken_by)}</td>"
            f"<td>{_esc(s.waits_on)}</td></tr>"
            for i, s in enumerate(self.steps)
        )
        head = "".join(
            f"<th>{h}</th>"
            for h in ("#", "start µs", "took µs", "task", "coroutine", "woken by", "then waits on")
        )
        return (
            f"{self.svg()}<details><summary>the {len(self.steps)} steps as a table</summary>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></details>"
        )

    def __repr__(self) -> str:
        return f"<Timeline: {len(self.steps)} steps of {len(self.tasks())} tasks>"


def _esc(text: str) -> str:
    return html.escape(text)


def _woken_by(
    name: str, first: bool, origin: tuple[str, int] | None, hint: str | None
) -> tuple[str, str | None]:
    """(what made this step run, the recorded task that did, if one did)."""
    if hint is not None:
        return hint, None
    if origin is None:
        return ("created outside any task" if first else "the loop"), None
    who, hops = origin
    by_task = who.removeprefix("task ") if who.startswith("task ") else None
    if first:
        return f"created by {who}", by_task
    if by_task == name:
        return "itself (bare yield)", None
    return f"{who} ({hops} hop{'s' if hops != 1 else ''})", by_task


def _ended(task: Any) -> str:
    if task.cancelled():
        return "cancelled"
    exc = task.exception()
    return "done" if exc is None else f"raised {type(exc).__name__}"


def _thread_name() -> str:
    """The OS name of this thread (a tokio worker's is ``tokio-runtime-w``,
    which Python's ``threading`` does not know)."""
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return threading.current_thread().name


class _Carried:
    """A loop callback that runs with its origin set on the timeline.

    Everything else is the callback's: its ``repr``, ``__qualname__``,
    ``__self__`` (a task's step) and source (through ``__wrapped__``), looked
    up when asked. asyncio's error reports and debug mode's slow-callback line
    read those as they are made, so they name the callback or its task (as it
    is then: "finished"), exactly as without the recording.
    """

    __slots__ = ("__wrapped__", "_origin", "_tl")

    def __init__(self, tl: Timeline, origin: Origin, callback: Callable[..., Any]) -> None:
        self._tl = tl
        self._origin = origin
        self.__wrapped__ = callback

    def __call__(self, *args: Any) -> Any:
        tl = self._tl
        outer = tl._origin
        tl._origin = self._origin
        try:
            return self.__wrapped__(*args)
        finally:
            tl._origin = outer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__wrapped__, name)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)


def _wrap_loop(loop: asyncio.AbstractEventLoop, tl: Timeline) -> Callable[[], None]:
    """Make the loop's callbacks carry their origin (see the module doc); returns
    the undo. A loop that cannot be wrapped (uvloop) is left as it is."""

    def carry(origin: Origin, callback: Callable[..., Any]) -> Callable[..., Any]:
        return _Carried(tl, origin, callback)

    def made_here(handle: Any) -> Any:
        # In debug mode a handle records where it was made: the caller of
        # `call_soon`, which is now this file; asyncio drops its own frame.
        if getattr(handle, "_source_traceback", None):
            del handle._source_traceback[-1]
        return handle

    original_soon = loop.call_soon
    original_threadsafe = loop.call_soon_threadsafe
    original_at = loop.call_at

    def call_soon(callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        if tl._recording:
            origin = tl._origin
            if origin is None and (current := asyncio.current_task(loop)) is not None:
                origin = (current, 0)  # a task not recorded (made before the block)
            if origin is not None:
                callback = carry((origin[0], origin[1] + 1), callback)
        return made_here(original_soon(callback, *args, context=context))

    def call_soon_threadsafe(callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        if tl._recording and threading.get_ident() != loop_thread:
            callback = carry((f"thread {_thread_name()}", 1), callback)
        return made_here(original_threadsafe(callback, *args, context=context))

    def call_at(when: float, callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        if tl._recording:
            callback = carry(("timer", 1), callback)
        return made_here(original_at(when, callback, *args, context=context))

    loop_thread = threading.get_ident()
    hooks = {
        "call_soon": call_soon,
        "call_soon_threadsafe": call_soon_threadsafe,
        "call_at": call_at,
    }
    # What the loop's own instance held before (a patch of the user's), put
    # back on undo; a loop with no instance attributes (uvloop) is left alone.
    before = dict(getattr(loop, "__dict__", {}))
    try:
        for name, hook in hooks.items():
            setattr(loop, name, hook)
    except AttributeError:  # uvloop
        return lambda: None

    def undo() -> None:
        for name, hook in hooks.items():
            if vars(loop).get(name) is not hook:
                continue  # patched again inside the block: that patch stays
            if name in before:
                setattr(loop, name, before[name])
            else:
                del vars(loop)[name]

    return undo


# The loops a `record()` block is recording now (by id: a block always ends
# before its loop can go). One block per loop: an inner block would take the
# loop's hooks, and give them back undone, from under the outer one.
_RECORDING: set[int] = set()
ALREADY_RECORDING = (
    "a coroscope.timeline.record() block is already recording this loop: "
    "one timeline per loop at a time"
)


EAGER_FACTORIES = (
    "create_eager_task_factory.<locals>.factory",
    "eager_factory.<locals>.factory",
)


def _recording_factory(previous: Any) -> Any:
    """The Rust Task's factory, eager if the loop's was asyncio's eager one: a
    recorded program must run as it does unrecorded (an eager task can finish
    inside ``create_task``). An eager factory (asyncio's, or the kit's) is
    known by its name."""
    if getattr(previous, "__qualname__", "") in EAGER_FACTORIES:
        return eager_factory(Task)
    return task_factory


def _give_back_factory(loop: asyncio.AbstractEventLoop, recording: Any, previous: Any) -> None:
    """Put the loop's factory back, unless the block set one of its own: that
    one stays, as it would have without the recording."""
    if loop.get_task_factory() is recording:
        loop.set_task_factory(previous)


@contextlib.asynccontextmanager
async def record() -> AsyncIterator[Timeline]:
    """Record every task step on the running loop for the ``async with`` block.

    Works with top-level ``await`` in a notebook (the kernel's loop is running).
    Yields the ``Timeline``; its ``steps`` are final when the block ends. A block
    inside another on the same loop raises ``RuntimeError``: one timeline per
    loop at a time.
    """
    loop = asyncio.get_running_loop()
    if id(loop) in _RECORDING:
        raise RuntimeError(ALREADY_RECORDING)
    tl = Timeline()
    # Each undo is registered as its step is taken, and run (last first) even
    # when one before it fails: a Ctrl-C landing in the setup or the teardown
    # must not leave the loop hooked, or marked as recording for good.
    with contextlib.ExitStack() as undo:
        _RECORDING.add(id(loop))
        undo.callback(_RECORDING.discard, id(loop))
        undo.callback(setattr, tl, "_recording", False)
        previous = loop.get_task_factory()
        recording = _recording_factory(previous)
        undo.callback(_give_back_factory, loop, recording, previous)
        loop.set_task_factory(recording)
        undo.callback(_wrap_loop(loop, tl))
        watch_steps(loop, tl)
        undo.callback(unwatch_steps, loop)
        yield tl
