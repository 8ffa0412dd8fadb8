"""How a trial is judged: snapshots before and after (memory, refcounts, Rust
futures alive), what the loop reported, and the allowances a row passes within."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from coroscope import alive, quiesce
from coroscope._memory import c_heap_bytes, python_bytes, rss_bytes
from coroscope._settle import SETTLE_SECONDS

# Allowances past which growth is a leak: what caches, free lists and tokio's
# slabs may still take after the warm-up, whatever the number of awaits.
# (Seen: tokio's queues and glibc's per-thread arenas settle near 1 MiB after
# a few hundred thousand future_into_py calls, whatever came before.)
PYTHON_SLACK = 64 * 1024
C_SLACK = 2 * 1024 * 1024
RSS_SLACK = 8 * 1024 * 1024
# Bytes per await that still count as flat (a leaked object is at least 16).
PER_AWAIT = 1.0
# References that may sit elsewhere at the moment of reading, whatever the
# number of awaits (a free list, a cache): a reference leaked per await, or per
# batch of 1,000, moves by thousands. Both readings are taken with tokio idle
# (``quiet``), so nothing in flight is counted.
REFS_SLACK = 16


@dataclass
class Row:
    """One line of the summary table."""

    trial: str
    awaits: int
    python_growth: int = 0
    c_growth: int = 0
    rss_growth: int = 0
    refs_moved: int = 0  # refcount change of the watched objects
    left_alive: int = 0  # Rust futures still alive at the end
    dropped: int | None = None  # storms: Rust futures dropped by the cancellation
    lost: int | None = None  # thread trials: wakeups that never arrived
    reports: list[str] = field(default_factory=list)  # what the loop reported
    seconds: float = 0.0
    memory_judged: bool = True  # storms: shown, not judged (see the module doc)

    def memory_past_allowance(self) -> list[str]:
        """The memory columns that grew past their allowance (when judged)."""
        found = []
        for name, growth, slack in (
            ("Python heap", self.python_growth, PYTHON_SLACK),
            ("C heap", self.c_growth, C_SLACK),
            ("RSS", self.rss_growth, RSS_SLACK),
        ):
            if self.memory_judged and growth > slack + PER_AWAIT * self.awaits:
                found.append(f"{name} grew {growth:,} bytes over {self.awaits:,} awaits")
        return found

    def problems(self) -> list[str]:
        """Why this row fails; empty when it passes."""
        found = self.memory_past_allowance()
        if self.refs_moved > REFS_SLACK:
            found.append(f"refcounts moved by {self.refs_moved}")
        if self.left_alive:
            found.append(f"{self.left_alive} Rust futures left alive")
        if self.lost:
            found.append(f"{self.lost} wakeups lost")
        found.extend(f"the loop reported: {report}" for report in self.reports)
        return found


class Watch:
    """Snapshots before and after a trial; fills a row with the differences."""

    def __init__(self, row: Row, watched: tuple[object, ...]) -> None:
        self.row, self.watched = row, watched
        # The baseline, like the final reading, is taken with tokio idle: what
        # the warm-up left in flight must not count as "before".
        quiet(row)
        self.alive = alive()
        gc.collect()
        self.refs = self._refcounts()
        self.python, self.c, self.rss = python_bytes(), c_heap_bytes(), rss_bytes()
        self.start = time.perf_counter()

    def _refcounts(self) -> list[int]:
        # Taken the same way both times, so the references the reading itself
        # holds cancel out.
        return [sys.getrefcount(obj) for obj in self.watched]

    def finish(self) -> None:
        row = self.row
        row.seconds = time.perf_counter() - self.start
        quiet(row)
        gc.collect()
        row.left_alive = max(0, alive() - self.alive)
        row.refs_moved = sum(
            abs(after - before) for after, before in zip(self._refcounts(), self.refs, strict=True)
        )
        row.python_growth = python_bytes() - self.python
        row.c_growth = c_heap_bytes() - self.c
        row.rss_growth = rss_bytes() - self.rss


def quiet(row: Row) -> None:
    """Wait until tokio has nothing of the kit's in flight (``quiesce``): the
    point after which every reference a Rust future or a pyo3-async-runtimes
    completion held has been let go. Polling refcounts instead would be a guess:
    a cancelled ``future_into_py`` future is still held (with its loop) by a
    blocking closure queued on tokio after its Rust future is gone, and the
    decrefs a tokio thread makes without the GIL wait for the next call into Rust."""
    if not quiesce(SETTLE_SECONDS):
        row.reports.append(f"tokio still busy after {SETTLE_SECONDS:g} s")


@contextmanager
def tracing() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def reporting(loop: asyncio.AbstractEventLoop, reports: list[str]) -> None:
    """Route everything the loop reports into ``reports`` instead of stderr."""
    loop.set_exception_handler(lambda _loop, context: reports.append(context["message"]))


def judged(row: Row, watched: tuple[object, ...], trial: Callable[[], int]) -> int:
    """Run ``trial`` under a ``Watch`` that fills ``row``; returns what it returns.

    A leak grows again in a second run; a pool, free list or arena that one
    burst enlarged does not (seen: the Python heap up 130 KiB once in a few
    dozen 10,000-await runs of sleep_awaitable, where a tokio tick wakes a
    thousand sleeps at once; and on 3.10 in most runs of eight fresh loops in
    eight fresh threads, as plain ``asyncio.sleep`` does there too). So a
    growth past the allowance counts only if it recurs: the second run is judged.
    """
    watch = Watch(row, watched)
    outcome = trial()
    watch.finish()
    if row.memory_past_allowance():
        watch = Watch(row, watched)
        outcome = trial()
        watch.finish()
    return outcome
