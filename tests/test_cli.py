"""The command-line tools refuse an odd value in one line, before anything runs,
and run without their optional dependencies (``python/coroscope/_cli.py``; the
bench's own files and flags: ``test_bench``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest
from coroscope import exits, soak
from coroscope._loops import LOOPS
from coroscope.bench import gil_waits

MAINS: dict[str, Callable[[list[str]], int]] = {
    "soak": soak.main,
    "exits": exits.main,
    "bench.gil_waits": gil_waits.main,
}

COUNTS = [
    ("soak", "--awaits"),
    ("soak", "--tasks"),
    ("soak", "--threads"),
    ("soak", "--wakes"),
    ("exits", "--runs"),
    ("exits", "--workers"),
    ("bench.gil_waits", "--wakes"),
    ("bench.gil_waits", "--busy-us"),
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


def test_gil_waits_refuses_counts_whose_run_together_is_days_long(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each count within its bound, the run is their product: a million wakes
    each busy a second is eleven days per bridge."""
    with pytest.raises(SystemExit) as exited:
        gil_waits.main(["--wakes", "1000000", "--busy-us", "1000000"])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last == (
        "python -m coroscope.bench.gil_waits: error: --wakes x --busy-us: "
        "at most 600 s of busy Python per bridge, not 1,000,000 s"
    )


@pytest.mark.parametrize(("tool", "flag"), COUNTS)
def test_a_count_past_what_could_ever_end_is_refused_in_one_line(
    tool: str, flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """2**63 runs ended in ``OverflowError`` (a list of that many), a traceback;
    ``soak --awaits 10**23`` ran on silently, for ever."""
    with pytest.raises(SystemExit) as exited:
        MAINS[tool]([flag, str(2**63)])
    assert exited.value.code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"python -m coroscope.{tool}: error: argument {flag}: must be at most")
    assert last.endswith(", not 9,223,372,036,854,775,808")


def test_each_module_a_command_runs_as_says_nothing_on_its_own() -> None:
    """``python -m coroscope.bench.gil_waits`` printed runpy's warning: the
    package had imported the module before it ran as ``__main__``."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "coroscope.bench.gil_waits", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_the_exit_trials_run_on_every_loop_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {loop for *_, loop in exits.trials()} == set(LOOPS)
    monkeypatch.setitem(sys.modules, "uvloop", None)
    monkeypatch.setitem(sys.modules, "rloop", None)
    assert {loop for *_, loop in exits.trials()} == {"asyncio"}


def test_when_the_os_refuses_a_thread_a_tool_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A container's pids limit is the machine's, not a bug of the program: one
    line and exit status 1, as for a bad value (other errors keep their traceback)."""
    from coroscope._cli import run_main

    def refused() -> int:
        raise RuntimeError("can't start new thread (Resource temporarily unavailable)")

    with pytest.raises(SystemExit) as exit:
        run_main("python -m tool", refused)
    assert exit.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("python -m tool: can't start new thread") and err.count("\n") == 1

    def broken() -> int:
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        run_main("python -m tool", broken)


@pytest.mark.parametrize(
    ("flag", "content", "why"),
    [
        ("--report", "[" * 100_000 + "]" * 100_000, "nested too deep"),
        ("--instructions", "[" * 100_000 + "]" * 100_000, "nested too deep"),
        (
            "--instructions",
            '{"provenance": "p", "loop_only": 1, "cases": "abc"}',
            "cannot be reported (AttributeError",
        ),
    ],
    ids=["report nested deep", "instructions nested deep", "cases a string"],
)
def test_a_bench_file_of_odd_depth_or_parts_is_refused_in_one_line(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], flag: str, content: str, why: str
) -> None:
    from coroscope import bench

    path = tmp_path / "file.json"
    path.write_text(content)
    assert bench.main([flag, str(path)]) == 2
    err = capsys.readouterr().err
    assert why in err and err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--report", "--instructions"])
def test_a_bench_file_with_no_end_is_refused_in_one_line_not_read_into_memory(
    capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    from coroscope import bench

    assert bench.main([flag, "/dev/zero"]) == 2  # read whole, it filled 23 GB
    err = capsys.readouterr().err
    assert "over 64 MiB, not a results file" in err and err.count("\n") == 1


@pytest.mark.parametrize("flag", ["--report", "--instructions"])
def test_a_bench_file_too_many_values_to_parse_is_refused_in_one_line(
    tmp_path: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: str,
) -> None:
    """64 MiB of ``[{},{},...]`` parses to 1.7 GB: under a memory limit the
    parse runs out, and the tool says so rather than printing a traceback."""
    from coroscope import bench
    from coroscope.bench import cli

    def out_of_memory(_text: str) -> Any:
        raise MemoryError

    monkeypatch.setattr(cli.json, "loads", out_of_memory)
    path = tmp_path / "dicts.json"
    path.write_text("[{},{}]")
    assert bench.main([flag, str(path)]) == 2
    err = capsys.readouterr().err
    assert "too many values to be a results file" in err and err.count("\n") == 1


def test_a_bench_loop_named_twice_runs_once_as_a_group_named_twice_does() -> None:
    import argparse

    from coroscope.bench import cli

    assert cli.chosen_loops(argparse.ArgumentParser(), "asyncio,asyncio,") == ["asyncio"]


def test_a_versions_chart_that_cannot_be_written_is_said_in_one_line(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import pathlib
    import shutil

    from coroscope import bench

    pytest.importorskip("matplotlib")
    study = next((pathlib.Path(__file__).parent.parent / "bench-results" / "versions").iterdir())
    copy = shutil.copytree(study, tmp_path / "study")
    (copy / "versions.png").unlink(missing_ok=True)
    (copy / "versions.png").mkdir()  # where the chart goes, a directory
    assert bench.main(["--versions", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "versions.png" in err and err.count("\n") == 1


def test_a_soak_of_any_number_of_thread_wakes_loses_none() -> None:
    """The wakes go in batches of 100; the last batch is what is left (150
    wakes made 200 and judged against 150: '-50 wakeups lost')."""
    from coroscope.soak.trials import loops_woken_from_tokio

    row = loops_woken_from_tokio(2, 150, fast=True)
    assert row.lost == 0 and row.awaits == 300
