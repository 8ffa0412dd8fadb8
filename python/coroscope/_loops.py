"""The event loops the kit runs on, by name: the one list that the benchmarks,
the exit trials and the tests read.

asyncio's own loop always; uvloop (in C, on libuv) and rloop (in Rust) when
installed (the ``bench`` and ``test`` extras bring them): two other loops the
kit's bridges and Rust Task must work on, each implementing asyncio's loop API
its own way. Near a leaf: it imports only ``_cli``.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable

from coroscope._cli import installed

__all__ = ["INSTALL", "LOOPS", "installed_loops"]

# What to install for the optional loops (and the rest of a benchmark run's needs).
INSTALL = "pip install 'coroscope[bench]'"


def _optional(module: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """A new loop of ``module`` (``uvloop``, ``rloop``), imported when one is asked for."""

    def new_event_loop() -> asyncio.AbstractEventLoop:
        made: asyncio.AbstractEventLoop = importlib.import_module(module).new_event_loop()
        return made

    new_event_loop.__qualname__ = f"{module}.new_event_loop"
    return new_event_loop


LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": _optional("uvloop"),
    "rloop": _optional("rloop"),
}


def installed_loops() -> tuple[list[str], list[str]]:
    """(the loops that can run here, the optional ones that are not installed)."""
    missing = [name for name in LOOPS if name != "asyncio" and not installed(name)]
    return [name for name in LOOPS if name not in missing], missing
