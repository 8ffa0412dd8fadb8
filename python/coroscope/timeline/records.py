"""What a recording holds: a task's step, an event of the Rust side, and what a
view needs of a timeline (the views and the trace file read these, and nothing
of how they were recorded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Recorded", "RustEvent", "Step"]


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


class Recorded(Protocol):
    """A timeline as the views read it (``Timeline`` is one)."""

    @property
    def steps(self) -> list[Step]: ...

    @property
    def rust_side(self) -> list[RustEvent]: ...

    def tasks(self) -> list[str]: ...
