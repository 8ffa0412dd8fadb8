"""What the command-line tools (``bench``, ``soak``, ``tour``, ``exits``) share:
their arguments are checked, and their optional dependencies looked for, before
anything runs, so a bad value or a missing package is said in one line.

A leaf: it imports nothing of the kit.
"""

from __future__ import annotations

import argparse
import importlib

__all__ = ["count", "installed"]


def count(text: str) -> int:
    """An ``argparse`` type: a whole number, at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def installed(module: str) -> bool:
    """Whether the optional dependency ``module`` (uvloop, matplotlib) imports."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
