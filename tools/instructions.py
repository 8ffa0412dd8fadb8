"""Collect the Callgrind counts of ``benches/instructions.rs`` into one JSON file.

    make bench-instructions     # installs what it needs, runs the bench twice, then this

gungraun keeps, per case, a ``summary.json`` with this run's instruction count
(``Ir``) and the previous run's. This reads them all (under ``target/gungraun``)
and writes ``bench-results/instructions/<when>.json``: per case its group,
variant and the two runs' totals, plus provenance. ``python -m coroscope.bench
--instructions FILE`` renders it (per operation, ratios, agreement).

It also keeps, per case, where the instructions went (the profile): every
function's *self* cost in the newer run (``callgrind_annotate --inclusive=no``),
summed by ``kind`` (the interpreter, CPython's objects, allocation, asyncio's C
module, PyO3's glue, our own code, tokio, the C library), and the heaviest
functions by name. Self cost, not inclusive, so that a case's kinds add up to
its total: a function's callees count for their own kinds.
"""

from __future__ import annotations

import collections
import json
import pathlib
import re
import subprocess
import sys
import time

from coroscope.bench.groups import GROUPS

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUMMARIES = ROOT / "target" / "gungraun" / "coroscope" / "instructions"
# A case's description is its setup call: `prepare` sets an asyncio loop up,
# `on_uvloop` a uvloop one.
CASE = re.compile(r'(prepare|on_uvloop)\("([^"]+)", "([^"]+)"\)')
# gungraun cuts a long description short: 'prepare("g", "python_stop_iterati...'.
CUT_CASE = re.compile(r'(prepare|on_uvloop)\("([^"]+)", "([^"]*)"?\.\.\.')
LOOP_OF = {"prepare": "asyncio", "on_uvloop": "uvloop"}
# A line of `callgrind_annotate --show=Ir`: count (share) source:function [object].
# The object is left out for code inlined from a header (`object.h:type_call`).
FUNCTION = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(\S+?):(.*?)(?: \[(.*)\])?$")
TOP = 12  # the heaviest functions kept per case
INTERPRETER = ("ceval.c", "frame.c", "frameobject.c", "genobject.c", "specialize.c", "pystate.c")
INTERPRETER_FUNCTIONS = ("_PyEval", "_PyFrame_", "PyGen_", "gen_", "initialize_locals")


def kind(source: str, function: str, binary: str) -> str:
    """What a function is, for the profile. The order matters: PyO3's generated
    wrappers carry our names (``Future::__pymethod_set_result__``), a trait
    method is named by both sides (``<coroscope::X as pyo3::Y>::f`` is ours), and
    code inlined from a header is named by the header (``object.h``)."""
    if "/_asyncio." in binary or source.endswith("_asynciomodule.c"):
        return "asyncio C"
    if source.endswith(("obmalloc.c", "gcmodule.c")) or re.search(
        r"^(_int_)?(malloc|free|calloc|realloc|cfree)\b|__rust_(de)?alloc|__rdl_|raw_vec", function
    ):
        return "allocation"
    if "__pymethod" in function or "__pyfunction" in function:
        return "PyO3"
    implementor = function.split(" as ")[0]
    if "coroscope::" in implementor:
        return "ours"
    if "pyo3::" in function:
        return "PyO3"
    if "coroscope::" in function:
        return "ours"
    if re.search(r"\b(tokio|mio)::", function):
        return "tokio"
    if source.endswith(INTERPRETER) or function.startswith(INTERPRETER_FUNCTIONS):
        return "interpreter"
    if "libpython" in binary or "lib-dynload" in binary or "/Python-3" in source:
        return "CPython objects"
    if "libc.so" in binary or "ld-linux" in binary:
        return "C library"
    return "other"


def profile(outs: list[pathlib.Path]) -> dict[str, object]:
    """Self cost by kind, and the heaviest functions, of one case's Callgrind
    files (one per thread when the case started threads)."""
    annotated = "\n".join(
        subprocess.run(
            ["callgrind_annotate", "--inclusive=no", "--show=Ir", "--threshold=100", str(out)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for out in outs
    )
    return summed(annotated)


def summed(annotated: str) -> dict[str, object]:
    """``callgrind_annotate``'s per-function lines, summed by kind; the heaviest
    functions by name (recursion levels, ``f'2``, counted as ``f``)."""
    kinds: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in annotated.splitlines():
        found = FUNCTION.match(line)
        if found is None:
            continue
        count = int(found.group(1).replace(",", ""))
        function = re.sub(r"'\d+$", "", found.group(3))  # callgrind's recursion depth
        what = kind(found.group(2), function, found.group(4) or "")
        kinds[what] += count
        functions[function, what] += count
    return {
        "kinds": dict(kinds),
        "top": [[name, what, count] for (name, what), count in functions.most_common(TOP)],
    }


def case_named(description: str) -> tuple[str, str, str] | None:
    """The case's (loop, group, variant), from its gungraun description."""
    found = CASE.search(description) or CUT_CASE.search(description)
    if found is None:
        return None
    setup, group_name, variant = found.groups()
    if found.re is CUT_CASE:
        group = next(g for g in GROUPS if g.name == group_name)
        (variant,) = [name for name, _ in group.variants if name.startswith(variant)]
    return LOOP_OF[setup], group_name, variant


def collect() -> dict[str, object]:
    cases = []
    for path in sorted(SUMMARIES.glob("*/*/summary.json")):
        summary = json.loads(path.read_text())
        named = case_named(summary["description"])
        if named is None:
            continue
        loop, group, variant = named
        (measured,) = summary["profiles"]
        metrics = measured["data"]["total"]["metrics"]
        counts = metrics["Ir"]["values"]
        runs = [counts[key] for key in ("old", "new") if counts.get(key) is not None]
        # Callgrind's cache simulation, weighed into cycles by gungraun (a miss
        # costs more than an instruction): nearer wall time than a count.
        cycles = metrics["EstimatedCycles"]["values"]["new"]
        outs = sorted(path.parent.glob("callgrind.*.out"))  # `.out.old`: the run before
        cases.append(
            {
                "loop": loop,
                "group": group,
                "variant": variant,
                "runs": runs,
                "cycles": cycles,
                **profile(outs),
            }
        )
    if not cases:
        raise SystemExit(f"no gungraun summaries under {SUMMARIES}: run `make bench-instructions`")
    (loop_only,) = [c["runs"][-1] for c in cases if c["group"] == "loop" and c["loop"] == "asyncio"]
    valgrind = subprocess.run(["valgrind", "--version"], capture_output=True, text=True)
    provenance = (
        f"{time.strftime('%Y-%m-%d')}, CPython {sys.version.split()[0]}, "
        f"{valgrind.stdout.strip()}, gungraun 0.20, the release build `make develop` installs"
    )
    return {"provenance": provenance, "loop_only": loop_only, "cases": cases}


def main() -> int:
    data = collect()
    out = ROOT / "bench-results" / "instructions"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{len(data['cases'])} cases -> {path.relative_to(ROOT)}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
