"""The benchmark runner works end to end (timings are never asserted: only that it runs)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import pathlib
import sys
from typing import Any

import pytest
from coroscope import bench
from coroscope.awaitable import Ready
from coroscope.bench import cli, notes, workloads

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
        assert 0 <= row["collector"] <= row["per_op"]  # the cycle collector's part of it
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


def test_a_missed_time_goal_gives_its_ratio_outside_the_cycle_collector() -> None:
    def result(variant: str, per_op: float, collector: float | None) -> bench.Result:
        return bench.Result(
            "asyncio", "task_gather_tree", variant, "c_task", 100, per_op, "ns/op",
            per_op / 1000, 0.1, collector,
        )  # fmt: skip

    results = [result("c_task", 1000, 400), result("rust_task", 1100, 480)]
    lines = bench.summary(results)
    assert (
        "  missed in task_gather_tree: rust_task / c_task 1.1x (goal <= 1x; "
        "outside the cycle collector 1.03x)" in lines
    )
    report = bench.markdown(
        {"provenance": {"mode": "full"}, "results": [dataclasses.asdict(r) for r in results]},
        "r.json",
    )
    assert "| 1.1x (missed); outside the cycle collector 1.03x |" in report
    assert "| asyncio | rust_task | 1,100 | 1.1x | 909,091 | 480 |" in report
    # results saved before the collector was timed say nothing about it
    old = [dataclasses.replace(r, collector=None) for r in results]
    assert "rust_task / c_task 1.1x (goal <= 1x)" in "\n".join(bench.summary(old))


def test_a_goal_missed_by_a_hair_is_not_shown_as_met() -> None:
    results = [
        bench.Result("asyncio", "task_gather_tree", v, "c_task", 100, ns, "ns/op", ns / 1000)
        for v, ns in (("c_task", 1000.0), ("rust_task", 1004.0))
    ]
    (verdict,) = bench.goal_verdicts(results)
    assert verdict[3] == "1.004x (missed)"


def test_a_baseline_that_is_fastest_is_said_in_a_whole_sentence() -> None:
    results = [
        bench.Result(loop, "task_gather_tree", v, "c_task", 100, ns, "ns/op", ns / 1000, 0.38)
        for loop in ("asyncio", "uvloop")
        for v, ns in (("c_task", 1000.0), ("rust_task", 1010.0))
    ]
    (line,) = [line for line in bench.summary(results) if line.startswith("  task_gather_tree")]
    assert line.split(maxsplit=1)[1] == (
        "c_task (the baseline) is fastest; next rust_task as fast (±19%; uvloop: as fast)"
    )


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
    for option in (
        "--quick",
        "--loops",
        "--group",
        "--list",
        "--table",
        "--out",
        "--report",
        "--versions",
    ):
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


def _study(
    tmp_path: pathlib.Path, versions: dict[str, list[tuple[str, str, float]]]
) -> pathlib.Path:
    """A cross-version directory: one results file per version, as
    ``make bench-versions`` writes it ((group, variant, ns/op) rows, asyncio loop)."""
    for version, rows in versions.items():
        baselines = {group: per_op for group, variant, per_op in rows if variant == "c_task"}
        results = [
            dataclasses.asdict(
                bench.Result(
                    "asyncio",
                    group,
                    variant,
                    "c_task",
                    100,
                    per_op,
                    "ns/op",
                    per_op / baselines[group],
                )
            )
            for group, variant, per_op in rows
        ]
        provenance = {"python": f"{version}.0", "when": "2026-11-30", "mode": "quick"}
        (tmp_path / f"{version}.json").write_text(
            json.dumps({"provenance": provenance, "results": results})
        )
    return tmp_path


def test_the_cross_version_study_lines_up_each_variant_by_version(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = _study(
        tmp_path,
        {
            "3.12": [
                ("task_gather_tree", "c_task", 900.0),
                ("task_gather_tree", "rust_task", 1000.0),
                ("task_gather_tree", "rust_task_eager", 300.0),
            ],
            "3.10": [
                ("task_gather_tree", "c_task", 2000.0),
                ("task_gather_tree", "rust_task", 2100.0),
            ],
        },
    )
    runs = bench.versions.load(study)
    assert list(runs) == ["3.10", "3.12"]  # in version order, whatever the file order
    rows = {variant: found for _, variant, found in bench.versions.rows(runs)}
    assert list(rows["rust_task"]) == ["3.10", "3.12"]
    assert list(rows["rust_task_eager"]) == ["3.12"]  # eager tasks are 3.12+
    assert bench.main(["--versions", str(study)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("## Across Python versions")
    assert "| task_gather_tree/rust_task | 2,100 ns (1.05x) | 1,000 ns (1.11x) |" in table
    assert "| task_gather_tree/rust_task_eager |  | 300 ns (0.333x) |" in table
    assert "| 3.10.0 | 2026-11-30 | quick |" in table
    assert (study / "versions.png").stat().st_size > 0


def test_a_study_with_no_results_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError, match="no per-version results"):
        bench.versions.load(tmp_path)


def test_instruction_counts_are_per_op_after_the_loop_and_say_how_runs_agree(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    group = next(g for g in bench.GROUPS if g.name == "drive_100_awaits")
    n = group.instruction_ops
    counts = {
        "provenance": "a test",
        "loop_only": 1000,
        "cases": [
            {"group": "loop", "variant": "run_until_complete", "runs": [1000, 1000]},
            {"group": "drive_100_awaits", "variant": "c_floor", "runs": [1000 + 100 * n] * 2},
            {
                "group": "drive_100_awaits",
                "variant": "drive_send",
                "runs": [1000 + 150 * n, 1000 + 150 * n + 3 * n],
            },
        ],
    }
    rows = bench.instructions.per_op(counts)
    assert [(loop, v, round(c), round(r, 2)) for loop, _, v, c, r, _ in rows] == [
        ("asyncio", "c_floor", 100, 1.0),  # a case saved without its loop ran on asyncio
        ("asyncio", "drive_send", 153, 1.53),
    ]
    path = tmp_path / "counts.json"
    path.write_text(json.dumps(counts))
    assert bench.main(["--instructions", str(path)]) == 0
    table = capsys.readouterr().out
    assert table.startswith("## Instructions per operation (Callgrind)")
    assert "1 of 2 cases agree between the two runs within 1 % (the widest apart: 1.99%" in table
    assert "| asyncio | drive_100_awaits/drive_send | 153 | 1.53x |  | 1.99% |" in table  # last run
    assert "| asyncio | drive_100_awaits/c_floor | 100 | 1x |  | 0.00% |" in table  # no cycles


def test_a_profile_shows_each_case_by_kind_per_op_with_its_heaviest_functions() -> None:
    group = next(g for g in bench.GROUPS if g.name == "future_round_trip")
    n = group.instruction_ops
    loop_kinds = {"interpreter": 1000}
    counts = {
        "provenance": "a test",
        "loop_only": 1000,
        "cases": [
            {
                "group": "loop",
                "variant": "run_until_complete",
                "runs": [1000],
                "kinds": loop_kinds,
                "top": [],
            },
            {
                "group": "future_round_trip",
                "variant": "rust_future",
                "runs": [1000 + 300 * n],
                "kinds": {"interpreter": 1000 + 100 * n, "PyO3": 150 * n, "ours": 50 * n},
                "top": [["pyo3::impl_::trampoline::trampoline", "PyO3", 150 * n]],
            },
        ],
    }
    section = bench.instructions.profiles(counts)
    assert section.startswith("## Where the time goes (Callgrind profiles)")
    assert "### future_round_trip" in section
    # total, then interpreter, CPython objects, allocation, asyncio C, PyO3, ours, ...
    assert "| rust_future | 300 | 100 | 0 | 0 | 0 | 150 | 50 | 0 | 0 | 0 |" in section
    assert "- rust_future: `pyo3::impl_::trampoline::trampoline` (PyO3) 150" in section
    assert notes.profiled(group.name) in section


def test_a_group_counted_on_uvloop_too_is_divided_by_its_baseline_on_uvloop() -> None:
    group = next(g for g in bench.GROUPS if g.name == "task_gather_tree")
    n = group.instruction_ops

    def case(loop: str, variant: str, total: int) -> dict[str, object]:
        kinds = {"interpreter": total}
        return {"loop": loop, "group": group.name, "variant": variant, "runs": [total],
                "kinds": kinds, "top": [["f", "interpreter", total]]}  # fmt: skip

    counts = {
        "provenance": "a test",
        "loop_only": 1000,
        "cases": [
            {**case("asyncio", "x", 1000), "group": "loop", "variant": "run_until_complete"},
            {**case("uvloop", "x", 500), "group": "loop", "variant": "run_until_complete"},
            case("asyncio", "c_task", 1000 + 100 * n),
            case("asyncio", "rust_task", 1000 + 105 * n),
            case("uvloop", "c_task", 500 + 50 * n),
            case("uvloop", "rust_task", 500 + 60 * n),
        ],
    }
    rows = bench.instructions.per_op(counts)
    assert [(loop, v, round(c), round(r, 2)) for loop, _, v, c, r, _ in rows] == [
        ("asyncio", "c_task", 100, 1.0),
        ("asyncio", "rust_task", 105, 1.05),
        ("uvloop", "c_task", 50, 1.0),  # uvloop's own start and stop taken off
        ("uvloop", "rust_task", 60, 1.2),
    ]
    table = bench.instructions.markdown(counts, "f.json")
    assert "| uvloop | task_gather_tree/rust_task | 60 | 1.2x |" in table
    section = bench.instructions.profiles(counts)
    assert "| rust_task on uvloop | 60 | 60 |" in section


def test_estimated_cycles_are_shown_as_a_ratio_beside_the_instructions() -> None:
    n = next(g for g in bench.GROUPS if g.name == "future_round_trip").instruction_ops
    case = {"group": "future_round_trip"}
    counts = {
        "provenance": "a test",
        "loop_only": 1000,
        "cases": [
            {"group": "loop", "variant": "run_until_complete", "runs": [1000], "cycles": 500},
            {**case, "variant": "c_future", "runs": [1000 + 100 * n], "cycles": 500 + 2000},
            {**case, "variant": "rust_future", "runs": [1000 + 110 * n], "cycles": 500 + 2500},
        ],
    }
    assert bench.instructions.cycle_ratios(counts) == {
        ("asyncio", "future_round_trip", "c_future"): 1.0,
        ("asyncio", "future_round_trip", "rust_future"): 1.25,  # the loop's own cycles taken off
    }
    table = bench.instructions.markdown(counts, "f.json")
    assert "| asyncio | future_round_trip/rust_future | 110 | 1.1x | 1.25x |  |" in table


def _refused(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """Runs the command, which must refuse: exit 2, one line on stderr, nothing
    measured (no group's progress line) and no traceback."""
    assert bench.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("python -m coroscope.bench: ")
    return line


def test_an_unwritable_out_is_refused_before_anything_is_measured(
    tiny_groups: None, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = _refused(capsys, ["--quick", "--loops", "asyncio", "--out", str(blocker / "results")])
    assert f"--out {blocker / 'results'}: cannot write there" in line


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (None, "No such file or directory"),
        ("", "not a whole JSON file"),
        ('{"provenance": {"mode": "full"}, "results": [', "not a whole JSON file"),
        ('{"rows": []}', "not a results file"),
        ('{"provenance": {"format": 99}, "results": []}', "written by a newer coroscope"),
        ('{"provenance": [], "results": []}', "not a results file of this format"),
        ('{"provenance": {"mode": "quick", "python": "3"}, "results": 5}', "of this format"),
        ('{"provenance": {"mode": "quick", "python": "3"}, "results": [{}]}', "of this format"),
        ('{"provenance": {"format": "2"}, "results": []}', "not a results file of this format"),
    ],
    ids=[
        "missing",
        "empty",
        "truncated",
        "another file",
        "newer format",
        "provenance not a table",
        "results not a list",
        "a result with no fields",
        "format a string",
    ],
)
def test_a_report_of_a_file_it_cannot_read_says_why_in_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], content: str | None, why: str
) -> None:
    path = tmp_path / "results.json"
    if content is not None:
        path.write_text(content)
    assert why in _refused(capsys, ["--report", str(path)])


@pytest.mark.parametrize(
    ("flag", "content", "why"),
    [
        ("--instructions", '{"provenance": 1, "loop_only": 2, "cases": 3}', "TypeError"),
        (
            "--instructions",
            '{"provenance": "p", "loop_only": 1, "cases": [{"variant": "v", "runs": [1]}]}',
            "KeyError: 'group'",
        ),
        (
            "--report",
            json.dumps(
                {
                    "provenance": {"mode": "quick", "python": "3.11.7"},
                    "results": [
                        {
                            "loop": "asyncio",
                            "group": "bridge_ready",
                            "variant": v,
                            "baseline": "future_into_py",
                            "ops": 1,
                            "per_op": 0.0,
                            "unit": "ns/op",
                            "ratio": 0.0,
                        }
                        for v in ("future_into_py", "fast")
                    ],
                }
            ),
            "ZeroDivisionError",
        ),
    ],
    ids=["instructions of ints", "a case without its group", "a zero time"],
)
def test_a_file_of_the_right_shape_that_cannot_be_reported_is_refused_in_one_line(
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    content: str,
    why: str,
) -> None:
    path = tmp_path / "file.json"
    path.write_text(content)
    said = _refused(capsys, [flag, str(path)])
    assert f"{flag} {path}: cannot be reported ({why}" in said


@pytest.mark.parametrize("content", ["{}", "[1, 2]", '{"provenance": "x", "cases": []}'])
def test_an_instructions_file_of_another_shape_is_refused_in_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    path = tmp_path / "counts.json"
    path.write_text(content)
    assert "not an instructions file" in _refused(capsys, ["--instructions", str(path)])


def test_without_an_optional_loop_a_run_measures_on_the_others_and_says_so(
    tiny_groups: None,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now fails
    assert bench.main(["--quick", "--out", str(tmp_path)]) == 0
    assert "not installed, so not run on: uvloop" in capsys.readouterr().err
    (results_file,) = tmp_path.glob("*.json")
    data = json.loads(results_file.read_text())
    assert {r["loop"] for r in data["results"]} == {"asyncio", "rloop"}
    assert data["provenance"]["uvloop"] is None and data["provenance"]["rloop"]
    assert {row["loop"] for row in data["gil_waits"]["rows"]} == {"asyncio", "rloop"}
    with pytest.raises(SystemExit):
        bench.main(["--quick", "--loops", "uvloop", "--out", str(tmp_path)])
    assert "--loops uvloop: not installed" in capsys.readouterr().err


def test_without_matplotlib_a_run_writes_its_results_and_no_chart(
    tiny_groups: None,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert bench.main(["--quick", "--loops", "asyncio", "--out", str(tmp_path)]) == 0
    assert "matplotlib is not installed: no chart" in capsys.readouterr().err
    assert len(list(tmp_path.glob("*.json"))) == 1
    assert not list(tmp_path.glob("*.png"))


def test_a_versions_directory_without_runs_is_refused_in_one_line(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "no per-version results" in _refused(capsys, ["--versions", str(tmp_path)])
    assert "not a directory" in _refused(capsys, ["--versions", str(tmp_path / "nowhere")])


@pytest.mark.parametrize("flag", ["--out", "--loops", "--group", "--report"])
def test_an_empty_value_is_refused(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench.main(["--quick", flag, ""])
    assert f"{flag} needs a value" in capsys.readouterr().err


def test_results_files_say_their_format(tiny_groups: None, tmp_path: pathlib.Path) -> None:
    bench.main(["--quick", "--loops", "asyncio", "--out", str(tmp_path)])
    (results_file,) = tmp_path.glob("*.json")
    assert json.loads(results_file.read_text())["provenance"]["format"] == cli.FORMAT


def test_every_group_has_its_words_and_every_note_names_a_group() -> None:
    names = {group.name for group in bench.GROUPS}
    assert set(notes.NOTES) <= names
    assert all(notes.reading(name) for name in names)


def test_a_reason_for_a_miss_is_given_only_on_the_pythons_it_holds_for() -> None:
    """The am_send reason is about 3.12 to 3.14; printed for a 3.11 run, it was
    wrong there."""
    assert notes.if_missed("await_ready_value", "3.11.7") == ""
    assert "from 3.12 to 3.14" in notes.if_missed("await_ready_value", "3.13.0")
    assert notes.if_missed("await_ready_value", "3.15.0a2") == ""
    assert notes.if_missed("future_round_trip", "3.11.7")  # one reason for every version


TIMED = [(g, name, w) for g in bench.GROUPS if g.unit == "ns/op" for name, w in g.variants]


@pytest.mark.parametrize(
    ("group", "variant", "workload"), TIMED, ids=[f"{g.name}/{v}" for g, v, _ in TIMED]
)
def test_a_timed_variant_does_exactly_the_operations_asked_and_each_gives_what_it_should(
    group: bench.Group, variant: str, workload: Any
) -> None:
    """Criterion reads the time per operation off how the time grows with ``n``:
    a workload that rounds ``n`` (to whole tasks, whole trees) would skew it."""
    for n in (1, 7, 101):
        assert asyncio.run(workload(n)) == n


def test_a_run_stops_at_a_variant_that_gives_the_wrong_thing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    group = next(g for g in bench.GROUPS if g.name == "bridge_ready")
    wrong = dataclasses.replace(
        group, ops=100, variants=[("ready_but_2", workloads.sequential(lambda: Ready(2), 1))]
    )
    monkeypatch.setattr(cli, "GROUPS", [wrong])
    with pytest.raises(AssertionError, match="bridge_ready/ready_but_2: 0 of 100 operations"):
        bench.main(["--quick", "--loops", "asyncio", "--out", str(tmp_path)])


def test_the_instruction_bench_counts_every_timed_variant() -> None:
    """gungraun needs its cases written out in ``benches/instructions.rs``; this
    keeps that list in step with the groups. The eager variants are left out:
    they exist from 3.12, and a case the venv's Python lacks would stop the bench."""
    cases = (ROOT / "benches" / "instructions.rs").read_text()
    missing = [
        f"{g.name}/{v}"
        for g, v, _ in TIMED
        if not v.endswith("_eager") and f'("{g.name}", "{v}")' not in cases
    ]
    assert missing == []


def test_the_chart_draws_each_bar_from_1_to_its_ratio_in_its_own_row() -> None:
    """A bar drawn from the left edge made a baseline look large; bars placed by
    position put a loop's variant in another's row when a loop had fewer."""
    results = [
        bench.Result("asyncio", "g", v, "base", 100, 1.0, "ns/op", ratio)
        for v, ratio in (("base", 1.0), ("half", 0.5), ("double", 2.0))
    ] + [bench.Result("uvloop", "g", "double", "base", 100, 1.0, "ns/op", 4.0)]
    fig = bench.chart.figure(results, "a test")
    bars = [p for p in fig.axes[0].patches if p.get_height() < 0.5]
    ends = sorted((b.get_x(), b.get_x() + b.get_width()) for b in bars)
    assert ends == [(1.0, 0.5), (1.0, 1.0), (1.0, 2.0), (1.0, 4.0)]
    rows = {round(b.get_y() + b.get_height() / 2) for b in bars if b.get_width() == 3.0}
    assert rows == {2}  # uvloop's "double" sits in "double"'s row


def test_a_workload_takes_n_as_range_takes_it() -> None:
    """A whole number, none below zero: a float made the gather tree halve for
    ever, a negative n counted negative operations, a width of 0 or less did
    nothing or failed in range()."""
    with pytest.raises(TypeError):
        asyncio.run(workloads.gather_tree(2.5))  # type: ignore[arg-type]
    assert asyncio.run(workloads.gather_tree(-250)) == 0
    for width in (0, -1):
        with pytest.raises(ValueError, match="width must be at least 1"):
            workloads.batched(lambda: asyncio.sleep(0), None, width)
