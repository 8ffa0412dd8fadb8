"""How long tokio's threads wait for the GIL, bridge by bridge, while the loop is busy.

A bridge that hands a wake back to asyncio from a tokio thread by calling
``loop.call_soon_threadsafe`` must attach to the interpreter first; while the
loop's thread runs Python code, that thread waits. The wait costs nothing on
the loop's side, but it holds a tokio worker (or a blocking-pool thread) that
other Rust work could use, and on a busy loop it grows to the length of a
switch interval (5 ms) or of a step. This measures it where it happens, with
the timeline's recording of the Rust side (``src/support/rust_side.rs``):

    python -m coroscope.bench.gil_waits [--wakes N] [--busy-us U] [--loops asyncio,uvloop]

For each bridge, ``wakes`` tasks each await a wait on tokio's timer (a PyBurger
value meal, or a sleep where the bridge serves no order) and, once woken, keep
the loop's thread busy for ``busy_us`` microseconds of Python. The ``i``-th wait
ends after ``i`` busy periods, so the wakes land one by one while the loop is
busy. Each row is
the distribution of the waits recorded, and what each wake cost tokio's
threads in all (polls and waits). What is not seen: PyO3's own ``async fn``
waker attaches inside PyO3, out of the kit's reach, so its waits are not
recorded (its row says so); the fast bridge never attaches (its row has none).

``python -m coroscope.bench`` runs it too, on the same loops, and keeps the
distributions in its results file (``gil_waits``), which BENCHMARKS.md reads.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coroscope._cli import count_up_to, run_main
from coroscope.catalogue import BRIDGES, Crossing, crossings
from coroscope.timeline import record

# PyO3's waker attaches inside PyO3: the kit cannot time it.
UNSEEN = {"async_fn": "not seen: PyO3's waker attaches inside PyO3"}


@dataclass(frozen=True)
class Waits:
    """One bridge's waits for the GIL on tokio's side, in microseconds."""

    bridge: str
    wakes: int
    waits: tuple[float, ...]  # sorted
    worker_us_per_wake: float  # polls and waits on tokio's threads, per wake

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (0-100) of the waits: nearest rank."""
        rank = max(0, min(len(self.waits) - 1, round(p / 100 * len(self.waits)) - 1))
        return self.waits[rank]

    def row(self) -> str:
        head = f"{self.bridge:<15} {self.wakes:>6,} {len(self.waits):>6,}"
        if not self.waits:
            return f"{head}  {UNSEEN.get(self.bridge, 'none: no thread of the kit attached'):<44}"
        shown = " ".join(f"{_us(self.percentile(p)):>8}" for p in PERCENTILES)
        return f"{head}  {shown} {_us(self.waits[-1]):>8}  {_us(self.worker_us_per_wake):>8}"

    def as_json(self, loop: str) -> dict[str, Any]:
        """The row a results file keeps: the distribution, not every wait."""
        return {
            "loop": loop,
            "bridge": self.bridge,
            "wakes": self.wakes,
            "waits": len(self.waits),
            **{f"p{p}_us": self.percentile(p) if self.waits else None for p in PERCENTILES},
            "max_us": self.waits[-1] if self.waits else None,
            "worker_us_per_wake": self.worker_us_per_wake,
        }


PERCENTILES = (50, 90, 99)
# How to read the rows (BENCHMARKS.md says it under them).
READING = (
    "future_into_py hands each result back from tokio's blocking pool, a thread per "
    "pending result, each waiting for the GIL: on a busy loop they queue behind each other "
    "and behind the loop's steps (the tail). The classic awaitable attaches once per wake, "
    "from the worker that woke it. The fast bridge writes a byte to the loop's socket and "
    "never attaches; PyO3's async fn attaches inside PyO3's waker, which the kit cannot "
    "time. tokio µs per wake is all the time tokio's threads spent on a wake, polls and "
    "waits: what the bridge takes from other Rust work."
)
# Wakes per bridge and loop (a --quick run of ``python -m coroscope.bench``: a tenth).
WAKES = 2_000
# A bridge's run is about wakes x busy µs long (the i-th wake waits i busy
# periods): each flag within its bound, their product could still be days.
MOST_BUSY_SECONDS = 600


HEADER = (
    f"{'bridge':<15} {'wakes':>6} {'waits':>6}  {'p50 µs':>8} {'p90 µs':>8} {'p99 µs':>8} "
    f"{'max µs':>8}  {'tokio µs/wake':>8}"
)


def _us(value: float) -> str:
    """Three significant digits, with no exponent: 0.0412, 8.3, 8,290."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def waiting_crossings() -> list[Crossing]:
    """Each bridge's crossing that waits on a tokio timer: its PyBurger order
    (timed cooking), or its sleep where it has no order."""
    return [
        found[0]
        for bridge in BRIDGES
        if (found := crossings("order", bridge.name) or crossings("sleep", bridge.name))
    ]


def busy(us: float) -> None:
    """Keep this thread running Python for ``us`` microseconds (the GIL held)."""
    until = time.perf_counter() + us / 1e6
    while time.perf_counter() < until:
        pass


async def measure(way: Crossing, wakes: int, busy_us: float) -> Waits:
    """On the running loop: ``wakes`` tasks each awaiting one ``way`` (the
    ``i``-th ready after ``i`` busy periods) and then busy for ``busy_us``."""

    async def one(i: int) -> None:
        await way(None, i * busy_us / 1e6)
        busy(busy_us)

    async with record() as tl:
        await asyncio.gather(*(one(i) for i in range(wakes)))
    waits = sorted(e.duration_ns / 1e3 for e in tl.rust_side if e.kind == "gil wait")
    worker = sum(e.duration_ns for e in tl.rust_side) / 1e3
    return Waits(way.bridge.name, wakes, tuple(waits), worker / wakes)


def trial(
    way: Crossing, wakes: int, busy_us: float, loop_factory: Callable[[], asyncio.AbstractEventLoop]
) -> Waits:
    """:func:`measure` on a loop of its own, made by ``loop_factory``."""
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(measure(way, wakes, busy_us))


def run(loops: list[str], wakes: int, busy_us: float = 100) -> dict[str, Any]:
    """Every bridge on every loop, as the results file keeps it."""
    from coroscope._loops import LOOPS

    rows = [
        trial(way, wakes, busy_us, LOOPS[loop]).as_json(loop)
        for loop in loops
        for way in waiting_crossings()
    ]
    return {"busy_us": busy_us, "rows": rows}


def markdown(kept: dict[str, Any]) -> list[str]:
    """BENCHMARKS.md's section for what :func:`run` kept."""

    def us(value: float | None) -> str:
        return "" if value is None else _us(value)

    out = [
        "## gil_waits",
        "",
        f"How long tokio's threads waited for the GIL to hand a wake back, each task busy "
        f"{kept['busy_us']:g} µs of Python once woken (`python -m coroscope.bench.gil_waits`: "
        "its doc says how the wakes are made to land on a busy loop).",
        "",
        "| loop | bridge | wakes | waits recorded | p50 µs | p90 µs | p99 µs | max µs "
        "| tokio µs per wake |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in kept["rows"]:
        if row["waits"]:
            shown = " | ".join(us(row[f"p{p}_us"]) for p in PERCENTILES)
            shown += f" | {us(row['max_us'])}"
        else:
            why = UNSEEN.get(row["bridge"], "none: no thread of the kit attached")
            shown = f"{why} | | | "
        out.append(
            f"| {row['loop']} | {row['bridge']} | {row['wakes']:,} | {row['waits']:,} | {shown} "
            f"| {us(row['worker_us_per_wake'])} |"
        )
    return [*out, "", f"What it teaches: {READING}"]


def table(rows: list[Waits], busy_us: float, loop: str) -> str:
    title = f"waits for the GIL on tokio's side, on {loop}, each task then busy {busy_us:g} µs"
    return "\n".join([title, HEADER, *(row.row() for row in rows)])


def main(argv: list[str] | None = None) -> int:
    from coroscope._loops import LOOPS
    from coroscope.bench.cli import chosen_loops

    parser = argparse.ArgumentParser(
        prog="python -m coroscope.bench.gil_waits", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--wakes",
        type=count_up_to(1_000_000),
        default=WAKES,
        help=f"wakes per bridge (default {WAKES:,})",
    )
    parser.add_argument(
        "--busy-us",
        type=count_up_to(1_000_000),
        default=100,
        help="µs of Python after each wake (default 100)",
    )
    parser.add_argument(
        "--loops",
        help="comma-separated loops (default: asyncio,uvloop; asyncio alone without uvloop)",
    )
    args = parser.parse_args(argv)
    if (busy := args.wakes * args.busy_us / 1e6) > MOST_BUSY_SECONDS:
        parser.error(
            f"--wakes x --busy-us: at most {MOST_BUSY_SECONDS:,} s of busy Python per bridge, "
            f"not {busy:,.0f} s"
        )
    for loop in chosen_loops(parser, args.loops):
        rows = [trial(way, args.wakes, args.busy_us, LOOPS[loop]) for way in waiting_crossings()]
        print(table(rows, args.busy_us, loop), end="\n\n")
    return 0


if __name__ == "__main__":
    run_main("python -m coroscope.bench.gil_waits", main)
