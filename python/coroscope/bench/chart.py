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
    (time for most groups, memory for ``B/await`` groups), one bar per loop."""
    import matplotlib.pyplot as plt

    loops = list(dict.fromkeys(r.loop for r in results))
    first = [r for r in results if r.loop == loops[0]]
    labels = [f"{r.group}/{r.variant}" + (" (memory)" if r.unit != "ns/op" else "") for r in first]
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(labels) + 1.8))
    height = 0.8 / len(loops)
    for i, loop_name in enumerate(loops):
        ratios = [r.ratio for r in results if r.loop == loop_name]
        ax.barh(
            [y + i * height for y in range(len(ratios))], ratios, height=height, label=loop_name
        )
    ax.set_yticks([y + height * (len(loops) - 1) / 2 for y in range(len(labels))], labels)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel(
        "time (memory, for the groups marked so) ÷ the group's baseline; log scale, < 1 is better"
    )
    ax.set_title(title)
    ax.legend()
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
    fig.savefig(path, dpi=110)
    plt.close(fig)
