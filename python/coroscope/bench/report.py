"""Reporting: the one-screen summary a run prints, the goals, and BENCHMARKS.md."""

from __future__ import annotations

import pathlib
import platform
import re
from typing import Any

from coroscope.bench import notes
from coroscope.bench.groups import GROUPS, NOT_MEASURED, Group
from coroscope.bench.run import Result

# Two results within this fraction of each other are reported as the same.
SAME = 0.03


def in_words(ratio: float, unit: str) -> str:
    """``0.25`` -> ``"4x faster"``; ``3.0`` -> ``"3x slower"`` (memory: less, more)."""
    faster, slower = ("less memory", "more memory") if unit != "ns/op" else ("faster", "slower")
    if abs(ratio - 1) <= SAME:
        return "the same as" if unit != "ns/op" else "as fast as"
    if ratio < 1:
        return f"{1 / ratio:.3g}x {faster} than"
    return f"{ratio:.3g}x {slower} than"


def beside_baseline(ratio: float, unit: str) -> str:
    """``in_words`` with nothing after it: ``"4x faster"``, ``"as fast"``."""
    return in_words(ratio, unit).removesuffix(" than").removesuffix(" as")


def goal_verdicts(
    results: list[Result], groups: list[Group] = GROUPS
) -> list[tuple[str, str, str, str]]:
    """(loop, measure, goal, outcome) for every goal of every group."""
    rows = []
    by_key = {(r.loop, r.group, r.variant): r for r in results}
    for loop_name in dict.fromkeys(r.loop for r in results):
        for group in groups:
            for variant, versus, bound in group.goals:
                mine = by_key.get((loop_name, group.name, variant))
                if mine is None:
                    continue
                if versus is None:
                    measure_name = f"{group.name}: {variant}"
                    goal, value = f"<= {bound:,.0f} {mine.unit}", mine.per_op
                    shown = f"{value:,.0f} {mine.unit}"
                else:
                    theirs = by_key.get((loop_name, group.name, versus))
                    if theirs is None:
                        continue
                    measure_name = f"{group.name}: {variant} / {versus}"
                    goal, value = f"<= {bound:.3g}x", mine.per_op / theirs.per_op
                    digits = 3  # more where three would round a miss onto the goal
                    while float(f"{value:.{digits}g}") <= bound < value:
                        digits += 1
                    shown = f"{value:.{digits}g}x"
                verdict = "met" if value <= bound else "missed"
                rows.append((loop_name, measure_name, goal, f"{shown} ({verdict})"))
    return rows


def outside_collector(results: list[Result], loop: str, measure: str) -> str:
    """For a time ratio (``"group: variant / versus"``), ``"; "`` and the same
    ratio with each side's time in the cycle collector taken off: the share of
    the wall time that the collector's passes over more (or bigger) objects
    explain, which no instruction count of the code under test shows. Empty
    when not measured."""
    group, _, pair = measure.partition(": ")
    variant, _, versus = pair.partition(" / ")
    by_key = {(r.group, r.variant): r for r in results if r.loop == loop}
    mine, theirs = by_key.get((group, variant)), by_key.get((group, versus))
    if mine is None or theirs is None or mine.collector is None or theirs.collector is None:
        return ""
    outside = (mine.per_op - mine.collector) / (theirs.per_op - theirs.collector)
    return f"; outside the cycle collector {outside:.3g}x"


def summary(results: list[Result], groups: list[Group] = GROUPS) -> list[str]:
    """One line per group: its fastest variant against its baseline, in words, on
    the first loop, with the other loops' factor and the spread of the rounds;
    then the goals, and a reason beside each missed one."""
    loops = list(dict.fromkeys(r.loop for r in results))
    first, others = loops[0], loops[1:]
    lines = [f"each group's fastest way against its baseline, on {first} (spread of the rounds):"]
    for group in groups:
        rows = [r for r in results if r.group == group.name and r.loop == first]
        if not rows:
            continue
        best = min(rows, key=lambda r: r.per_op)
        if best.variant == best.baseline:
            runner_up = min((r for r in rows if r is not best), key=lambda r: r.per_op)
            said = (
                f"{best.variant} (the baseline) is fastest; next {runner_up.variant} "
                f"{beside_baseline(runner_up.ratio, group.unit)}"
            )
            shown = runner_up
        else:
            said = f"{best.variant} {in_words(best.ratio, group.unit)} {best.baseline}"
            shown = best
        elsewhere = [
            f"{r.loop}: {beside_baseline(r.ratio, group.unit)}"
            for r in results
            if r.loop in others and r.group == group.name and r.variant == shown.variant
        ]
        asides = [f"±{shown.spread / 2:.0%}"] if shown.spread is not None else []
        asides += elsewhere
        lines.append(f"  {group.name:<27} {said}" + (f" ({'; '.join(asides)})" if asides else ""))
    verdicts = [v for v in goal_verdicts(results, groups) if v[0] == first]
    missed = [v for v in verdicts if v[3].endswith("(missed)")]
    lines.append(f"goals on {first}: {len(verdicts) - len(missed)} of {len(verdicts)} met")
    for group in groups:
        mine = [
            f"{measure.split(': ', 1)[1]} {outcome.split()[0]} "
            f"(goal {goal}{outside_collector(results, first, measure)})"
            for _, measure, goal, outcome in missed
            if measure.startswith(f"{group.name}: ")
        ]
        if mine:
            lines.append(f"  missed in {group.name}: {', '.join(mine)}")
            if why := notes.if_missed(group.name, platform.python_version()):
                lines.append(f"    why: {why}")
    return lines


def table(results: list[Result]) -> str:
    """Every variant on every loop (``--table``)."""
    lines = [
        f"{'loop':<8} {'group/variant':<44} {'per op':>16} {'ratio':>8} {'spread':>7} {'in gc':>9}"
    ]
    for r in results:
        mark = " (baseline)" if r.variant == r.baseline else ""
        label = f"{r.group}/{r.variant}{mark}"
        per_op = f"{r.per_op:,.0f} {r.unit}"
        spread = "" if r.spread is None else f"{r.spread:.0%}"
        in_gc = "" if r.collector is None else f"{r.collector:,.0f} ns"
        lines.append(
            f"{r.loop:<8} {label:<44} {per_op:>16} {r.ratio:>7.3g}x {spread:>7} {in_gc:>9}"
        )
    return "\n".join(lines)


def committed_run(root: pathlib.Path) -> pathlib.Path:
    """The results file BENCHMARKS.md was generated from (a full run), not the
    newest local one (usually a ``--quick`` run)."""
    text = (root / "BENCHMARKS.md").read_text()
    found = re.search(r"--report (\S+\.json)", text)
    if found is None:
        raise FileNotFoundError("BENCHMARKS.md does not name its results file")
    return root / found.group(1)


def markdown(data: dict[str, Any], source: str) -> str:
    """BENCHMARKS.md for a results file."""
    prov = data["provenance"]
    results = [Result(**r) for r in data["results"]]
    goals = []
    for loop, measure, goal, outcome in goal_verdicts(results):
        why = outside_collector(results, loop, measure) if outcome.endswith("(missed)") else ""
        goals.append(f"| {loop} | {measure} | {goal} | {outcome}{why} |")
    out = [
        "# Benchmarks",
        "",
        f"Generated by `python -m coroscope.bench --report {source}` from a "
        f"{prov['mode']} run; rerun with `python -m coroscope.bench` (`make demo` "
        "runs `--quick`). Each ratio divides a variant's time per operation by its "
        "group's baseline, measured in the same run on the same loop; below 1 is faster. "
        "Of each time, the part the cycle collector took (timed through `gc.callbacks`) "
        "is shown too: its passes run wherever allocations cross its threshold, and "
        "their cost grows with the objects alive, so a missed time goal also gives its "
        "ratio outside the collector.",
        "",
        "| provenance | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in prov.items()),
        "",
        "## Goals",
        "",
        "| loop | measure | goal | this run |",
        "|---|---|---|---|",
        *goals,
        "",
    ]
    for group in GROUPS:
        rows = [r for r in results if r.group == group.name]
        if not rows:
            continue
        out += [f"## {group.name}", "", f"{group.what}.", ""]
        out += [
            f"| loop | variant | {group.unit} | ratio | per second | of which in the collector |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for r in rows:
            name = f"{r.variant} (baseline)" if r.variant == r.baseline else r.variant
            rate = f"{1e9 / r.per_op:,.0f}" if r.unit == "ns/op" else ""
            in_gc = f"{r.collector:,.0f}" if r.collector is not None else ""
            out.append(
                f"| {r.loop} | {name} | {r.per_op:,.0f} | {r.ratio:.3g}x | {rate} | {in_gc} |"
            )
        out += ["", f"What it teaches: {notes.reading(group.name)}", ""]
        if why := notes.if_missed(group.name, prov.get("python", "")):
            out += [f"When a goal is missed: {why}.", ""]
    if "gil_waits" in data:  # runs before 2026-12-05 did not measure them
        from coroscope.bench import gil_waits  # not at the top: see `cli`

        out += [*gil_waits.markdown(data["gil_waits"]), ""]
    out += ["## Not measured yet", "", *(f"- {gap}" for gap in NOT_MEASURED), ""]
    return "\n".join(out)
