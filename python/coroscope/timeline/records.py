"""What a recording holds: a task's step, an event of the Rust side, and what a
view needs of a timeline (the views and the trace file read these, and nothing
of how they were recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["LoopHop", "Recorded", "RustEvent", "Step"]


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
    # The Rust wake that caused it (``RustEvent.flow``), if the Rust side told.
    flow: int | None = None
    # How many loop callbacks it took, this step's own included, from whoever
    # scheduled the first (0 when the loop cannot tell: see ``woken_by``).
    hops: int = 0

    @property
    def duration_ns(self) -> int:
        """How long the step ran, in nanoseconds."""
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class RustEvent:
    """What the Rust side did on one of its threads (``src/support/rust_side.rs``),
    in the steps' clock: a ``"poll"`` of a future the kit spawned on tokio, a
    ``"gil wait"`` (the thread asked to attach at ``start_ns`` and was attached at
    ``end_ns``), or a ``"wake"`` (an instant). A wake's ``flow`` is carried to the
    step it caused (``Step.flow``); so is a poll's, when a waker that is not the
    kit's (PyO3's ``async fn``) is called in it."""

    thread: str
    kind: str
    what: str
    start_ns: int
    end_ns: int
    flow: int | None = None

    @property
    def duration_ns(self) -> int:
        """How long it took, in nanoseconds (0 for a wake)."""
        return self.end_ns - self.start_ns


@dataclass(frozen=True)
class LoopHop:
    """A callback the loop ran, on its own thread, on a Rust wake's way to the
    step it caused: ``future_into_py``'s result comes back by
    ``call_soon_threadsafe`` as a callback that sets the asyncio future's
    result (``hop`` 1), and the future's done callbacks run one hop later, the
    awaiting task's step among them (pyo3-async-runtimes adds one of its own).
    The fast bridge has none: its drain runs the step itself. Recorded where the
    loop's callbacks can be followed (asyncio's loop, not uvloop's)."""

    what: str
    hop: int
    start_ns: int
    end_ns: int
    flow: int

    @property
    def duration_ns(self) -> int:
        """How long the callback ran, in nanoseconds."""
        return self.end_ns - self.start_ns


class Recorded(Protocol):
    """A timeline as the views read it (``Timeline`` is one)."""

    @property
    def steps(self) -> list[Step]: ...

    @property
    def rust_side(self) -> list[RustEvent]: ...

    @property
    def loop_hops(self) -> list[LoopHop]: ...

    def tasks(self) -> list[str]: ...
