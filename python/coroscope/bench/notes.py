"""What each benchmark group means, in words: ``notes.toml``, read here.

``groups.py`` says what is measured; the notes say how to read it (``reading``),
why a goal can be missed (``if_missed``) and what the instruction profile shows
(``profiled``). A reason that holds only on some Python versions is given only
when the results being read come from one of them.
"""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from typing import Any

NOTES: dict[str, dict[str, Any]] = tomllib.loads(
    resources.files(__package__).joinpath("notes.toml").read_text(encoding="utf-8")
)


def reading(group: str) -> str:
    """How to read ``group``'s ratios."""
    return str(NOTES.get(group, {}).get("reading", ""))


def profiled(group: str) -> str:
    """What ``group``'s instruction profile shows, or ``""``."""
    return str(NOTES.get(group, {}).get("profiled", ""))


def if_missed(group: str, python: str) -> str:
    """Why a goal of ``group`` can be missed on the CPython ``python`` names
    (``"3.12.1"``, or a provenance's ``"CPython 3.12.1 (...)"``), or ``""``
    when no reason is known there (or the version cannot be read)."""
    why = NOTES.get(group, {}).get("if_missed", "")
    if isinstance(why, str):
        return why
    version = _minor(python)
    if version is None:
        return ""
    for versions, reason in why.items():
        first, _, last = versions.partition("-")
        low, high = _minor(first), _minor(last or first)
        if low is not None and high is not None and low <= version <= high:
            return str(reason)
    return ""


def _minor(python: str) -> tuple[int, int] | None:
    found = re.search(r"(\d+)\.(\d+)", python)
    return (int(found[1]), int(found[2])) if found else None
