"""Recording: ``record()``, the ``Timeline`` the Rust Task reports each step to, and
the loop hooks that follow a wake from callback to callback (the package's doc
tells what is recorded; ``views`` and ``trace`` show it)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from coroscope._compat import eager_factory
from coroscope._native import (
    _current_flow,
    _rust_side_start,
    _rust_side_stop,
    unwatch_steps,
    watch_steps,
)
from coroscope.await_from_rust import Task, task_factory
from coroscope.timeline import trace, views
from coroscope.timeline.records import LoopHop, RustEvent, Step

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["LoopHop", "RustEvent", "Step", "Timeline", "record"]

# (who scheduled it, hops since, the flow of the Rust wake behind it): what a
# callback carries while recording. Who is a task object (named only when the
# steps are read: no string per step) or words ("timer", "thread NAME"); the
# flow, a number the Rust side gave the wake (``RustEvent.flow``), or None.
Origin = tuple[Any, int, int | None]


class Timeline:
    """The steps recorded by one ``record()`` block (``steps``), with ``table()``
    and ``plot()``. While the block runs it is also the recorder the Rust Task
    reports to (``begin``/``end``).

    Recording keeps each step raw (the task, two clock readings, what it waited
    on); the ``Step`` records, with their words, are made when first read. The
    timeline holds the tasks it saw (and so their results) until it is dropped.
    """

    def __init__(self) -> None:
        self._raw: list[tuple[Any, int, int, Origin | None, str | None, Any, bool, int | None]] = []
        self._steps: list[Step] = []
        # Who the callback running now was scheduled by (see _wrap_loop).
        self._origin: Origin | None = None
        # Steps begun and not ended: eager tasks start inside another's step.
        self._open: list[tuple[int, Origin | None, str | None, int | None]] = []
        self._labels: dict[int, str] = {}  # id(task) -> its unique name here
        self._stepped: set[int] = set()  # id(task) of each task with a Step made
        # The labels given, and per name the last copy number: a new label in
        # constant time (a set rebuilt per task made 25,000 tasks take seconds).
        self._taken: set[str] = set()
        self._copies: dict[str, int] = {}
        self._t0 = time.perf_counter_ns()
        self._recording = True
        self._rust_side: list[RustEvent] = []
        # Callbacks that carried a Rust wake's flow and ran no step: the loop
        # side of a crossing (start, end, hops, flow, the callback). Steps begun
        # so far tell a callback that ran one (a task's wake-up) from one that did not.
        self._hops: list[tuple[int, int, int, int, Any]] = []
        self._begun = 0

    # --- the recorder protocol (called by the Rust Task) -------------------------

    def begin(self, task: Any, hint: str | None) -> None:
        """A step of ``task`` starts; ``hint`` is a wake only Rust saw."""
        if self._recording:
            origin = self._origin
            # A wake only Rust saw (the fast bridge's drain) tells its flow
            # now; one through the loop's callbacks carried it in its origin.
            flow = _current_flow() if hint is not None else (origin[2] if origin else None)
            self._open.append((time.perf_counter_ns(), origin, hint, flow))
            self._begun += 1
            self._origin = (task, 0, None)

    def end(self, task: Any) -> None:
        """The step that ``begin`` opened is over."""
        if self._recording and self._open:
            end = time.perf_counter_ns()
            start, origin, hint, flow = self._open.pop()
            self._origin = origin
            # Only what changes later is read now: whether it ended, what it waits on.
            self._raw.append((task, start, end, origin, hint, task._fut_waiter, task.done(), flow))

    @property
    def steps(self) -> list[Step]:
        """Every step, in the order the steps ended. Made into records when
        first read, only those recorded since the last read: reading is cheap."""
        new = self._raw[len(self._steps) :]
        for raw in new:
            self._label(raw[0])
        for task, start, end, origin, hint, waiter, done, flow in new:
            name = self._labels[id(task)]
            who = self._who(origin)
            woken_by, by_task = _woken_by(name, id(task) not in self._stepped, who, hint)
            self._stepped.add(id(task))
            coro = task.get_coro()
            coro = getattr(coro, "__qualname__", type(coro).__qualname__)
            waits_on = _ended(task) if done else self._waiting_on(waiter)
            # A wake only Rust saw is the fast bridge's: its drain is the one hop.
            hops = 1 if hint is not None else (who[1] if who else 0)
            self._steps.append(
                Step(
                    name,
                    coro,
                    start - self._t0,
                    end - self._t0,
                    woken_by,
                    waits_on,
                    by_task,
                    flow,
                    hops,
                )
            )
        return self._steps

    @property
    def rust_side(self) -> list[RustEvent]:
        """What the Rust side did meanwhile, on its own threads (tokio's
        workers, the Kitchen's cooks), in the order it happened: final when the
        block ends (empty before)."""
        return self._rust_side

    @property
    def loop_hops(self) -> list[LoopHop]:
        """The callbacks the loop ran on a Rust wake's way to its step (the
        ``LoopHop`` doc has which), in the order they ran."""
        return [
            LoopHop(
                getattr(callback, "__qualname__", type(callback).__qualname__),
                hops,
                start - self._t0,
                end - self._t0,
                flow,
            )
            for start, end, hops, flow, callback in self._hops
        ]

    def _take_rust_side(self, rust_start: int, py_start: int) -> None:
        """At the block's end: the Rust side's events, moved to this clock."""
        shift = py_start - rust_start - self._t0
        events = _rust_side_stop(rust_start)
        self._rust_side = [
            RustEvent(thread, kind, what, start + shift, end + shift, flow)
            for thread, kind, what, start, end, flow in sorted(events, key=lambda e: e[3])
        ]

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
        who, hops, _ = origin
        if isinstance(who, str):
            return who, hops
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
        """One line per step: when, how long, who, woken by what, then waiting
        on what; then, when the Rust side did anything, one line per event
        there (see ``rust_side``)."""
        return views.table(self)

    def plot(self, title: str = "task steps", ax: Axes | None = None, by: str = "time") -> Figure:
        """A lane per task, and one per thread of the Rust side: each step a
        bar, the gaps between bars are waits; an arrow from the step of the
        task that woke (or created) another to the step it caused, and from a
        wake on a Rust thread to the step it caused; a marker where a thread or
        a timer woke a step. Draws on ``ax`` when given (two timelines side by
        side), else on a new figure. ``by="order"`` gives each step one equal
        slot in the order the steps began, leaving the Rust side out: for a
        lesson on interleaving, where how long a step of a few µs took is the
        machine's noise."""
        return views.plot(self, title, ax, by)

    def svg(self, width: int = 760, by: str = "time") -> str:
        """The timeline as an SVG picture for the browser, with the plot's
        lanes (and its ``by``); pointing at a bar shows its record, real times
        included (the SVG ``<title>``: no script, so it works in any notebook)."""
        return views.svg(self, width, by)

    def save_trace(self, path: str | os.PathLike[str]) -> None:
        """Write the timeline as a Chrome trace-event JSON file, which
        Perfetto's UI (ui.perfetto.dev) and ``chrome://tracing`` open: a track
        per task and per thread, and an arrow from each wake to its step."""
        trace.save(self, path)

    def show(self, by: str = "time") -> views.Picture:
        """What Jupyter shows for the timeline (the picture, the table one
        click below), drawn ``by`` time or by ``"order"`` (as ``plot`` takes
        it): end a cell with ``tl.show(by="order")``."""
        return views.Picture(views.html_view(self, by))

    def _repr_html_(self) -> str:
        return views.html_view(self)

    def __repr__(self) -> str:
        return f"<Timeline: {len(self.steps)} steps of {len(self.tasks())} tasks>"


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


def _thread_name(known: dict[int, str]) -> str:
    """The OS name of this thread (the kit's tokio threads are
    ``coroscope-tokio``, which Python's ``threading`` does not know), read
    once per thread into ``known``: a file read per wake cost more than the
    wake."""
    native = threading.get_native_id()
    name = known.get(native)
    if name is None:
        try:
            with open(f"/proc/self/task/{native}/comm") as comm:
                name = comm.read().strip()
        except OSError:
            name = threading.current_thread().name
        known[native] = name
    return name


def _unwrapped(exc: BaseException) -> None:
    """Take ``_Carried.__call__``'s frame off the front of ``exc``'s traceback."""
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is _Carried.__call__.__code__:
        exc.__traceback__ = tb.tb_next


class _Carried:
    """A loop callback that runs with its origin set on the timeline.

    Everything else is the callback's: its ``repr``, ``__qualname__``,
    ``__self__`` (a task's step) and source (through ``__wrapped__``), looked
    up when asked. asyncio's error reports and debug mode's slow-callback line
    read those as they are made, so they name the callback or its task (as it
    is then: "finished"), as without the recording. So does an exception's
    traceback: Python adds a frame for every function an exception passes
    through, and a wrapper is a function, so ``__call__`` takes its own frame
    off before it re-raises (a bare ``raise`` adds none).
    """

    __slots__ = ("__wrapped__", "_origin", "_tl")

    def __init__(self, tl: Timeline, origin: Origin, callback: Callable[..., Any]) -> None:
        self._tl = tl
        self._origin = origin
        self.__wrapped__ = callback

    def __call__(self, *args: Any) -> Any:
        tl = self._tl
        outer = tl._origin
        tl._origin = origin = self._origin
        flow = origin[2]
        if flow is None or not tl._recording:
            try:
                return self.__wrapped__(*args)
            except BaseException as exc:
                _unwrapped(exc)
                raise
            finally:
                tl._origin = outer
        # On a Rust wake's way: timed, and kept unless it ran a step.
        begun, start = tl._begun, time.perf_counter_ns()
        try:
            return self.__wrapped__(*args)
        except BaseException as exc:
            _unwrapped(exc)
            raise
        finally:
            if tl._begun == begun:
                tl._hops.append((start, time.perf_counter_ns(), origin[1], flow, self.__wrapped__))
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
                origin = (current, 0, None)  # a task not recorded (made before the block)
            if origin is not None:
                callback = carry((origin[0], origin[1] + 1, origin[2]), callback)
        return made_here(original_soon(callback, *args, context=context))

    def call_soon_threadsafe(callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        if tl._recording and threading.get_ident() != loop_thread:
            callback = carry((f"thread {_thread_name(names)}", 1, _current_flow()), callback)
        return made_here(original_threadsafe(callback, *args, context=context))

    def call_at(when: float, callback: Callable[..., Any], *args: Any, context: Any = None) -> Any:
        if tl._recording:
            callback = carry(("timer", 1, None), callback)
        return made_here(original_at(when, callback, *args, context=context))

    loop_thread = threading.get_ident()
    names: dict[int, str] = {}  # each waking thread's name, by its native id
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
        rust_start = _rust_side_start()
        undo.callback(tl._take_rust_side, rust_start, time.perf_counter_ns())
        yield tl
