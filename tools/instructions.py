"""Collect the Callgrind counts of ``benches/instructions.rs`` into one JSON file.

    make bench-instructions     # installs what it needs, runs the bench twice, then this

gungraun keeps, per case, a ``summary.json`` with this run's instruction count
(``Ir``) and the previous run's. This reads them all (under ``target/gungraun``)
and writes ``bench-results/instructions/<when>.json``: per case its group,
variant and the two runs' totals, plus provenance. ``python -m coroscope.bench
--instructions FILE`` renders it (per operation, ratios, agreement).
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUMMARIES = ROOT / "target" / "gungraun" / "coroscope" / "instructions"
CASE = re.compile(r'prepare\("([^"]+)", "([^"]+)"\)')


def collect() -> dict[str, object]:
    cases = []
    for path in sorted(SUMMARIES.glob("*/*/summary.json")):
        summary = json.loads(path.read_text())
        found = CASE.search(summary["description"])
        if found is None:
            continue
        (profile,) = summary["profiles"]
        counts = profile["data"]["parts"][0]["metrics"]["Ir"]["values"]
        runs = [counts[key] for key in ("old", "new") if counts.get(key) is not None]
        cases.append({"group": found.group(1), "variant": found.group(2), "runs": runs})
    if not cases:
        raise SystemExit(f"no gungraun summaries under {SUMMARIES}: run `make bench-instructions`")
    (loop_only,) = [c["runs"][-1] for c in cases if c["group"] == "loop"]
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
