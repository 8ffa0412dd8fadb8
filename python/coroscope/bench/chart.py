"""Charting: every ratio, one bar per loop, on a log scale around 1."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from coroscope.bench.run import Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(results: list[Result], title: str) -> Figure:
    """The chart of ``results``: each variant's ratio to its group's baseline
    (time for most groups, memory for ``B/await`` groups), one bar per loop.

    A bar runs from 1 (the baseline) to the ratio, on a log scale: left of 1 is
    better, and its length is how much (a bar from the left edge would make a
    baseline look large). Groups sit in alternate bands; the scale is at the
    top and at the bottom, so that a tall chart reads from either end."""
    import matplotlib.pyplot as plt

    loops = list(dict.fromkeys(r.loop for r in results))
    first = [r for r in results if r.loop == loops[0]]
    labels = [
        f"{r.group}/{r.variant}"
        + (" (baseline)" if r.variant == r.baseline else "")
        + (" (memory)" if r.unit != "ns/op" else "")
        for r in first
    ]
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(labels) + 2.2))
    groups = [r.group for r in first]
    for band, group in enumerate(dict.fromkeys(groups)):
        rows = [y for y, g in enumerate(groups) if g == group]
        if band % 2 == 0:
            ax.axhspan(rows[0] - 0.5, rows[-1] + 0.5, color="#f2f2f2", zorder=0)
    height = 0.8 / len(loops)
    row = {(r.group, r.variant): y for y, r in enumerate(first)}
    for i, loop_name in enumerate(loops):
        mine = [r for r in results if r.loop == loop_name and (r.group, r.variant) in row]
        ax.barh(
            [row[r.group, r.variant] - 0.4 + (i + 0.5) * height for r in mine],
            [r.ratio - 1 for r in mine],
            left=1,
            height=height,
            label=loop_name,
            zorder=2,
        )
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.axvline(1.0, color="black", linewidth=0.8, zorder=3)
    ax.set_xscale("log")
    ax.tick_params(axis="x", top=True, labeltop=True)
    ax.set_xlabel(
        "÷ the group's baseline (time; memory where marked), log scale: left of 1 is better"
    )
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def save(results: list[Result], title: str, path: pathlib.Path) -> None:
    """Write the chart of ``results`` as a PNG."""
    write(lambda: figure(results, title), path)


def write(make: Callable[[], Figure], path: pathlib.Path) -> None:
    """Write the figure ``make()`` draws as a PNG, without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = make()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
