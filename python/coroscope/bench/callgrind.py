"""Count your own: the CPU instructions of one await of your code, under Callgrind.

::

    from coroscope.bench import count_instructions

    found = count_instructions({"mine": "mypkg.awaitables:Mine"}, baselines=("coroutine",))
    print(found)                         # instructions per await, and the ratio
    found.per_await["mine"]

Wall time moves by 10-30 % on a shared machine; the number of instructions a
piece of code executes does not, because Callgrind (valgrind's tool) simulates
the CPU: the same program run twice gives the same count. That is what makes a
bound in CI possible (``coroscope.pytest_plugin``'s ``await_instructions``).

How it counts. Each variant (and baseline) is a callable that makes one fresh
awaitable; it must be importable by a fresh interpreter, so it is named as
``"module:attribute"`` (or given as a function or class defined at the top of
an importable module: in a notebook, ``%%writefile mine.py`` first). A fresh
interpreter under Callgrind makes the loop, awaits each variant a few times
(first-call caches), then awaits each ``awaits`` times, one after another in one
task, calling ``os.getppid()`` between them: Callgrind writes its counts so far
each time ``getppid`` is entered (``--dump-before``), so each variant's awaits
are counted apart from the interpreter's start and exit. A second interpreter
does the same with twice the awaits; the difference, over ``awaits``, is one
await, with the loop's run and the task taken off. ``PYTHONHASHSEED`` is fixed
and the C library's allocator stands in for Python's (``_ENV`` says why), so
the awaits themselves cost the same in every run. What is left moves once per
count, not per await: no two interpreters start quite alike (under Callgrind,
``python -c "import asyncio"`` alone differs by thousands of instructions from
run to run, and Rust's hash maps, PyO3's among them, are seeded at random), so
the first lookups of each variant's awaits miss a cache or probe one more slot:
a few hundred to a couple of thousand instructions. Spread over 10,000
awaits (``awaits``' default: the interpreter's start costs far more than they
do) that is a fraction of an instruction per await; over 1,000 it was 0.1 %.
``repeat`` pairs then agree to about 0.01 %, unless a variant crosses threads
(tokio's wakes interleave differently from run to run); ``agreement`` says how
far apart they are.

Counted: every thread (a bridge's tokio work is in its count, unlike
``make bench-instructions``, which counts the loop's thread). Not counted:
waiting (a thread parked on a lock or in ``epoll`` executes nothing), making the
loop. Callgrind runs the interpreter about 50 times slower: a variant costs
seconds, not milliseconds.
"""

from __future__ import annotations

import dataclasses
import html
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["NO_VALGRIND", "Counts", "count_instructions"]

NO_VALGRIND = (
    "valgrind is not installed: Callgrind, its tool, counts the instructions. "
    "Get it from your system's packages (Debian and Ubuntu: `sudo apt install valgrind`; "
    "Fedora: `sudo dnf install valgrind`); it runs on Linux"
)
# The marker between two variants' awaits: a libc call nothing else on the way makes.
MARKER = "getppid"
# Awaits of each variant before counting: first-call caches, the loop's first run.
WARM_UP = 50


def _spec(name: str, make: str | Callable[..., Any]) -> str:
    """``make`` as ``"module:attribute"``, which a fresh interpreter can import."""
    if isinstance(make, str):
        importable, _, attribute = make.partition(":")
        if importable and attribute:
            return make
        raise ValueError(f"variant {name!r}: name it as 'module:attribute', not {make!r}")
    module, qualname = getattr(make, "__module__", None), getattr(make, "__qualname__", "")
    if not callable(make) or not isinstance(module, str):
        raise TypeError(f"variant {name!r}: expected 'module:attribute' or a function or class")
    if module == "__main__" or "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(
            f"variant {name!r}: {qualname or make!r} cannot be imported by a fresh interpreter "
            f"(defined in {module}); put it in a module (in a notebook: %%writefile mine.py) "
            "and name it as 'module:attribute'"
        )
    return f"{module}:{qualname}"


def count_instructions(
    variants: Mapping[str, str | Callable[..., Any]],
    *,
    baselines: Sequence[str] = ("coroutine",),
    loop: str = "asyncio",
    awaits: int = 10_000,
    repeat: int = 2,
) -> Counts:
    """Instructions per await of each of ``variants`` (name: ``"module:attribute"``
    of a callable making one awaitable, or such a callable) and of each of
    ``baselines`` (names of ``coroscope.bench.BASELINES``) on ``loop``, each
    counted ``repeat`` times (two interpreters each time). Raises ``RuntimeError``
    saying how to get valgrind when it is missing."""
    from coroscope.bench.yours import one_loop, refuse_bad

    one_loop(loop)
    refuse_bad(variants, baselines, (loop,), awaits=awaits, repeat=repeat)
    if not variants and not baselines:
        raise ValueError("count_instructions needs a variant or a baseline")
    specs = {name: _spec(name, make) for name, make in variants.items()}
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError(NO_VALGRIND)
    order = [*baselines, *specs]
    plan = [[name, specs.get(name)] for name in order]
    # A fresh interpreter finds and awaits each variant once first, without
    # Callgrind (a second): a misspelt name, or one that names no awaitable
    # maker, fails now, not after seconds of counting.
    found = subprocess.run(
        _python(plan, loop, 0, 0),
        env=_ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        last = (found.stderr.strip().splitlines() or ["(no error printed)"])[-1]
        raise ValueError(f"a fresh interpreter cannot load or await the variants: {last}")
    runs: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(repeat):
        once, twice = (_counted(valgrind, plan, loop, awaits, times) for times in (1, 2))
        for name, one, two in zip(order, once, twice, strict=True):
            runs[name].append((two - one) / awaits)
    return Counts(loop, awaits, tuple(baselines), tuple(specs), runs)


def _counted(valgrind: str, plan: list[list[Any]], loop: str, awaits: int, times: int) -> list[int]:
    """One interpreter under Callgrind: each variant's instructions for
    ``awaits * times`` awaits, in ``plan``'s order."""
    with tempfile.TemporaryDirectory(prefix="coroscope-callgrind-") as out:
        prefix = pathlib.Path(out) / "counts"
        done = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--callgrind-out-file={prefix}",
                f"--dump-before={MARKER}",
                *_python(plan, loop, awaits, times),
            ],
            env=_ENV,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
            raise RuntimeError(f"the counted interpreter failed (exit {done.returncode}):\n{tail}")
        # Dump 1 is the start and the warm-up; 2.. each variant's awaits, in order.
        return [_total(pathlib.Path(f"{prefix}.{i + 2}")) for i in range(len(plan))]


# The same program each time: the same hash seed (and in `_python`, N and 2N
# awaits differ only in `times`, one digit: arguments of the same length); no
# bytecode written, so no counted interpreter leaves a file the next one reads.
# And the C library's allocator, not Python's own (pymalloc): with pymalloc one
# await cost 10 to 25 instructions more or less depending on whether the pools
# of its objects' sizes happened to sit at a boundary (full, or about to empty)
# when the awaits began: a lottery drawn by all the interpreter did before, so
# one more file beside the user's module moved a count by 0.7 %. glibc's
# per-thread cache has no such boundary on an alloc-free pair: the same count
# every run, some 10 % above pymalloc's.
_ENV = {
    **os.environ,
    "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONMALLOC": "malloc",
}


def _python(plan: list[list[Any]], loop: str, awaits: int, times: int) -> list[str]:
    """The command of a fresh interpreter running :func:`_child` on this job
    (``awaits=0``: it only tries the variants)."""
    # This interpreter's import path goes along: the variants were found on it.
    job = {"plan": plan, "loop": loop, "awaits": awaits, "times": times, "path": sys.path}
    # `-c`, not `-m`: this module is no command (it would be imported twice, and runpy warns).
    run = f"import json, sys; from {__name__} import _child; _child(json.loads(sys.argv[1]))"
    return [sys.executable, "-c", run, json.dumps(job)]


def _resolve(spec: str) -> Any:
    """The callable ``"module:attribute"`` names."""
    import importlib

    module, _, attribute = spec.partition(":")
    found: Any = importlib.import_module(module)
    for part in attribute.split("."):
        found = getattr(found, part)
    return found


def _total(dump: pathlib.Path) -> int:
    found = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
    if found is None:
        raise RuntimeError(f"no instruction count in Callgrind's {dump.name}")
    return int(found[1])


def _child(job: dict[str, Any]) -> None:
    """What runs under Callgrind, in the fresh interpreter :func:`_python` starts."""
    from coroscope._loops import LOOPS
    from coroscope.bench.workloads import unchecked
    from coroscope.bench.yours import BASELINES

    # The user's own modules, as in their session: the working directory,
    # then this interpreter's import path.
    sys.path[:0] = [os.getcwd(), *(entry for entry in job["path"] if entry not in sys.path)]
    makers = [BASELINES[name][1] if spec is None else _resolve(spec) for name, spec in job["plan"]]
    loop = LOOPS[job["loop"]]()
    try:
        for make in makers:
            loop.run_until_complete(unchecked(make)(WARM_UP if job["awaits"] else 1))
        if not job["awaits"]:  # only trying them: each was found and awaited once
            return
        n = job["awaits"] * job["times"]
        for make in makers:
            os.getppid()  # the marker: Callgrind writes what was counted before it
            loop.run_until_complete(unchecked(make)(n))
        os.getppid()
    finally:
        loop.close()


@dataclasses.dataclass(frozen=True, repr=False)
class Counts:
    """What :func:`count_instructions` counted: per name, one value per repeat."""

    loop: str
    awaits: int
    baselines: tuple[str, ...]
    variants: tuple[str, ...]
    runs: dict[str, list[float]]

    @property
    def per_await(self) -> dict[str, float]:
        """Instructions per await, by name (the first repeat's: they agree)."""
        return {name: values[0] for name, values in self.runs.items()}

    @property
    def agreement(self) -> float:
        """How far apart the repeats are, at most, as a fraction (0.0: to the
        instruction)."""
        return max((max(v) - min(v)) / min(v) if min(v) > 0 else 0.0 for v in self.runs.values())

    def ratio(self, variant: str, baseline: str) -> float:
        """``variant``'s instructions per await over ``baseline``'s."""
        return self.per_await[variant] / self.per_await[baseline]

    def _rows(self) -> list[tuple[str, str, list[str]]]:
        return [
            (
                name,
                f"{self.per_await[name]:,.0f}",
                [f"{self.ratio(name, b):.3g}x" for b in self.baselines],
            )
            for name in (*self.baselines, *self.variants)
        ]

    def __repr__(self) -> str:
        return f"<Counts of {', '.join(self.runs)} on {self.loop}>"

    def __str__(self) -> str:
        lines = [
            f"instructions per await on {self.loop} (Callgrind, {self.awaits:,} awaits; "
            f"repeats {self.agreement:.2%} apart)",
            f"{'variant':<16} {'instructions':>13} "
            + " ".join(f"{'x ' + b:>14}" for b in self.baselines),
        ]
        lines += [
            f"{name:<16} {count:>13} " + " ".join(f"{r:>14}" for r in ratios)
            for name, count, ratios in self._rows()
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        heads = ["variant", "instructions per await", *(f"x {b}" for b in self.baselines)]
        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in (name, count, *ratios)) + "</tr>"
            for name, count, ratios in self._rows()
        )
        caption = (
            f"on {self.loop}, counted by Callgrind ({self.awaits:,} awaits; repeats "
            f"{self.agreement:.2%} apart)"
        )
        head = "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        return f"<table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{rows}</table>"
