"""``%atimeit`` and ``%%atimeit``: ``%timeit`` for an ``await``, on a real event loop.

After ``%load_ext coroscope`` (in Jupyter or IPython's terminal)::

    %atimeit await fetch(1)                  # one await, against a trivial coroutine
    %atimeit -l asyncio,uvloop -b sleep0 await fetch(1)
    %%atimeit -n 10000 -r 5
    x = await first()
    await second(x)

IPython's ``%timeit`` cannot time an ``await``: its statement runs in a plain
function, with no loop to wait on. Here the statement becomes the body of an
``async def`` in the notebook's namespace (names it reads are the notebook's, names
it assigns its own), and :func:`coroscope.bench.compare` measures it with the kit's
engine: ``-n`` awaits a round (by default as many as fill about 0.2 s, as
``%timeit`` chooses), the best of ``-r`` rounds (default 5), on each loop of ``-l``
(default asyncio), against the baseline ``-b`` (default ``coroutine``: a trivial
``async def``, so the ratio is what the statement costs beyond calling and awaiting
a coroutine; any name of ``coroscope.bench.BASELINES``), measured in the same run.
Each loop runs in a thread of its own: the notebook's own loop is busy running the
cell. One line per loop; ``-o`` returns the ``Comparison`` too.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import shlex
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from coroscope.bench.yours import BASELINES, Comparison, compare, refuse_bad

# How long one round should take when -n is not given (what %timeit aims at).
ROUND_SECONDS = 0.2
FEWEST, MOST = 100, 1_000_000


def body(code: str, namespace: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
    """``code`` as the body of an ``async def`` whose globals are ``namespace``."""
    source = "async def __coroscope_atimeit__():\n" + textwrap.indent(textwrap.dedent(code), "    ")
    made: dict[str, Any] = {}
    exec(compile(source + "\n", "<atimeit>", "exec"), namespace, made)
    return made["__coroscope_atimeit__"]  # type: ignore[no-any-return]


def fill(once: Callable[[], Awaitable[Any]]) -> int:
    """How many awaits of ``once()`` fill about :data:`ROUND_SECONDS`."""

    async def timed(n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await once()
        return time.perf_counter() - start

    n = FEWEST
    while n < MOST:
        took = asyncio.run(timed(n))
        if took >= ROUND_SECONDS / 10:
            return int(min(MOST, max(FEWEST, n * ROUND_SECONDS / took)))
        n *= 10
    return MOST


def line(found: Comparison, baseline: str, loop: str) -> str:
    """One loop's result in words: the time per await, its spread, the ratio."""
    mine = found.result("yours", loop)
    ratio = found.ratio("yours", baseline, loop)
    collector = (mine.collector or 0) / mine.per_op
    return (
        f"{_duration(mine.per_op)} per await ± {mine.spread or 0:.0%} on {loop} "
        f"({ratio:.3g}x {BASELINES[baseline][0]}; best of {found.rounds} rounds of "
        f"{mine.ops:,} awaits; the cycle collector {collector:.0%} of it)"
    )


def _duration(ns: float) -> str:
    for unit, size in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= size:
            return f"{ns / size:.3g} {unit}"
    return f"{ns:.3g} ns"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="%atimeit", add_help=False, exit_on_error=False)
    parser.add_argument("-n", type=int, default=None, help="awaits a round")
    parser.add_argument("-r", type=int, default=5, help="rounds, the best kept")
    parser.add_argument("-l", default="asyncio", help="comma-separated loops")
    parser.add_argument("-b", default="coroutine", help="the baseline")
    parser.add_argument("-o", action="store_true", help="return the Comparison")
    return parser


@magics_class
class AwaitMagics(Magics):
    """``%atimeit`` / ``%%atimeit`` (see the module's doc)."""

    @line_cell_magic
    def atimeit(self, line_text: str, cell: str | None = None) -> Comparison | None:
        """%timeit for an await: see ``coroscope.magics``."""
        try:
            tokens = shlex.split(line_text, posix=False)
            args, statement = _parser().parse_known_args(tokens)
        except (argparse.ArgumentError, ValueError) as error:
            raise UsageError(f"%atimeit: {error}") from None
        start = _statement_start(line_text, tokens, statement)
        code = cell if cell is not None else line_text[start:]
        if not code.strip():
            raise UsageError("%atimeit needs a statement to await, such as: %atimeit await f()")
        once = body(code, self.shell.user_ns)  # type: ignore[union-attr]
        loops = [name for name in args.l.split(",") if name]
        try:  # the options, checked before anything runs
            refuse_bad({"yours": once}, (args.b,), loops, ops=args.n or 1, rounds=args.r)
        except (TypeError, ValueError) as error:
            raise UsageError(f"%atimeit: {error}") from None
        # What the statement raises is the user's, traceback and all, as %timeit's.
        found = _in_a_thread(
            lambda: compare(
                {"yours": once},
                baselines=(args.b,),
                loops=loops,
                ops=args.n if args.n is not None else fill(once),
                rounds=args.r,
            )
        )
        for loop in loops:
            print(line(found, args.b, loop))
        return found if args.o else None


def _in_a_thread(measure: Callable[[], Comparison]) -> Comparison:
    """``measure()`` in a thread of its own (the notebook's loop is busy
    running the cell), its exception raised here. Ctrl-C here interrupts it
    at once: the thread is handed the ``KeyboardInterrupt`` at its next Python
    instruction (it would otherwise finish every round first)."""
    done: list[Comparison] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(measure())
        except BaseException as exc:  # handed over, whatever it is
            failed.append(exc)

    thread = threading.Thread(target=run, name="atimeit", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.05)
    except KeyboardInterrupt:
        if thread.ident is not None:
            # A documented C API call: the exception is raised in that thread
            # when it next runs Python code (Rust code it is in finishes first).
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
            )
        thread.join()
        raise
    if failed:
        raise failed[0]
    return done[0]


def _statement_start(line_text: str, tokens: list[str], statement: list[str]) -> int:
    """Where the statement begins in the magic's line: its options come first
    (the tokens before the statement's, passed over one by one: the
    statement's first word may also be in an option's value, as ``r`` in
    ``-r 2 r = await f()``), and the rest is kept as written."""
    at = 0
    for token in tokens[: len(tokens) - len(statement)]:
        at = line_text.find(token, at) + len(token)
    return line_text.find(statement[0], at) if statement else len(line_text)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext coroscope``: register ``%atimeit`` and ``%%atimeit``."""
    ipython.register_magics(AwaitMagics)
