"""The cross-version study: the same quick run under each CPython, read side by side.

``make bench-versions`` (``tools/matrix.py --bench``) builds the kit for every
installed CPython 3.11 to 3.15, each in its own venv, and runs
``python -m coroscope.bench --quick`` under each into one directory, one results
file per version. This module reads such a directory: for every group and
variant, time per operation and the ratio to *that version's own* baseline,
per version. Time per operation tells how ``await`` got cheaper from version to
version; the ratio tells where Rust's advantage grows or shrinks (a faster
interpreter makes the baseline cheaper, so a fixed Rust cost weighs more).

Each version's numbers come from its own run (their provenance is kept, one row
per version); runs of one directory are made one after another on one machine.
"""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coroscope.bench.chart import write
from coroscope.bench.groups import GROUPS
from coroscope.bench.run import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Provenance fields worth a column: what differs between the runs of one study.
PROVENANCE = ("python", "when", "mode", "loops", "uvloop", "pyo3")


def load(
    directory: pathlib.Path,
    read: Callable[[pathlib.Path], dict[str, Any]] = lambda path: json.loads(path.read_text()),
) -> dict[str, dict[str, Any]]:
    """``{"3.11": results data, ...}`` for the results files in ``directory``,
    in version order (a file is named by its version, ``3.12.json``), each
    read by ``read`` (the command line's checks its files as it reads them)."""
    runs = {}
    for path in sorted(directory.glob("3.*.json"), key=lambda p: _version_key(p.stem)):
        runs[path.stem] = read(path)
    if not runs:
        raise FileNotFoundError(f"no per-version results (3.X.json) in {directory}")
    return runs


def committed_study(root: pathlib.Path) -> pathlib.Path:
    """The directory BENCHMARKS.md's cross-version section was made from."""
    found = re.search(r"files in `([^`]+)`", (root / "BENCHMARKS.md").read_text())
    if found is None:
        raise FileNotFoundError("BENCHMARKS.md has no cross-version section")
    return root / found.group(1)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _results(data: dict[str, Any], loop: str) -> dict[tuple[str, str], Result]:
    return {
        (r.group, r.variant): r
        for r in (Result(**raw) for raw in data["results"])
        if r.loop == loop and r.unit == "ns/op"
    }


def rows(
    runs: dict[str, dict[str, Any]], loop: str = "asyncio"
) -> list[tuple[str, str, dict[str, Result]]]:
    """(group, variant, {version: result}) for every timed variant on ``loop``, in
    the groups' order; a variant some version lacks (eager tasks before 3.12)
    has no entry for it."""
    by_version = {version: _results(data, loop) for version, data in runs.items()}
    out = []
    for group in GROUPS:
        variants = dict.fromkeys(
            variant
            for results in by_version.values()
            for (name, variant) in results
            if name == group.name
        )
        for variant in variants:
            found = {
                version: results[(group.name, variant)]
                for version, results in by_version.items()
                if (group.name, variant) in results
            }
            out.append((group.name, variant, found))
    return out


def markdown(runs: dict[str, dict[str, Any]], source: str, chart: str | None) -> str:
    """The BENCHMARKS.md section: provenance per version, then one table of
    ns/op and ratio per variant and version."""
    versions = list(runs)
    out = [
        "## Across Python versions",
        "",
        f"The same quick run under each installed CPython (`make bench-versions`, files in "
        f"`{source}`), on asyncio's loop. Each cell is time per operation and, in "
        "brackets, the ratio to that version's own baseline for the group (the first "
        "variant). A blank cell: that version lacks the variant (eager tasks are 3.12+). "
        "Compare two versions' nanoseconds only when their interpreters were built alike "
        "(a distribution's package and a pyenv build differ in compiler and flags); the "
        "ratios, each to its own version's baseline, compare across builds.",
        "",
        "| " + " | ".join(PROVENANCE) + " |",
        "|---" * len(PROVENANCE) + "|",
    ]
    for data in runs.values():
        prov = data["provenance"]
        out.append("| " + " | ".join(str(prov.get(key, "")) for key in PROVENANCE) + " |")
    out += [
        "",
        "| group/variant | " + " | ".join(versions) + " |",
        "|---" + "|---:" * len(versions) + "|",
    ]
    for group, variant, found in rows(runs):
        cells = [
            f"{found[v].per_op:,.0f} ns ({found[v].ratio:.3g}x)" if v in found else ""
            for v in versions
        ]
        out.append(f"| {group}/{variant} | " + " | ".join(cells) + " |")
    if chart:
        out += ["", f"![ns per operation by Python version]({chart})"]
    return "\n".join(out) + "\n"


def figure(runs: dict[str, dict[str, Any]]) -> Figure:
    """One small chart per group: ns per operation (log scale) against the Python
    version, one line per variant; the baseline drawn black and thick."""
    import matplotlib.pyplot as plt

    versions = list(runs)
    table = rows(runs)
    groups = list(dict.fromkeys(group for group, _, _ in table))
    columns = 4
    lines = -(-len(groups) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(4.2 * columns, 3.2 * lines), squeeze=False)
    for ax, group in zip(axes.flat, groups, strict=False):
        for _, variant, found in (row for row in table if row[0] == group):
            xs = [i for i, v in enumerate(versions) if v in found]
            ys = [found[versions[i]].per_op for i in xs]
            baseline = next(iter(found.values())).baseline == variant
            ax.plot(
                xs,
                ys,
                marker="o",
                label=variant,
                color="black" if baseline else None,
                linewidth=2.5 if baseline else 1.2,
            )
        ax.set_title(group, fontsize=9)
        ax.set_xticks(range(len(versions)), versions)
        ax.set_yscale("log")
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(groups) :]:
        ax.axis("off")
    fig.suptitle("ns per operation by CPython version (log scale; black: the group's baseline)")
    fig.tight_layout()
    return fig


def save(runs: dict[str, dict[str, Any]], path: pathlib.Path) -> None:
    """Write the chart of ``runs`` as a PNG."""
    write(lambda: figure(runs), path)
