"""Instructions per operation: the Callgrind counts of ``make bench-instructions``.

``benches/instructions.rs`` (gungraun) runs every timed ``group/variant`` of the
Python runner once under Callgrind; ``tools/instructions.py`` reads gungraun's
summaries after two runs and writes one JSON file: for each case its total
instructions in each run. This module turns that file into per-operation
counts (the loop's own start and stop, the ``loop_only`` case, taken off; the
rest divided by ``Group.instruction_ops``), each group's ratios to its baseline,
and how far the two runs were apart: the BENCHMARKS.md section.
"""

from __future__ import annotations

from typing import Any

from coroscope.bench.groups import GROUPS

# The case every total includes once: run_until_complete of a coroutine doing nothing.
LOOP_ONLY = ("loop", "run_until_complete")


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
        f"{within} of {len(apart)} cases agree between the two runs within 1 % "
        f"(the widest apart: {worst:.2%}; cases woken from other threads move most, "
        "with the threads' interleaving).",
        "",
        f"Provenance: {data['provenance']}.",
        "",
        "| group/variant | instructions per op | ratio | two runs apart |",
        "|---|---:|---:|---:|",
    ]
    for group, variant, count, ratio, runs_apart in rows:
        shown = "" if runs_apart is None else f"{runs_apart:.2%}"
        out.append(f"| {group}/{variant} | {count:,.0f} | {ratio:.3g}x | {shown} |")
    return "\n".join(out) + "\n"
