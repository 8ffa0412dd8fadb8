"""The command-line tools refuse an odd value in one line, before anything runs,
and run without their optional dependencies (``python/coroscope/_cli.py``; the
bench's own files and flags: ``test_bench``)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from coroscope import exits, soak
from coroscope._loops import LOOPS

MAINS: dict[str, Callable[[list[str]], int]] = {"soak": soak.main, "exits": exits.main}

COUNTS = [
    ("soak", "--awaits"),
    ("soak", "--tasks"),
    ("soak", "--threads"),
    ("soak", "--wakes"),
    ("exits", "--runs"),
    ("exits", "--workers"),
]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0", "must be at least 1, not 0"),
        ("-3", "must be at least 1, not -3"),
        ("", "not a whole number: ''"),
        ("1.5", "not a whole number: '1.5'"),
    ],
)
@pytest.mark.parametrize(("tool", "flag"), COUNTS)
def test_a_count_that_is_not_a_whole_number_from_one_is_refused_in_one_line(
    tool: str, flag: str, value: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        MAINS[tool]([flag, value])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == f"python -m coroscope.{tool}: error: argument {flag}: {why}"


def test_the_exit_trials_run_on_every_loop_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {loop for *_, loop in exits.trials()} == set(LOOPS)
    monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.setitem(sys.modules, "rloop", None)
    assert {loop for *_, loop in exits.trials()} == {"asyncio"}
