"""The benchmark runner works end to end (timings are never asserted: only that it runs)."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import pytest
from coroscope import bench


@pytest.fixture
def tiny_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two groups, a hundred operations each: the whole pipeline in a second."""
    tiny = [
        dataclasses.replace(group, ops=100)
        for group in bench.GROUPS
        if group.name in ("await_ready_value", "bridge_ready")
    ]
    monkeypatch.setattr(bench, "GROUPS", tiny)


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
    assert "await_ready_value/done_c_future (baseline)" in out.out
    assert "goals:" in out.out
    assert "asyncio: bridge_ready (" in out.err  # progress goes to stderr as it runs
    assert "[18/18] uvloop" in out.err


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
    real = bench.coroscope.build_info

    def debug_build() -> dict[str, Any]:
        return {**real(), "profile": "debug"}

    monkeypatch.setattr(bench.coroscope, "build_info", debug_build)
    assert bench.main(["--quick"]) == 2
    assert "debug build" in capsys.readouterr().err


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--loops", "trio"])
