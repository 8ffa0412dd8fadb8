"""``python -m coroscope.bench.gil_waits``: how long tokio's threads wait for the GIL,
bridge by bridge, while the loop is busy (read from the timeline's Rust side)."""

from __future__ import annotations

import asyncio

import pytest
from coroscope.bench import gil_waits
from coroscope.catalogue import BRIDGES, crossing


def test_future_into_py_hands_every_result_over_attached_and_the_fast_bridge_never_attaches() -> (
    None
):
    handed = gil_waits.trial(crossing("order", "future_into_py"), 50, 100, asyncio.new_event_loop)
    fast = gil_waits.trial(crossing("order", "fast"), 50, 100, asyncio.new_event_loop)
    assert len(handed.waits) == 50 and all(wait >= 0 for wait in handed.waits)
    assert list(handed.waits) == sorted(handed.waits) and handed.worker_us_per_wake > 0
    assert fast.waits == ()
    assert "none: no thread of the kit attached" in fast.row()


def test_each_bridge_is_measured_on_a_wait_that_lands_while_the_loop_is_busy() -> None:
    ways = gil_waits.waiting_crossings()
    assert [w.bridge.name for w in ways] == [b.name for b in BRIDGES]  # every bridge, once
    assert all(w.shape.name in ("order", "sleep") for w in ways)


def test_a_row_names_its_percentiles_and_says_why_it_has_no_waits() -> None:
    waits = gil_waits.Waits("awaitable", 4, (0.5, 1.0, 2.0, 12_345.0), 3.0)
    assert (waits.percentile(50), waits.percentile(99), waits.percentile(0)) == (1.0, 12_345.0, 0.5)
    assert waits.row().split()[-5:] == ["1", "12,345", "12,345", "12,345", "3"]
    assert "PyO3's waker attaches inside PyO3" in gil_waits.Waits("async_fn", 4, (), 0.0).row()


@pytest.mark.parametrize("argv", [["--wakes", "0"], ["--busy-us", "x"], ["--loops", "trio"]])
def test_the_command_line_refuses_what_it_cannot_measure_in_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit:
        gil_waits.main(argv)
    assert exit.value.code == 2
    assert "error:" in capsys.readouterr().err.strip().splitlines()[-1]


def test_the_command_line_prints_a_table_per_loop(capsys: pytest.CaptureFixture[str]) -> None:
    assert gil_waits.main(["--wakes", "20", "--busy-us", "50", "--loops", "asyncio"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("waits for the GIL on tokio's side, on asyncio")
    assert all(f"\n{bridge.name} " in printed for bridge in BRIDGES)


def test_a_full_run_keeps_each_distribution_and_benchmarks_md_reads_it() -> None:
    """``python -m coroscope.bench`` keeps the percentiles (not every wait) in its
    results file, and the report gives them a section, with why a row has none."""
    from coroscope.bench.report import markdown

    kept = gil_waits.run(["asyncio"], wakes=20, busy_us=50)
    assert kept["busy_us"] == 50
    assert [row["bridge"] for row in kept["rows"]] == [b.name for b in BRIDGES]
    handed = next(row for row in kept["rows"] if row["bridge"] == "future_into_py")
    assert handed["waits"] == 20 and 0 <= handed["p50_us"] <= handed["p99_us"] <= handed["max_us"]
    fast = next(row for row in kept["rows"] if row["bridge"] == "fast")
    assert fast["waits"] == 0 and fast["p50_us"] is None
    provenance = {"mode": "quick", "python": "CPython 3.11"}
    text = markdown({"provenance": provenance, "results": [], "gil_waits": kept}, "x.json")
    section = text.split("## gil_waits", 1)[1].split("\n## ", 1)[0]
    assert section.count("\n| asyncio |") == len(BRIDGES)
    assert "none: no thread of the kit attached" in section and "What it teaches:" in section
    assert "## gil_waits" not in markdown({"provenance": provenance, "results": []}, "x.json")
