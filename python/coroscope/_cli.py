"""What the command-line tools (``bench``, ``soak``, ``tour``, ``exits``) share:
their arguments are checked, and their optional dependencies looked for, before
anything runs, so a bad value or a missing package is said in one line.

A leaf: it imports nothing of the kit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

__all__ = ["count", "count_up_to", "installed", "run_main"]


def count(text: str) -> int:
    """An ``argparse`` type: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def count_up_to(most: int) -> Callable[[str], int]:
    """An ``argparse`` type: a whole number from 1 to ``most``, so that a run
    that could never end is refused before it starts (2**63 things made up
    front ended in ``OverflowError``; ``--busy-us 10**12``, days of waiting)."""

    def checked(text: str) -> int:
        value = count(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"must be at most {most:,}, not {value:,}")
        return value

    return checked


def installed(module: str) -> bool:
    """Whether the optional dependency ``module`` (uvloop, matplotlib) imports."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# What the kit (and ``threading``) raise when the OS refuses a thread.
CANT_START = "can't start new thread"


def run_main(prog: str, main: Callable[[], int]) -> None:
    """Exit with ``main()``'s status; when the OS refuses the kit a thread (a
    container's pids limit, ``RLIMIT_NPROC``), say so in one line, not in a
    traceback: the program did nothing wrong, the machine ran out of room."""
    try:
        status = main()
    except RuntimeError as err:
        if not str(err).startswith(CANT_START):
            raise
        print(f"{prog}: {err}: the OS refused a thread (a limit on processes?)", file=sys.stderr)
        status = 1
    sys.exit(status)
