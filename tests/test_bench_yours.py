"""Measure your own (``coroscope.bench.compare``, ``%atimeit``): a user's awaitable,
written outside the kit, timed against the kit's baselines in one call, on each
loop, with nothing of the kit edited."""

from __future__ import annotations

import asyncio
import json
import pathlib
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Generator
from typing import Any

import pytest
from coroscope._loops import LOOPS
from coroscope.bench import BASELINES, compare

ROOT = pathlib.Path(__file__).resolve().parent.parent


class Mine:
    """A learner's awaitable: finishes at once, as a done future does."""

    def __await__(self) -> Generator[Any, None, int]:
        return 7
        yield  # a generator: `return` sets StopIteration.value


async def mine_as_a_coroutine() -> int:
    return 7


def test_a_users_awaitable_is_measured_against_two_baselines_on_every_loop_in_one_call() -> None:
    found = compare(
        {"mine": Mine, "coro": mine_as_a_coroutine},
        baselines=("coroutine", "sleep0"),
        loops=("asyncio", "uvloop", "rloop"),
        ops=500,
        rounds=2,
    )
    assert {(r.loop, r.variant) for r in found.results} == {
        (loop, v) for loop in LOOPS for v in ("coroutine", "sleep0", "mine", "coro")
    }
    for loop in LOOPS:
        assert found.ratio("coroutine", "coroutine", loop) == 1
        mine = found.result("mine", loop)
        assert mine.per_op > 0 and mine.spread is not None and mine.collector is not None
        assert found.ratio("mine", "sleep0", loop) == pytest.approx(
            mine.per_op / found.result("sleep0", loop).per_op
        )
    text, page = str(found), found._repr_html_()
    assert all(name in text and name in page for name in ("mine", "coro", "x sleep0"))
    assert BASELINES["sleep0"][0] in page  # the caption says what each baseline is


def test_the_result_is_the_runners_json(tmp_path: pathlib.Path) -> None:
    found = compare({"mine": Mine}, ops=200, rounds=1)
    path = tmp_path / "mine.json"
    found.to_json(path)
    data = json.loads(path.read_text())
    assert data["provenance"]["python"] and {r["variant"] for r in data["results"]} == {
        "coroutine",
        "sleep0",
        "mine",
    }
    assert found.chart("mine").axes


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda: compare({}), ValueError, "at least one variant"),
        (lambda: compare({"x": 3}), TypeError, "expected a callable"),  # type: ignore[dict-item]
        (lambda: compare({"x": lambda: 3}), TypeError, "not awaitable"),
        (lambda: compare({"x": Mine}, baselines=("nope",)), ValueError, "unknown baseline"),
        (lambda: compare({"x": Mine}, baselines=()), ValueError, "at least one baseline"),
        (lambda: compare({"sleep0": Mine}), ValueError, "named like a baseline"),
        (lambda: compare({"x": Mine}, loops=("trio",)), ValueError, "loops are some of"),
        (lambda: compare({"x": Mine}, loops=None), TypeError, "loops must be a sequence"),  # type: ignore[arg-type]
        (lambda: compare({"x": Mine}, baselines=None), TypeError, "baselines must be a sequence"),  # type: ignore[arg-type]
        (lambda: compare({"x": Mine}, baselines=b"ready"), TypeError, "not the string b'ready'"),  # type: ignore[arg-type]
        (lambda: compare({"x": Mine}, ops=0), ValueError, "ops must be from 1 to"),
        (lambda: compare({"x": Mine}, ops=10**30), ValueError, "ops must be from 1 to"),
        (lambda: compare({"x": Mine}, rounds=True), TypeError, "rounds must be an int"),
    ],
)
def test_what_cannot_be_measured_is_refused_before_anything_runs(
    call: Any, error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        call()


def test_a_maker_that_needs_a_running_loop_is_measured_like_any_other() -> None:
    """Each variant is made and awaited once before timing, on a running loop:
    ``asyncio.create_task`` and ``future_into_py`` (the maker of the kit's own
    baseline) need one, and were refused with "no running event loop"."""
    from coroscope.bridge import ready_future_into_py

    async def nap() -> None:
        pass

    found = compare(
        {"task": lambda: asyncio.create_task(nap()), "bridge": lambda: ready_future_into_py(1)},
        baselines=("coroutine",),
        ops=100,
        rounds=1,
    )
    assert found.variants == ("task", "bridge")


def test_a_loop_or_baseline_named_twice_is_measured_once() -> None:
    found = compare(
        {"mine": Mine},
        baselines=("coroutine", "coroutine"),
        loops=("asyncio", "asyncio"),
        ops=100,
        rounds=1,
    )
    assert found.baselines == ("coroutine",)
    assert sorted((r.loop, r.variant) for r in found.results) == [
        ("asyncio", "coroutine"),
        ("asyncio", "mine"),
    ]


@pytest.mark.parametrize("error", [KeyError("mine"), asyncio.CancelledError()])
def test_a_variant_that_fails_when_awaited_fails_before_timing_and_is_named(
    error: BaseException,
) -> None:
    async def broken() -> None:
        raise error

    with pytest.raises(type(error)) as raised:
        compare({"broken": broken}, ops=100, rounds=1)
    assert raised.value.__notes__ == ["(variant 'broken', awaited once before measuring)"]


def test_measuring_leaves_the_caller_s_current_event_loop_as_it_was() -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        compare({"mine": Mine}, baselines=("coroutine",), ops=100, rounds=1)
        assert asyncio.get_event_loop() is loop
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def test_checking_a_coroutine_function_before_timing_leaves_no_warning() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            textwrap.dedent(
                """
            from coroscope.bench import compare
            async def nap():
                pass
            compare({"nap": nap}, ops=100, rounds=1)
            """
            ),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def ipython(script: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by IPython's terminal application, as a file of cells."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            "--quick",
            "--no-banner",
            "--colors=NoColor",
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_atimeit_times_an_await_in_ipythons_terminal() -> None:
    done = ipython(
        "%load_ext coroscope\n"
        "import asyncio\n"
        "%atimeit -n 300 -r 2 -l asyncio,uvloop -b sleep0 await asyncio.sleep(0)\n"
    )
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if "per await" in line]
    assert [line.split(" on ")[1].split(" ")[0] for line in lines] == ["asyncio", "uvloop"]
    assert all(
        "x asyncio.sleep(0)" in line and "best of 2 rounds of 300 awaits" in line for line in lines
    )


def test_a_cell_of_awaits_reads_the_notebooks_names_and_returns_its_comparison() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "coroscope")
    shell.user_ns["asyncio"] = asyncio
    shell.user_ns["Mine"] = Mine
    found = shell.run_cell_magic("atimeit", "-n 200 -r 1 -o", "x = await Mine()\nassert x == 7\n")
    assert found.result("yours").ops == 200
    with pytest.raises(Exception, match="needs a statement"):
        shell.run_line_magic("atimeit", "-n 10")
    with pytest.raises(Exception, match="unknown baseline"):
        shell.run_line_magic("atimeit", "-n 10 -b nope await Mine()")


def test_atimeit_finds_the_statement_after_its_options_and_lets_its_errors_through() -> None:
    """The statement may begin with a word an option's value also holds (``r``
    after ``-r 2``); an error the statement raises is the user's, not a usage
    error, as with ``%timeit``."""
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "coroscope")
    shell.user_ns["Mine"] = Mine
    found = shell.run_line_magic("atimeit", "-n 200 -r 2 -o r = await Mine()")
    assert found.result("yours").ops == 200
    shell.user_ns["int"] = int
    with pytest.raises(TypeError, match="int\\(\\) argument"):
        shell.run_line_magic("atimeit", "-n 10 -r 1 await Mine() + int(None)")
    with pytest.raises(UsageError, match="rounds must be from 1"):
        shell.run_line_magic("atimeit", "-n 10 -r 0 await Mine()")


def test_compare_in_a_running_loop_is_refused_at_once_saying_what_to_do() -> None:
    async def main() -> None:
        compare({"mine": Mine})

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "never awaited" left behind
        with pytest.raises(RuntimeError, match=r"asyncio\.to_thread"):
            asyncio.run(main())


def test_ctrl_c_stops_atimeit_at_once_as_it_stops_timeit() -> None:
    """The measuring thread is handed the interrupt: the magic does not sit out
    every round (hours here: the run's time limit would end it first) before it
    gives the prompt back."""
    script = textwrap.dedent(
        """
        import asyncio, os, signal, threading, time
        # Python raises KeyboardInterrupt only if SIGINT was not ignored when it
        # started (a job in the background of a shell starts with it ignored).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "coroscope")
        shell.user_ns["asyncio"] = asyncio
        def interrupt_once_measuring():
            # Not before: on a loaded machine IPython may still be starting.
            while not any(t.name == "atimeit" for t in threading.enumerate()):
                time.sleep(0.05)
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=interrupt_once_measuring, daemon=True).start()
        try:
            shell.run_line_magic("atimeit", "-n 1000000 -r 10000 await asyncio.sleep(0)")
        except KeyboardInterrupt:
            print("interrupted")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "interrupted", done.stdout
