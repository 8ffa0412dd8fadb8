"""``python -m coroscope.soak``: every trial at full size, one table at the end."""

from __future__ import annotations

import argparse
import sys

from coroscope._cli import count_up_to
from coroscope.soak.judging import Row
from coroscope.soak.mechanisms import MECHANISMS, STORM
from coroscope.soak.trials import doorbells, leak, loops_woken_from_tokio, storm


def _bytes(n: int) -> str:
    sign = "+" if n >= 0 else "-"
    n = abs(n)
    for unit in ("B", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{sign}{n:,.0f} {unit}" if unit == "B" else f"{sign}{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def table(rows: list[Row]) -> str:
    """The summary table, as Markdown (it reads as plain text too)."""
    header = (
        "| trial | awaits | Python heap | C heap | RSS | refcounts | Rust futures "
        "| wakeups lost | loop reports | seconds | verdict |"
    )
    lines = [header, "|" + "---|" * header.count(" | ") + "---|"]
    for row in rows:
        futures = (
            f"{row.dropped:,} dropped, {row.left_alive} left"
            if row.dropped is not None
            else f"{row.left_alive} left"
        )
        lost = "-" if row.lost is None else f"{row.lost:,}"
        verdict = "ok" if not row.problems() else "FAIL"
        memory = [_bytes(n) for n in (row.python_growth, row.c_growth, row.rss_growth)]
        if not row.memory_judged:
            memory = [f"({cell})" for cell in memory]
        lines.append(
            f"| {row.trial} | {row.awaits:,} | {' | '.join(memory)} | {row.refs_moved:+d} "
            f"| {futures} | {lost} | {len(row.reports)} | {row.seconds:.1f} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coroscope.soak",
        description="Reliability under load: every mechanism awaited a million times "
        "(leaks), storms of cancelled tasks, threads waking loops (lost wakeups); one "
        "table at the end (the README quotes it). About 40 minutes at full size.",
        epilog="A row passes when memory grows by less than a byte per await past a fixed "
        "allowance, refcounts come back, no Rust future is left alive, the loop reported "
        "nothing and no wakeup was lost. `make soak` also runs the exit trials "
        "(python -m coroscope.exits). tests/test_reliability.py runs the same trials small.",
    )
    # Bounds at ten times the full size, a hundred for threads: more never ends
    # (awaits, wakes) or holds more than memory (tasks, threads) before it says so.
    parser.add_argument(
        "--awaits",
        type=count_up_to(10_000_000),
        default=1_000_000,
        help="awaits per mechanism (leak)",
    )
    parser.add_argument(
        "--tasks", type=count_up_to(1_000_000), default=100_000, help="tasks per storm"
    )
    parser.add_argument(
        "--threads", type=count_up_to(800), default=8, help="threads per thread trial"
    )
    parser.add_argument(
        "--wakes", type=count_up_to(1_000_000), default=100_000, help="wakes per thread"
    )
    args = parser.parse_args(argv)

    rows: list[Row] = []

    def record(row: Row) -> None:
        rows.append(row)
        print(f"[{len(rows):2d}] {row.trial}: {row.seconds:.1f} s", file=sys.stderr, flush=True)
        for problem in row.problems():
            print(f"     {problem}", file=sys.stderr, flush=True)

    for mechanism in MECHANISMS:
        record(leak(mechanism, args.awaits))
    for name in STORM:
        record(storm(name, args.tasks))
    for fast in (False, True):
        for paced in (False, True):
            record(doorbells(args.threads, args.wakes, fast=fast, paced=paced))
        record(loops_woken_from_tokio(args.threads, args.wakes, fast=fast))

    print(table(rows))
    failed = [row for row in rows if row.problems()]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} trials ok"
        + (f"; {len(failed)} FAILED" if failed else "")
    )
    return 1 if failed else 0
