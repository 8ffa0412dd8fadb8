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
PROVENANCE = ("python", "when", "mode", "loops", "uvloop", "rloop", "pyo3")


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
        out += ["", f"![each variant against its group's baseline, by Python version]({chart})"]
    return "\n".join(out) + "\n"


def figure(runs: dict[str, dict[str, Any]]) -> Figure:
    """One picture, one question: did a variant's cost against its group's
    baseline move with the Python version? A row per variant that is not a
    baseline, a column per version; each cell coloured by that version's ratio
    (log scale, white at 1: blue where the variant is faster than the
    baseline, red where it is slower) and labelled with it. Groups are banded."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    versions = list(runs)
    table = [
        (group, variant, found)
        for group, variant, found in rows(runs)
        if next(iter(found.values())).baseline != variant
    ]
    ratios = [
        [found[v].ratio if v in found else float("nan") for v in versions] for *_, found in table
    ]
    finite = [r for row in ratios for r in row if r == r and r > 0]
    reach = max(max(finite, default=2.0), 1 / min(finite, default=0.5))
    fig, ax = plt.subplots(figsize=(2.2 + 1.1 * len(versions), 1.2 + 0.26 * len(table)))
    image = ax.imshow(
        ratios, aspect="auto", cmap="RdBu_r", norm=LogNorm(vmin=1 / reach, vmax=reach)
    )
    for y, row in enumerate(ratios):
        for x, ratio in enumerate(row):
            if ratio == ratio:
                strong = ratio > reach**0.6 or ratio < reach**-0.6
                ax.text(
                    x,
                    y,
                    f"{ratio:.3g}x",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if strong else "black",
                )
    ax.set_xticks(range(len(versions)), versions)
    ax.xaxis.tick_top()
    ax.set_yticks(
        range(len(table)), [f"{group}/{variant}" for group, variant, _ in table], fontsize=7
    )
    groups = [group for group, _, _ in table]
    for y in range(1, len(groups)):
        if groups[y] != groups[y - 1]:  # a band between groups
            ax.axhline(y - 0.5, color="black", linewidth=0.8)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="ratio to the group's baseline")
    ax.set_title(
        "each variant against its group's baseline, by CPython version\n"
        "(blue: faster than the baseline; red: slower; white: level)",
        fontsize=9,
        loc="left",
    )
    fig.tight_layout()
    return fig


def save(runs: dict[str, dict[str, Any]], path: pathlib.Path) -> None:
    """Write the chart of ``runs`` as a PNG."""
    write(lambda: figure(runs), path)
