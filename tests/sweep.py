"""The adversarial sweep's engine: a mistake made against the kit must end as the
same mistake made against asyncio or CPython ends (the same exception type, or
both fine), never in a crash, a hang or a wrong answer.

Each ``test_sweep_<family>.py`` lists its mistakes as :class:`Mistake` rows
(made in this process: plain argument checks), :class:`Refused` rows (the same,
where the reference is the exception itself: a wrong type or a bad number for a
name asyncio has no twin of), or :class:`Isolated` rows (made in a fresh
interpreter with a time limit: double awaits, reuse, closed loops and threads,
where a hang or a crash is possible and must fail the test, not end pytest).
"""

from __future__ import annotations

import asyncio
import inspect
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from tests.conftest import run_python

# What an isolated run prints last: the outcome, as a type name or "ok".
OUTCOME = "outcome:"


def outcome(call: Callable[[], object]) -> str:
    """``call()``'s end: the name of what it raised, or ``"ok"``. An awaitable it
    returns is awaited on a fresh loop (so a mistake that shows only when awaited
    counts), and anything it leaves unawaited is closed."""
    try:
        result = call()
        if inspect.isawaitable(result):
            result = _await(result)
    except BaseException as err:
        return type(err).__name__
    return "ok"


def _await(awaitable: object) -> object:
    async def main() -> object:
        return await asyncio.wait_for(awaitable, 10)  # type: ignore[arg-type]

    return asyncio.run(main())


@dataclass(frozen=True)
class Mistake:
    """The same mistake made twice: against the kit (``ours``), and against
    asyncio or CPython (``theirs``)."""

    what: str
    ours: Callable[[], object]
    theirs: Callable[[], object]

    def check(self) -> None:
        assert outcome(self.ours) == outcome(self.theirs), self.what


@dataclass(frozen=True)
class Refused:
    """A mistake whose reference is an exception, not a call: it must raise
    exactly ``error`` (not a subclass standing in for it), with a message
    matching ``says`` (a regular expression) that names what was wrong."""

    what: str
    ours: Callable[[], object]
    error: type[BaseException]
    says: str

    def check(self) -> None:
        try:
            self.ours()
        except BaseException as err:
            assert type(err) is self.error, f"{self.what}: {type(err).__name__}: {err}"
            assert re.search(self.says, str(err)), f"{self.what}: {err}"
        else:
            raise AssertionError(f"{self.what}: nothing raised")


@dataclass(frozen=True)
class Isolated:
    """A mistake run in fresh interpreters: ``ours`` and ``theirs`` are the bodies
    of ``async def main()``, whose outcome is what it raised (a type name) or
    the ``repr`` of what it returned. ``main`` gets ``limit`` seconds on the loop
    (a hang ends as ``TimeoutError``), the interpreter ``timeout`` in all."""

    what: str
    ours: str
    theirs: str
    limit: float = 20.0
    timeout: float = 60.0

    def _run(self, body: str) -> str:
        source = "\n".join(
            [
                "import asyncio, threading",
                "from coroscope.catalogue import crossing",
                "async def main():",
                textwrap.indent(textwrap.dedent(body).strip(), "    "),
                "try:",
                f"    result = repr(asyncio.run(asyncio.wait_for(main(), {self.limit})))",
                "except BaseException as err:",
                "    result = type(err).__name__",
                f"print({OUTCOME!r}, result)",
            ]
        )
        done = run_python(source, timeout=self.timeout)
        assert done.returncode == 0, f"{self.what}: exit {done.returncode}\n{done.stderr[-2000:]}"
        assert "panicked" not in done.stderr, done.stderr[-2000:]
        return done.stdout.strip().splitlines()[-1].removeprefix(OUTCOME).strip()

    def check(self) -> None:
        theirs = self._run(self.theirs)
        ours = self._run(self.ours)
        assert ours == theirs, f"{self.what}: {ours} where asyncio/CPython gives {theirs}"
