"""Measure your own: any awaitable against chosen baselines, in one call.

::

    from coroscope.bench import compare

    class Mine:                      # any awaitable: a class, a coroutine function, ...
        def __await__(self):
            return iter(())          # finishes at once, like a ready future
    found = compare({"mine": Mine}, baselines=("coroutine", "sleep0"),
                    loops=("asyncio", "uvloop", "rloop"))
    print(found)                     # a line per loop and variant; in Jupyter, a table
    found.ratio("mine", "coroutine", "asyncio")

Each variant is a callable that makes one fresh awaitable (a class, a factory, a
coroutine function); each operation awaits one, inside one task, one after
another. Every variant and baseline runs on each loop with the kit's engine
(``coroscope.bench.run``): in the same process, in interleaved rounds, the best
round kept and the spread of the rounds shown, with the cycle collector's share
of each operation. Nothing of the kit is edited: the result holds the runner's
``Result`` records (``to_json`` writes them as ``python -m coroscope.bench``
does), a ``chart()``, and the ratio of each variant to each baseline measured in
the same run.

What it does not measure: the making of a task or a loop (both made once per
round), and concurrency (one await at a time). ``%atimeit`` (``%load_ext
coroscope``) is this for one await.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import inspect
import json
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from coroscope._loops import LOOPS
from coroscope.awaitable import Ready, ReadySend
from coroscope.bench.groups import Group
from coroscope.bench.run import Result, measure, provenance
from coroscope.bench.workloads import unchecked
from coroscope.bridge import ready_fast, ready_future_into_py

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["BASELINES", "Comparison", "compare"]

Maker = Callable[[], Awaitable[Any]]


async def _trivial() -> None:
    """The trivial coroutine: made by calling it, as a user's coroutine function is."""


async def _done_future() -> None:
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    await future


# The baselines one can ask for: what each is, and how one is made.
BASELINES: dict[str, tuple[str, Maker]] = {
    "coroutine": ("a trivial coroutine (an async def that returns at once)", _trivial),
    "sleep0": ("asyncio.sleep(0): one trip through the loop", lambda: asyncio.sleep(0)),
    "done_future": ("a done asyncio Future, made and awaited", _done_future),
    "ready": ("coroscope's Ready, finished with a StopIteration", lambda: Ready(None)),
    "ready_send": ("coroscope's ReadySend, finished through am_send", lambda: ReadySend(None)),
    "fast": ("a ready Rust future through coroscope's fast bridge", lambda: ready_fast(None)),
    "future_into_py": (
        "a ready Rust future through future_into_py",
        lambda: ready_future_into_py(None),
    ),
}


def _checked(variants: Mapping[str, Maker]) -> dict[str, Maker]:
    """The makers of ``variants``, each seen to make an awaitable and awaited
    once on a loop of asyncio's before anything is timed: a maker may need a
    running loop (``asyncio.create_task``, ``future_into_py``), and one that
    fails does so here, named, not in the middle of a measurement."""
    for name, make in variants.items():
        if not callable(make):
            raise TypeError(
                f"variant {name!r}: expected a callable that makes an awaitable, got {make!r}"
            )

    async def each_once() -> None:
        for name, make in variants.items():
            made = make()
            if not inspect.isawaitable(made):
                raise TypeError(
                    f"variant {name!r}: {make!r}() gave {made!r}, which is not awaitable"
                )
            try:
                await made
            except (Exception, asyncio.CancelledError) as exc:
                exc.add_note(f"(variant {name!r}, awaited once before measuring)")
                raise

    # A runner of a loop factory, as the timing's: `asyncio.run` would leave
    # the caller's thread with no current event loop.
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        runner.run(each_once())
    return dict(variants)


# The most a count (``ops=``, ``awaits=``...) may ask for: ten million awaits
# take minutes timed and most of an hour under Callgrind; more would not end.
MOST = 10_000_000


def _names(what: str, given: object) -> None:
    """``given`` must be a sequence of ``str`` (a lone string is a common slip;
    bytes are a sequence too, of ints)."""
    if isinstance(given, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a sequence of names, not the string {given!r}")
    if not isinstance(given, Sequence):
        raise TypeError(f"{what} must be a sequence of names, not {type(given).__name__}")
    odd = [name for name in given if not isinstance(name, str)]
    if odd:
        raise TypeError(f"{what} must be names (str), not {', '.join(map(repr, odd))}")


def one_loop(loop: object) -> None:
    """``loop`` must name one of ``LOOPS`` (``count_instructions`` counts on one)."""
    if not isinstance(loop, str):
        raise TypeError(f"loop must be a name (str), not {type(loop).__name__}")
    if loop not in LOOPS:
        raise ValueError(f"loop is one of {', '.join(LOOPS)}, not {loop!r}")


def refuse_bad(
    variants: Mapping[str, object], baselines: Sequence[str], loops: Sequence[str], **counts: int
) -> None:
    """Refuse, before anything runs, what cannot be measured (``compare`` and
    ``count_instructions`` ask the same): an unknown baseline or loop, a variant
    named like a baseline, a count (``ops=``, ``rounds=``...) that is not a whole
    number from 1 to ``MOST``, variants that are not a mapping named by strings."""
    if not isinstance(variants, Mapping):
        raise TypeError(f"variants must map names to factories, not {type(variants).__name__}")
    unnamed = [name for name in variants if not isinstance(name, str)]
    if unnamed:
        raise TypeError(f"variant names must be str, not {', '.join(map(repr, unnamed))}")
    _names("baselines", baselines)
    _names("loops", loops)
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise ValueError(
            f"unknown baseline(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(BASELINES)}"
        )
    clash = sorted(set(variants) & set(baselines))
    if clash:
        raise ValueError(f"a variant is named like a baseline: {', '.join(clash)}")
    bad_loops = [loop for loop in loops if loop not in LOOPS]
    if bad_loops or not loops:
        raise ValueError(f"loops are some of {', '.join(LOOPS)}, not {list(loops)!r}")
    for what, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be an int, not {type(value).__name__}")
        if not 1 <= value <= MOST:
            raise ValueError(f"{what} must be from 1 to {MOST:,}, not {value:,}")


# What asyncio.run says in the same place, and what to do instead.
IN_A_RUNNING_LOOP = (
    "compare() cannot be called from a running event loop: it runs loops of its own "
    "(in a notebook cell: `await asyncio.to_thread(compare, ...)`, or %atimeit)"
)


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def compare(
    variants: Mapping[str, Callable[[], Awaitable[Any]]],
    *,
    baselines: Sequence[str] = ("coroutine", "sleep0"),
    loops: Sequence[str] = ("asyncio",),
    ops: int = 10_000,
    rounds: int = 5,
) -> Comparison:
    """Time each of ``variants`` (name: a callable making one awaitable) against
    ``baselines`` (names of :data:`BASELINES`) on each of ``loops`` (``"asyncio"``,
    ``"uvloop"``, ``"rloop"``): ``ops`` awaits a round, ``rounds`` rounds, the best kept."""
    refuse_bad(variants, baselines, loops, ops=ops, rounds=rounds)
    if not variants:
        raise ValueError("compare needs at least one variant")
    if not baselines:
        raise ValueError("compare needs at least one baseline")
    if _loop_running():
        raise RuntimeError(IN_A_RUNNING_LOOP)
    baselines, loops = list(dict.fromkeys(baselines)), list(dict.fromkeys(loops))  # each once
    makers = _checked(variants)
    group = Group(
        "compare",
        "each awaitable made and awaited once per operation, one after another",
        [(b, unchecked(BASELINES[b][1])) for b in baselines]
        + [(name, unchecked(make)) for name, make in makers.items()],
        ops=ops,
        rounds=rounds,
    )
    results = measure([group], False, list(loops), lambda _line: None)
    return Comparison(
        results, tuple(baselines), tuple(makers), rounds, provenance(False, list(loops))
    )


@dataclasses.dataclass(frozen=True, repr=False)
class Comparison:
    """What :func:`compare` measured: the runner's records, and each variant's
    ratio to each baseline, on each loop, from the same run."""

    results: list[Result]
    baselines: tuple[str, ...]
    variants: tuple[str, ...]
    rounds: int
    provenance: dict[str, Any]

    def __repr__(self) -> str:
        loops = ", ".join(dict.fromkeys(r.loop for r in self.results))
        return (
            f"<Comparison of {', '.join(self.variants)} against {', '.join(self.baselines)} "
            f"on {loops}>"
        )

    def result(self, variant: str, loop: str = "asyncio") -> Result:
        for found in self.results:
            if (found.variant, found.loop) == (variant, loop):
                return found
        raise KeyError(f"no {variant!r} on {loop!r}")

    def ratio(self, variant: str, baseline: str, loop: str = "asyncio") -> float:
        """``variant``'s time per await over ``baseline``'s, on ``loop``."""
        return self.result(variant, loop).per_op / self.result(baseline, loop).per_op

    def _rows(self) -> list[tuple[str, str, Result, list[float]]]:
        loops = list(dict.fromkeys(r.loop for r in self.results))
        return [
            (
                loop,
                name,
                self.result(name, loop),
                [self.ratio(name, b, loop) for b in self.baselines],
            )
            for loop in loops
            for name in (*self.baselines, *self.variants)
        ]

    def __str__(self) -> str:
        head = (
            f"{'loop':<8} {'variant':<16} {'ns/await':>10} {'spread':>7} "
            + " ".join(f"{'x ' + b:>14}" for b in self.baselines)
            + f" {'collector':>9}"
        )
        lines = [head]
        for loop, name, found, ratios in self._rows():
            collector = f"{(found.collector or 0) / found.per_op:.0%}"
            lines.append(
                f"{loop:<8} {name:<16} {found.per_op:>10,.1f} {found.spread or 0:>7.0%} "
                + " ".join(f"{r:>13.3g}x" for r in ratios)
                + f" {collector:>9}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        heads = [
            "loop",
            "variant",
            "ns per await",
            "spread",
            *(f"x {b}" for b in self.baselines),
            "collector",
        ]
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(cell)}</td>"
                for cell in (
                    loop,
                    name,
                    f"{found.per_op:,.1f}",
                    f"{found.spread or 0:.0%}",
                    *(f"{r:.3g}x" for r in ratios),
                    f"{(found.collector or 0) / found.per_op:.0%}",
                )
            )
            + "</tr>"
            for loop, name, found, ratios in self._rows()
        )
        caption = "baselines: " + "; ".join(f"{b}: {BASELINES[b][0]}" for b in self.baselines)
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{rows}</table>"

    def as_json(self) -> dict[str, Any]:
        """The runner's results format (``python -m coroscope.bench --report`` reads it)."""
        return {
            "provenance": self.provenance,
            "results": [dataclasses.asdict(r) for r in self.results],
        }

    def to_json(self, path: str | os.PathLike[str]) -> None:
        with open(path, "w", encoding="utf-8") as file:
            json.dump(self.as_json(), file, indent=2)

    def chart(self, title: str = "ratio to the first baseline") -> Figure:
        """Each variant's ratio to the first baseline, one bar per loop (the runner's chart)."""
        from coroscope.bench.chart import figure

        return figure(self.results, title)
