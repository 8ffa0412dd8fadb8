"""``coroscope.bench.count_instructions`` and the ``await_instructions`` fixture:
one await of a user's own code counted in CPU instructions under Callgrind, the
same count every run, and a bound a library's CI can hold it to."""

from __future__ import annotations

import json
import pathlib
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from coroscope.bench import callgrind, count_instructions

# Counting needs valgrind, which `make test` installs when missing.
needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason=callgrind.NO_VALGRIND)

# A hang guard, not a timing: three repeats start seven interpreters, each some
# 50 times slower under Callgrind (a minute and a half on a busy two-core
# machine, past the suite's 120 s).
pytestmark = pytest.mark.timeout(600)

# A user's awaitable, in a module a fresh interpreter can import.
MINE = """
class Mine:
    def __await__(self):
        return iter(())
"""


@pytest.fixture
def user_module(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``mine.py`` in the working directory, where a notebook's ``%%writefile`` puts it."""
    (tmp_path / "mine.py").write_text(MINE)
    monkeypatch.chdir(tmp_path)
    return "mine:Mine"


@pytest.mark.once
@needs_valgrind
def test_a_user_s_awaitable_is_counted_the_same_in_every_run(user_module: str) -> None:
    # The first count in a fresh environment too: `mine` has never been compiled.
    found = count_instructions({"mine": user_module}, baselines=("coroutine",), repeat=3)
    assert found.agreement <= 0.001, found.runs  # the bar: 0.1 %
    assert found.per_await["mine"] > 0 and found.per_await["coroutine"] > 0
    assert (
        found.ratio("mine", "coroutine") == found.per_await["mine"] / found.per_await["coroutine"]
    )
    assert "instructions per await on asyncio" in str(found)
    assert "<table>" in found._repr_html_() and "x coroutine" in found._repr_html_()


@pytest.mark.once
@needs_valgrind
def test_a_count_does_not_move_when_files_come_and_go_beside_the_user_s_module(
    user_module: str,
) -> None:
    # What a notebook's working directory goes through between two counts
    # (and a fresh environment's first run: caches written after it).
    before = count_instructions({"mine": user_module}, baselines=(), repeat=1)
    pathlib.Path("notes.txt").write_text("a file more")
    (pathlib.Path("__pycache__") / "elsewhere").mkdir(parents=True)
    after = count_instructions({"mine": user_module}, baselines=(), repeat=1)
    moved = abs(after.per_await["mine"] / before.per_await["mine"] - 1)
    assert moved <= 0.001, (before.runs, after.runs)


def test_a_missing_valgrind_is_said_with_how_to_get_it(
    user_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callgrind.shutil, "which", lambda _name: None)
    with pytest.raises(RuntimeError, match="apt install valgrind"):
        count_instructions({"mine": user_module})


@pytest.mark.parametrize(
    ("variants", "kwargs", "error"),
    [
        ({"x": lambda: None}, {}, "cannot be imported by a fresh interpreter"),
        ({"x": "no_colon"}, {}, "'module:attribute'"),
        ({"x": 42}, {}, "expected 'module:attribute'"),
        ({"ready": "mine:Mine"}, {"baselines": ("ready",)}, "named like a baseline"),
        ({"x": "mine:Mine"}, {"baselines": ("nothing",)}, "unknown baseline"),
        ({"x": "mine:Mine"}, {"loop": "trio"}, "loop is one of asyncio"),
        ({"x": "mine:Mine"}, {"awaits": 0}, "from 1 to"),
        ({"x": "mine:Mine"}, {"awaits": 10**30}, "from 1 to"),
        ({"x": "mine:Mine"}, {"loop": ["asyncio"]}, r"loop must be a name \(str\), not list"),
        ({"x": "mine:Mine"}, {"baselines": None}, "sequence of names"),
        ({}, {"baselines": ()}, "needs a variant or a baseline"),
        ({1: "mine:Mine"}, {}, "variant names must be str"),
        (["mine:Mine"], {}, "must map names to factories"),
        ({"x": "mine:Mine"}, {"baselines": "coroutine"}, "not the string"),
        ({"x": "mine:Mine"}, {"baselines": b"coroutine"}, "not the string b'coroutine'"),
    ],
)
def test_what_cannot_be_counted_is_refused_before_anything_runs(
    variants: dict[str, Any], kwargs: dict[str, Any], error: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(callgrind.subprocess, "run", None)  # nothing may start
    with pytest.raises((TypeError, ValueError), match=error):
        count_instructions(variants, **kwargs)


@needs_valgrind
@pytest.mark.parametrize(
    ("variant", "says"),
    [
        ("mine:Mien", r"AttributeError.*Mien"),  # misspelt
        ("os:sep", r"TypeError: 'str' object is not callable"),  # names no maker
    ],
)
def test_a_variant_that_cannot_be_awaited_fails_in_a_second_not_after_the_counting(
    user_module: str, variant: str, says: str
) -> None:
    with pytest.raises(ValueError, match=f"cannot load or await the variants: {says}"):
        count_instructions({"mine": variant})


def test_a_function_of_an_importable_module_is_named_for_the_fresh_interpreter() -> None:
    assert callgrind._spec("x", json.loads) == "json:loads"
    with pytest.raises(ValueError, match="%%writefile"):
        callgrind._spec("x", lambda: None)


# The kit's own paths, bounded as a library would bound its own (counted on
# CPython 3.11 at 1,771, 1,617 and 3,039 instructions; a fifth more fails).
BOUNDS = {"ready": 2_100, "ready_send": 1_950, "fast": 3_650}


@pytest.mark.once
@pytest.mark.parametrize(("path", "bound"), BOUNDS.items())
def test_one_await_of_the_kit_s_own_paths_stays_under_its_bound(
    await_instructions: Callable[..., float], path: str, bound: int
) -> None:
    assert 0 < await_instructions(path, at_most=bound) <= bound


@pytest.mark.parametrize(
    ("bound", "error"),
    [(0, ValueError), (float("nan"), ValueError), (-5, ValueError), ("2500", TypeError)],
)
def test_a_bound_no_count_can_be_held_to_is_refused_before_counting(
    await_instructions: Callable[..., float], bound: Any, error: type[Exception]
) -> None:
    """0 divided by zero in the failure's text, NaN let every count pass, a
    string failed after the count."""
    with pytest.raises(error, match="at_most must be"):
        await_instructions("coroutine", at_most=bound)


@pytest.mark.once
def test_a_bound_broken_fails_the_test_saying_by_how_much(
    await_instructions: Callable[..., float],
) -> None:
    with pytest.raises(
        pytest.fail.Exception, match=r"takes [\d,]+ instructions .* over the bound of 10$"
    ):
        await_instructions("coroutine", at_most=10)
