"""Instructions per operation: the Callgrind counts of ``make bench-instructions``.

``benches/instructions.rs`` (gungraun) runs every timed ``group/variant`` of the
Python runner once under Callgrind; ``tools/instructions.py`` reads gungraun's
summaries after two runs and writes one JSON file: for each case its total
instructions in each run. This module turns that file into per-operation
counts (the loop's own start and stop, the ``loop_only`` case, taken off; the
rest divided by ``Group.instruction_ops``), each group's ratios to its baseline,
and how far the two runs were apart: the BENCHMARKS.md section. ``profiles``
renders where each case's instructions went (by kind of code, and the heaviest
functions), with what each group's profile showed (``Group.profiled``).
"""

from __future__ import annotations

from typing import Any

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


def per_op(data: dict[str, Any]) -> list[tuple[str, str, float, float, float | None]]:
    """(group, variant, instructions per op, ratio to the group's baseline, the two
    runs' difference as a fraction of the first, or None if one run is missing)
    for every case, in the groups' order."""
    totals = {(c["group"], c["variant"]): c["runs"] for c in data["cases"]}
    loop = totals[LOOP_ONLY][-1]
    rows = []
    for group in GROUPS:
        counted = [name for name, _ in group.variants if (group.name, name) in totals]
        if not counted:
            continue
        each = {
            name: (totals[group.name, name][-1] - loop) / group.instruction_ops for name in counted
        }
        baseline = each[group.variants[0][0]]
        for name in counted:
            runs = totals[group.name, name]
            apart = abs(runs[-1] - runs[0]) / runs[0] if len(runs) > 1 else None
            rows.append((group.name, name, each[name], each[name] / baseline, apart))
    return rows


def cycle_ratios(data: dict[str, Any]) -> dict[tuple[str, str], float]:
    """Each case's estimated cycles (Callgrind's cache simulation: instructions
    plus a weight per cache miss), the loop's own taken off, over its group's
    baseline's: for cases saved with them."""
    cycles = {(c["group"], c["variant"]): c["cycles"] for c in data["cases"] if "cycles" in c}
    loop = cycles.get(LOOP_ONLY)
    ratios = {}
    for group in GROUPS:
        base = cycles.get((group.name, group.variants[0][0]))
        if loop is None or base is None:
            continue
        for name, _ in group.variants:
            if (group.name, name) in cycles:
                ratios[group.name, name] = (cycles[group.name, name] - loop) / (base - loop)
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
        f"loop's own start and stop ({data['loop_only']:,} instructions), over its "
        "operations; the ratio is to the group's baseline, in instructions. "
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
        "| group/variant | instructions per op | ratio | cycles ratio | two runs apart |",
        "|---|---:|---:|---:|---:|",
    ]
    cycles = cycle_ratios(data)
    for group, variant, count, ratio, runs_apart in rows:
        shown = "" if runs_apart is None else f"{runs_apart:.2%}"
        cycled = f"{cycles[group, variant]:.3g}x" if (group, variant) in cycles else ""
        out.append(f"| {group}/{variant} | {count:,.0f} | {ratio:.3g}x | {cycled} | {shown} |")
    return "\n".join(out) + "\n"


def profiles(data: dict[str, Any]) -> str:
    """The BENCHMARKS.md section "Where the time goes": per group, each case's
    instructions per operation by kind of code, its heaviest functions, and
    what the profile showed (``Group.profiled``)."""
    cases = {(c["group"], c["variant"]): c for c in data["cases"] if "kinds" in c}
    loop = cases.get(LOOP_ONLY, {}).get("kinds", {})
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
        "included), and what the profile showed.",
    ]
    for group in GROUPS:
        counted = [name for name, _ in group.variants if (group.name, name) in cases]
        if not counted:
            if group.profiled:  # measured in another unit: what it showed, in words
                out += ["", f"### {group.name}", "", group.profiled]
            continue
        ops = group.instruction_ops
        out += [
            "",
            f"### {group.name}",
            "",
            "| variant | total | " + " | ".join(KINDS) + " |",
            "|---" + "|---:" * (len(KINDS) + 1) + "|",
        ]
        for name in counted:
            kinds = cases[group.name, name]["kinds"]
            each = [max(0.0, (kinds.get(k, 0) - loop.get(k, 0)) / ops) for k in KINDS]
            out.append(
                f"| {name} | {sum(each):,.0f} | " + " | ".join(f"{v:,.0f}" for v in each) + " |"
            )
        out.append("")
        for name in counted:
            top = cases[group.name, name]["top"][:HEAVIEST]
            named = "; ".join(f"`{fn}` ({kind}) {count / ops:,.0f}" for fn, kind, count in top)
            out.append(f"- {name}: {named}")
        if group.profiled:
            out += ["", group.profiled]
    return "\n".join(out) + "\n"
