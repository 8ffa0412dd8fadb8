"""Showing a timeline: a text table, a matplotlib figure, and an SVG picture with a
table under it for Jupyter.

Every view has the same lanes: one per task (named as the code named it), then
one for the loop's own callbacks on a Rust wake's way (when it ran any), then
one per thread of the Rust side (tokio's workers, the Kitchen's cooks) when the
Rust side did anything. A step is a bar on its task's lane; a poll or a wait for
the GIL a bar on its thread's lane; a wake a tick there, with a line through
each hop the loop made to the step it caused: one bend for ``future_into_py``
(its result's callback), none for the fast bridge.
"""

from __future__ import annotations

import html
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from coroscope.timeline.records import LoopHop, Recorded, RustEvent, Step

# One colour per meaning, in every view.
STEP, POLL, GIL_WAIT, WAKE, TIMER = "#3b75af", "#8e6bb8", "#c0392b", "#e67e22", "#2e8b57"
LOOP_HOP = "#17a2b8"
# The lane of the loop's callbacks on a wake's way (``LoopHop``).
LOOP_LANE = "the loop"
BAR_COLOUR = {"poll": POLL, "gil wait": GIL_WAIT}
# What each kind of Rust-side bar is called in a legend.
BAR_NAME = {"poll": "Rust: a poll on tokio", "gil wait": "Rust: waiting for the GIL"}


def lanes(tl: Recorded, rust: bool = True) -> dict[str, int]:
    """Lane of each task (in the order of its first step), then the loop's
    callbacks', then of each Rust thread (by name and number:
    ``coroscope-tokio 1``, ``2``, ...), top to bottom; ``rust=False`` leaves the
    last two out."""
    threads = sorted({event.thread for event in tl.rust_side if rust}, key=_by_number)
    loop = [LOOP_LANE] if rust and tl.loop_hops else []
    return {name: i for i, name in enumerate(tl.tasks() + loop + threads)}


def _by_number(thread: str) -> tuple[str, int]:
    name, _, number = thread.rpartition(" ")
    return (name, int(number)) if number.isdigit() else (thread, 0)


def lane_labels(tl: Recorded, short: bool = False, rust: bool = True) -> dict[str, str]:
    """Each lane's label: a task's says its coroutine too (the last part of its
    name when ``short``), a thread's that it is on the Rust side."""
    coros = {s.task: s.coro for s in reversed(tl.steps)}
    return {
        name: f"{name} · {coros[name].rsplit('.', 1)[-1] if short else coros[name]}"
        if name in coros
        else "the loop (callbacks)"
        if name == LOOP_LANE
        else f"{name} (Rust)"
        for name in lanes(tl, rust)
    }


@dataclass(frozen=True)
class WakePath:
    """One wake from the Rust side followed to the step it caused: the wake (or
    the poll a waker not the kit's was called in), the loop's callbacks in
    between (one per hop before the step's own), and the step."""

    wake: RustEvent
    hops: list[LoopHop]
    step: Step


def woken_by_rust(tl: Recorded) -> dict[int, WakePath]:
    """Each flow both ends of which were recorded, by its number."""
    wakes = {e.flow: e for e in tl.rust_side if e.flow is not None}
    on_the_way: dict[tuple[int, int], LoopHop] = {}
    for h in tl.loop_hops:
        on_the_way.setdefault((h.flow, h.hop), h)  # the first of a hop's callbacks
    return {
        s.flow: WakePath(
            wakes[s.flow],
            [
                on_the_way[s.flow, hop]
                for hop in range(1, s.hops)
                if (s.flow, hop) in on_the_way and on_the_way[s.flow, hop].start_ns <= s.start_ns
            ],
            s,
        )
        for s in tl.steps
        if s.flow in wakes
    }


def _path(
    way: WakePath, x: Callable[[float], float], y: Callable[[str], float]
) -> list[tuple[float, float]]:
    """The points a wake's line goes through: the wake, each hop's callback, the step."""
    return (
        [(x(way.wake.start_ns / 1e3), y(way.wake.thread))]
        + [(x(h.start_ns / 1e3), y(LOOP_LANE)) for h in way.hops]
        + [(x(way.step.start_ns / 1e3), y(way.step.task))]
    )


BY = ("time", "order")


@dataclass(frozen=True)
class Scale:
    """Where a step sits along the x axis. ``by="time"``: from its start to its
    end, in µs since the recording began (the Rust side drawn too). ``by="order"``:
    one equal slot per step, in the order the steps began, the Rust side left
    out: how long a step of a few µs took is mostly the machine's noise, and the
    order of the steps is what a lesson on interleaving is about."""

    by: str
    rank: dict[int, int]

    @classmethod
    def of(cls, tl: Recorded, by: str) -> Scale:
        if by not in BY:
            raise ValueError(f"by must be one of {', '.join(map(repr, BY))}, not {by!r}")
        ranked = sorted(tl.steps, key=lambda s: s.start_ns)
        return cls(by, {id(step): rank for rank, step in enumerate(ranked)})

    @property
    def rust(self) -> bool:
        return self.by == "time"

    def start(self, s: Step) -> float:
        return s.start_ns / 1e3 if self.rust else self.rank[id(s)]

    def end(self, s: Step) -> float:
        return s.end_ns / 1e3 if self.rust else self.rank[id(s)] + 0.7

    @property
    def axis(self) -> str:
        if self.rust:
            return "µs since the recording began (bars: steps and Rust work; gaps: waiting)"
        return "steps in the order they began, one slot each (how long each took: the table)"


def table(tl: Recorded) -> str:
    lines = [
        f"{'#':>3} {'start µs':>9} {'took µs':>8}  {'task':<10} {'coroutine':<18} "
        f"{'woken by':<34} then waits on"
    ]
    for i, s in enumerate(tl.steps):
        flow = f" [flow {s.flow}]" if s.flow is not None else ""
        lines.append(
            f"{i:>3} {s.start_ns / 1e3:>9.1f} {s.duration_ns / 1e3:>8.1f}  {s.task:<10} "
            f"{s.coro[-18:]:<18} {s.woken_by + flow:<34} {s.waits_on}"
        )
    if tl.loop_hops:
        lines += [
            "",
            "the loop's callbacks on a Rust wake's way (a step's own not listed):",
            f"{'start µs':>9} {'took µs':>8}  {'hop':>3}  callback",
        ]
        lines += [
            f"{h.start_ns / 1e3:>9.1f} {h.duration_ns / 1e3:>8.1f}  {h.hop:>3}  "
            f"{h.what} [flow {h.flow}]"
            for h in tl.loop_hops
        ]
    if tl.rust_side:
        lines += [
            "",
            "the Rust side:",
            f"{'start µs':>9} {'took µs':>8}  {'thread':<24} {'kind':<8} what",
        ]
        for e in tl.rust_side:
            flow = f" [flow {e.flow}]" if e.flow is not None else ""
            lines.append(
                f"{e.start_ns / 1e3:>9.1f} {e.duration_ns / 1e3:>8.1f}  {e.thread:<24} {e.kind:<8} "
                f"{e.what}{flow}"
            )
    return "\n".join(lines)


def plot(tl: Recorded, title: str, ax: Axes | None, by: str = "time") -> Figure:
    import matplotlib.pyplot as plt

    scale = Scale.of(tl, by)
    lane = lanes(tl, scale.rust)
    events = tl.rust_side if scale.rust else []
    if ax is None:
        fig, ax = plt.subplots(figsize=(10, 0.6 * len(lane) + 1.6))
    else:
        fig = ax.figure  # type: ignore[assignment]
    hops = tl.loop_hops if scale.rust else []
    timed: list[RustEvent | LoopHop] = [*events, *hops]
    width = max([scale.end(s) for s in tl.steps] + [e.end_ns / 1e3 for e in timed] + [1])
    least = width / 400  # a step too short to see still shows
    for s in tl.steps:
        ax.broken_barh(
            [(scale.start(s), max(scale.end(s) - scale.start(s), least))],
            (lane[s.task] - 0.3, 0.6),
            color=STEP,
        )
    for e in events:
        y = lane[e.thread]
        if e.kind == "wake":
            ax.plot(e.start_ns / 1e3, y, marker="|", markersize=12, color=WAKE, label="a Rust wake")
        else:
            ax.broken_barh(
                [(e.start_ns / 1e3, max(e.duration_ns / 1e3, least))],
                (y - 0.3, 0.6),
                color=BAR_COLOUR[e.kind],
                label=BAR_NAME[e.kind],
            )
    for h in hops:
        ax.broken_barh(
            [(h.start_ns / 1e3, max(h.duration_ns / 1e3, least))],
            (lane[LOOP_LANE] - 0.3, 0.6),
            color=LOOP_HOP,
            label="the loop: a callback on a wake's way",
        )
    for way in woken_by_rust(tl).values() if scale.rust else ():
        points = _path(way, lambda at: at, lambda name: lane[name])
        for start, end in itertools.pairwise(points):
            ax.annotate(
                "",
                xy=end,
                xytext=start,
                arrowprops={"arrowstyle": "->", "color": WAKE, "lw": 0.8, "linestyle": "--"},
            )
    ends: dict[str, list[Step]] = {}
    for s in tl.steps:
        if s.by_task in lane and s.by_task != s.task:
            before = [w for w in ends.get(s.by_task, []) if w.start_ns <= s.start_ns]
            if before:
                src = before[-1]
                ax.annotate(
                    "",
                    xy=(scale.start(s), lane[s.task]),
                    xytext=(scale.end(src), lane[src.task]),
                    arrowprops={"arrowstyle": "->", "color": "gray", "lw": 0.8},
                )
        elif s.woken_by.startswith(("thread", "fast bridge", "timer")):
            kind = "timer" if s.woken_by.startswith("timer") else "thread"
            ax.plot(
                scale.start(s),
                lane[s.task] - 0.42,  # above the bar (the axis runs downwards)
                marker="v",
                color=WAKE if kind == "thread" else TIMER,
                label=f"woken by a {kind}",
            )
        ends.setdefault(s.task, []).append(s)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles, strict=True))
        # Beside the plot, not on it: a marker at the right end stays visible,
        # and the title above keeps its line however many kinds are shown.
        ax.legend(
            unique.values(),
            unique.keys(),
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=8,
            frameon=False,
        )
    ax.set_yticks(list(lane.values()), list(lane_labels(tl, rust=scale.rust).values()))
    ax.invert_yaxis()
    ax.set_xlabel(scale.axis)
    ax.set_title(title, loc="left")
    ax.margins(x=0.02)  # a step or marker at either end is not cut in half
    fig.tight_layout()
    return fig


def svg(tl: Recorded, width: int, by: str = "time") -> str:
    return svgs(tl, (width,), by)[0]


def svgs(tl: Recorded, widths: tuple[int, ...], by: str = "time") -> list[str]:
    """The SVG picture at each width, laid out once (ranks, lanes, the wakes'
    paths): the HTML view draws it twice, the second time zoomed."""
    scale = Scale.of(tl, by)
    steps, events = tl.steps, tl.rust_side if scale.rust else []
    hops = tl.loop_hops if scale.rust else []
    lane = lanes(tl, scale.rust)
    labels = lane_labels(tl, short=True, rust=scale.rust)
    ways = list(woken_by_rust(tl).values()) if scale.rust else []
    tasks = len(tl.tasks())
    timed: list[RustEvent | LoopHop] = [*events, *hops]
    label_w, lane_h, top = 190, 26, 28
    # From the first step, not from the block's start: what ran before it
    # (the block's own setup) is no step of a task.
    starts = [scale.start(s) for s in steps] + [e.start_ns / 1e3 for e in timed]
    t0 = min(starts, default=0)
    ends = [scale.end(s) for s in steps] + [e.end_ns / 1e3 for e in timed]
    span = max(max(ends, default=1) - t0, 1e-3)

    def middle(name: str) -> float:
        return top + lane[name] * lane_h + lane_h / 2

    def draw(width: int) -> str:
        plot_w = width - label_w - 10

        def x(at: float) -> float:
            return label_w + (at - t0) / span * plot_w

        height = top + lane_h * len(lane) + 34
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'font-family="sans-serif" font-size="11" role="img">',
            f"<title>{len(steps)} steps of {tasks} tasks, {len(events)} Rust-side events</title>",
        ]
        for name, label in labels.items():
            parts.append(
                f'<text x="{label_w - 6}" y="{middle(name) + 4}" text-anchor="end">'
                f"{_esc(label)}</text>"
                f'<line x1="{label_w}" x2="{width - 10}" y1="{middle(name)}" '
                f'y2="{middle(name)}" stroke="#eee"/>'
            )
        for way in ways:
            points = " ".join(f"{px:.1f},{py:.1f}" for px, py in _path(way, x, middle))
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{WAKE}" '
                'stroke-width="0.8" stroke-dasharray="3,2"/>'
            )
        for h in hops:
            at = x(h.start_ns / 1e3)
            record = (
                f"the loop: {h.what}, hop {h.hop} of flow {h.flow}\n"
                f"at {h.start_ns / 1e3:.1f} µs, took {h.duration_ns / 1e3:.1f} µs"
            )
            parts.append(
                f'<rect x="{at:.1f}" y="{middle(LOOP_LANE) - lane_h / 2 + 7}" '
                f'width="{max(x(h.end_ns / 1e3) - at, 1.5):.1f}" height="{lane_h - 12}" '
                f'fill="{LOOP_HOP}"><title>{_esc(record)}</title></rect>'
            )
        last_end: dict[str, Step] = {}
        for i, s in enumerate(steps):
            y = middle(s.task) - lane_h / 2
            start, w = x(scale.start(s)), max(x(scale.end(s)) - x(scale.start(s)), 1.5)
            if s.by_task in last_end and s.by_task != s.task:
                src = last_end[s.by_task]
                parts.append(
                    f'<line x1="{x(scale.end(src)):.1f}" y1="{middle(src.task)}" x2="{start:.1f}" '
                    f'y2="{middle(s.task)}" stroke="#999" stroke-width="0.8"/>'
                )
            elif s.woken_by.startswith(("thread", "fast bridge", "timer")):
                parts.append(
                    f'<path d="M{start - 4:.1f},{y + 1} h8 l-4,5 z" fill="{WAKE}">'
                    f"<title>{_esc(s.woken_by)}</title></path>"
                )
            flow = f" (Rust wake, flow {s.flow})" if s.flow is not None else ""
            record = (
                f"#{i} task {s.task} ({s.coro})\nstart {s.start_ns / 1e3:.1f} µs, "
                f"took {s.duration_ns / 1e3:.1f} µs\nwoken by: {s.woken_by}{flow}\n"
                f"then waits on: {s.waits_on}"
            )
            parts.append(
                f'<rect x="{start:.1f}" y="{y + 7}" width="{w:.1f}" height="{lane_h - 12}" '
                f'fill="{STEP}"><title>{_esc(record)}</title></rect>'
            )
            last_end[s.task] = s
        for e in events:
            y = middle(e.thread) - lane_h / 2
            flow = f", flow {e.flow}" if e.flow is not None else ""
            record = (
                f"{e.thread}: {e.kind}, {e.what}{flow}\n"
                f"at {e.start_ns / 1e3:.1f} µs, took {e.duration_ns / 1e3:.1f} µs"
            )
            at = x(e.start_ns / 1e3)
            if e.kind == "wake":
                parts.append(
                    f'<rect x="{at - 1:.1f}" y="{y + 4}" width="2" height="{lane_h - 6}" '
                    f'fill="{WAKE}"><title>{_esc(record)}</title></rect>'
                )
            else:
                w = max(x(e.end_ns / 1e3) - at, 1.5)
                parts.append(
                    f'<rect x="{at:.1f}" y="{y + 7}" width="{w:.1f}" height="{lane_h - 12}" '
                    f'fill="{BAR_COLOUR[e.kind]}"><title>{_esc(record)}</title></rect>'
                )
        axis_y = top + lane_h * len(lane) + 4
        ends_text = (
            (f"{t0:.1f} µs", f"{t0 + span:.1f} µs since the recording began")
            if scale.rust
            else ("first step", "steps in the order they began, one slot each")
        )
        parts.append(
            f'<line x1="{label_w}" x2="{width - 10}" y1="{axis_y}" y2="{axis_y}" stroke="#333"/>'
            f'<text x="{label_w}" y="{axis_y + 14}">{ends_text[0]}</text>'
            f'<text x="{width - 10}" y="{axis_y + 14}" text-anchor="end">{ends_text[1]}</text>'
            f'<text x="4" y="16" fill="#555">blue: steps (point at one for its record) · '
            "grey: a task woke or created another · orange: a thread or timer woke it"
            + (" · Rust: purple polls, red GIL waits, orange wakes" if events else "")
            + (" · teal: the loop's callbacks on the way" if hops else "")
            + "</text></svg>"
        )
        return "".join(parts)

    return [draw(width) for width in widths]


def html_view(tl: Recorded, by: str = "time") -> str:
    rows = "".join(
        f"<tr><td>{i}</td><td>{s.start_ns / 1e3:.1f}</td><td>{s.duration_ns / 1e3:.1f}</td>"
        f"<td>{_esc(s.task)}</td><td>{_esc(s.coro)}</td><td>{_esc(s.woken_by)}</td>"
        f"<td>{_esc(s.waits_on)}</td></tr>"
        for i, s in enumerate(tl.steps)
    )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("#", "start µs", "took µs", "task", "coroutine", "woken by", "then waits on")
    )
    # Zoom without a script (which an untrusted notebook would not run): the
    # same picture four times wider, in a box that scrolls sideways.
    picture, wide = svgs(tl, (760, 4 * 760), by)
    zoomed = (
        "<details><summary>zoom in: the picture four times wider (scroll sideways)</summary>"
        f'<div style="overflow-x:auto">{wide}</div></details>'
    )
    return (
        f"{picture}{zoomed}<details><summary>the {len(tl.steps)} steps as a table"
        f"</summary><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></details>"
    )


@dataclass(frozen=True)
class Picture:
    """HTML that Jupyter shows as it is (``Timeline.show``)."""

    html: str

    def _repr_html_(self) -> str:
        return self.html


def _esc(text: str) -> str:
    return html.escape(text)
