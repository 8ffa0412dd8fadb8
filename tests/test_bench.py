"""The benchmark runner works end to end (timings are never asserted: only that it runs)."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import pytest
from coroscope import bench
from coroscope.bench import cli

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two groups, a hundred operations each: the whole pipeline in a second."""
    tiny = [
        dataclasses.replace(group, ops=100)
        for group in bench.GROUPS
        if group.name in ("await_ready_value", "bridge_ready")
    ]
    monkeypatch.setattr(cli, "GROUPS", tiny)


def test_a_quick_run_writes_results_a_chart_and_a_table(
    tiny_groups: None, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--quick", "--loops", "asyncio,uvloop", "--out", str(tmp_path)]) == 0
    (results_file,) = tmp_path.glob("*.json")
    assert results_file.with_suffix(".png").stat().st_size > 0
    data = json.loads(results_file.read_text())
    for key in ("cpu", "cores", "os", "python", "rustc", "pyo3", "pyo3_async_runtimes", "profile"):
        assert key in data["provenance"], key
    rows = data["results"]
    assert {row["loop"] for row in rows} == {"asyncio", "uvloop"}
    for row in rows:
        assert row["per_op"] > 0
        if row["variant"] == row["baseline"]:
            assert row["ratio"] == 1.0
    out = capsys.readouterr()
    assert "bridge_ready" in out.out and "faster than future_into_py" in out.out
    assert "goals on asyncio:" in out.out
    assert "BENCHMARKS.md" in out.out and "notebooks/04_overhead.ipynb" in out.out
    assert "asyncio: bridge_ready (" in out.err  # progress goes to stderr as it runs
    assert "uvloop: bridge_ready (" in out.err


def test_the_summary_of_a_full_run_fits_on_one_screen() -> None:
    data = json.loads(bench.committed_run(ROOT).read_text())
    assert data["provenance"]["mode"] == "full"  # BENCHMARKS.md quotes a full run
    lines = bench.summary([bench.Result(**r) for r in data["results"]])
    assert len(lines) <= 40
    assert any("x faster than" in line for line in lines)
    assert all("why: " in line for line in lines if line.startswith("    "))


def test_list_names_every_group_and_runs_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--list"]) == 0
    listed = capsys.readouterr().out
    for group in bench.GROUPS:
        assert f"{group.name}: {group.what}" in listed


def test_an_unknown_group_is_refused_with_a_pointer_to_the_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--group", "bridge_redy"])
    assert "unknown group(s): bridge_redy (see --list)" in capsys.readouterr().err


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    text = capsys.readouterr().out
    for option in ("--quick", "--loops", "--group", "--list", "--table", "--out", "--report"):
        assert option in text
    assert "BENCHMARKS.md" in text


def test_the_report_is_markdown_with_every_ratio(
    tiny_groups: None, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.main(["--quick", "--loops", "asyncio", "--out", str(tmp_path)])
    (results_file,) = tmp_path.glob("*.json")
    capsys.readouterr()
    assert bench.main(["--report", str(results_file)]) == 0
    report = capsys.readouterr().out
    assert report.startswith("# Benchmarks")
    assert "## Goals" in report and "## bridge_ready" in report
    assert report.count("| asyncio |") >= 8  # every variant of both groups, and the goal
    assert "What it teaches:" in report


def test_a_debug_build_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = cli.coroscope.build_info

    def debug_build() -> dict[str, Any]:
        return {**real(), "profile": "debug"}

    monkeypatch.setattr(cli.coroscope, "build_info", debug_build)
    assert bench.main(["--quick"]) == 2
    assert "debug build" in capsys.readouterr().err


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--loops", "trio"])
