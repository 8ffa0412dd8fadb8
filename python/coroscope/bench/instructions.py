"""Instructions per operation: the Callgrind counts of ``make bench-instructions``.

``benches/instructions.rs`` (gungraun) runs every timed ``group/variant`` of the
Python runner once under Callgrind; ``tools/instructions.py`` reads gungraun's
summaries after two runs and writes one JSON file: for each case its total
instructions in each run. This module turns that file into per-operation
counts (the loop's own start and stop, the ``loop_only`` case, taken off; the
rest divided by ``Group.instruction_ops``), each group's ratios to its baseline,
and how far the two runs were apart: the BENCHMARKS.md section. ``profiles``
renders where each case's instructions went (by kind of code, and the heaviest
functions), with what each group's profile shows (``notes.toml``).
"""

from __future__ import annotations

from typing import Any

from coroscope._loops import LOOPS
from coroscope.bench import notes
from coroscope.bench.groups import GROUPS

# The case every total includes once: run_until_complete of a coroutine doing nothing.
LOOP_ONLY = ("loop", "run_until_complete")
# The kinds of code `tools/instructions.py` sorts functions into, in table order.
KINDS = (
    "interpreter",
    "CPython objects",
    "allocation",
    "asyncio C",
    "PyO3",
    "ours",
    "tokio",
    "C library",
    "other",
)
HEAVIEST = 3  # functions named per case


def _cases(data: dict[str, Any]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """Every case by (loop, group, variant); a case saved without its loop ran
    on asyncio."""
    return {(c.get("loop", "asyncio"), c["group"], c["variant"]): c for c in data["cases"]}


def _loops(cases: dict[tuple[str, str, str], Any]) -> list[str]:
    """The loops counted (each with its own ``loop_only`` case), asyncio first."""
    return [loop for loop in LOOPS if (loop, *LOOP_ONLY) in cases]


def per_op(data: dict[str, Any]) -> list[tuple[str, str, str, float, float, float | None]]:
    """(loop, group, variant, instructions per op, ratio to the group's baseline on
    the same loop, the two runs' difference as a fraction of the first, or None if
    one run is missing) for every case, asyncio's first, in the groups' order."""
    cases = _cases(data)
    rows = []
    for loop_name in _loops(cases):
        loop = cases[(loop_name, *LOOP_ONLY)]["runs"][-1]
        for group in GROUPS:
            counted = [n for n, _ in group.variants if (loop_name, group.name, n) in cases]
            if group.variants[0][0] not in counted:
                continue
            runs = {name: cases[loop_name, group.name, name]["runs"] for name in counted}
            each = {name: (runs[name][-1] - loop) / group.instruction_ops for name in counted}
            baseline = each[group.variants[0][0]]
            for name in counted:
                first, last = runs[name][0], runs[name][-1]
                apart = abs(last - first) / first if len(runs[name]) > 1 else None
                rows.append((loop_name, group.name, name, each[name], each[name] / baseline, apart))
    return rows


def cycle_ratios(data: dict[str, Any]) -> dict[tuple[str, str, str], float]:
    """Each case's estimated cycles (Callgrind's cache simulation: instructions
    plus a weight per cache miss), its loop's own taken off, over its group's
    baseline's on the same loop: for cases saved with them."""
    cycles = {key: c["cycles"] for key, c in _cases(data).items() if "cycles" in c}
    ratios = {}
    for loop_name in LOOPS:
        loop = cycles.get((loop_name, *LOOP_ONLY))
        for group in GROUPS:
            base = cycles.get((loop_name, group.name, group.variants[0][0]))
            if loop is None or base is None:
                continue
            for name, _ in group.variants:
                if (key := (loop_name, group.name, name)) in cycles:
                    ratios[key] = (cycles[key] - loop) / (base - loop)
    return ratios


def markdown(data: dict[str, Any], source: str) -> str:
    """The BENCHMARKS.md section for an instructions file."""
    rows = per_op(data)
    apart = [a for *_, a in rows if a is not None]
    worst = max(apart, default=0.0)
    within = sum(a <= 0.01 for a in apart)
    out = [
        "## Instructions per operation (Callgrind)",
        "",
        f"From `{source}` (`make bench-instructions`: `benches/instructions.rs` under "
        "gungraun, twice). Wall time on a shared machine moves by 10-30 % from run to "
        "run; instruction counts barely move. Each count is the case's total less the "
        f"loop's own start and stop ({data['loop_only']:,} instructions on asyncio), "
        "over its operations; the ratio is to the group's baseline on the same loop, in "
        "instructions. The Task groups and the future round trip are counted on uvloop "
        "too, where their goals also hold. "
        "Counted on the loop's thread only: work a case hands to tokio's threads "
        "(the bridges through tokio, wakes, timers) is not in it, and waiting costs "
        "no instructions, so for the groups that cross threads read the ns/op too. "
        f"{within} of {len(apart)} cases agree between the two runs within 1 % "
        f"(the widest apart: {worst:.2%}; the cases woken from other threads move "
        "most: how many wakes the loop finds at once depends on the threads' "
        "interleaving).",
        "",
        f"Provenance: {data['provenance']}.",
        "",
        "The cycles ratio is the same ratio in Callgrind's estimated cycles, which add a "
        "weight for each simulated cache miss: where it is above the instructions' ratio, "
        "the variant runs more scattered code or touches more memory than its baseline, "
        "a cost wall time shows and a count does not.",
        "",
        "| loop | group/variant | instructions per op | ratio | cycles ratio | two runs apart |",
        "|---|---|---:|---:|---:|---:|",
    ]
    cycles = cycle_ratios(data)
    for loop, group, variant, count, ratio, runs_apart in rows:
        shown = "" if runs_apart is None else f"{runs_apart:.2%}"
        key = (loop, group, variant)
        cycled = f"{cycles[key]:.3g}x" if key in cycles else ""
        out.append(
            f"| {loop} | {group}/{variant} | {count:,.0f} | {ratio:.3g}x | {cycled} | {shown} |"
        )
    return "\n".join(out) + "\n"


def profiles(data: dict[str, Any]) -> str:
    """The BENCHMARKS.md section "Where the time goes": per group, each case's
    instructions per operation by kind of code, its heaviest functions, and
    what the profile shows (``notes.toml``)."""
    cases = {key: c for key, c in _cases(data).items() if "kinds" in c}
    out = [
        "## Where the time goes (Callgrind profiles)",
        "",
        "Each case's instructions per operation by the kind of code that ran them "
        "(each function's own instructions, not its callees', so a row adds up to "
        "the case's count; the loop's start and stop taken off): the interpreter "
        "running Python code (the loop's own, the benchmark's, coroutines'), CPython's "
        "object machinery (calls, dicts, types, exceptions), allocation and the cycle "
        "collector, asyncio's C module, PyO3's glue (trampolines, argument parsing, "
        "object creation), our own code, tokio, and the C library (thread-locals, "
        "memset, locks). Then each case's heaviest functions (per operation, loop "
        "included), and what the profile showed. A case on uvloop is named so.",
    ]
    for group in GROUPS:
        counted = [
            (loop, name)
            for loop in LOOPS
            for name, _ in group.variants
            if (loop, group.name, name) in cases
        ]
        if not counted:
            if said := notes.profiled(group.name):  # measured in another unit: in words
                out += ["", f"### {group.name}", "", said]
            continue
        ops = group.instruction_ops
        out += [
            "",
            f"### {group.name}",
            "",
            "| variant | total | " + " | ".join(KINDS) + " |",
            "|---" + "|---:" * (len(KINDS) + 1) + "|",
        ]
        for loop, name in counted:
            kinds = cases[loop, group.name, name]["kinds"]
            loop_kinds = cases.get((loop, *LOOP_ONLY), {}).get("kinds", {})
            each = [max(0.0, (kinds.get(k, 0) - loop_kinds.get(k, 0)) / ops) for k in KINDS]
            out.append(
                f"| {_named(loop, name)} | {sum(each):,.0f} | "
                + " | ".join(f"{v:,.0f}" for v in each)
                + " |"
            )
        out.append("")
        for loop, name in counted:
            top = cases[loop, group.name, name]["top"][:HEAVIEST]
            named = "; ".join(f"`{fn}` ({kind}) {count / ops:,.0f}" for fn, kind, count in top)
            out.append(f"- {_named(loop, name)}: {named}")
        if said := notes.profiled(group.name):
            out += ["", said]
    return "\n".join(out) + "\n"


def _named(loop: str, variant: str) -> str:
    return variant if loop == "asyncio" else f"{variant} on {loop}"
