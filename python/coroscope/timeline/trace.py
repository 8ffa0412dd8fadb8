"""A timeline as a trace file for Perfetto's UI (ui.perfetto.dev) and ``chrome://tracing``.

The format is Chrome's Trace Event Format (JSON object form): a list of events,
each with a phase ``ph``. Two processes: ``pid`` 1 is the event loop, with one
track (``tid``) per task; ``pid`` 2 is the Rust side, with one track per thread.
The loop's callbacks on a wake's way (``LoopHop``) have a track of their own in
the loop's process. A step, a poll, a GIL wait and such a callback are complete
events (``"X"``: a start ``ts`` and a ``dur``, in microseconds); a wake is a
complete event of no length, so that a flow can start from it. Each wake whose
step was recorded is joined to that step by a flow (``"s"`` at the wake, ``"t"``
at each callback in between, ``"f"`` at the step, all with the wake's flow
number as ``id``): Perfetto draws it as arrows across the two processes.
Names of processes and tracks are metadata events (``"M"``).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from coroscope.timeline import views

if TYPE_CHECKING:
    from coroscope.timeline.records import Recorded

LOOP, RUST = 1, 2


def events(tl: Recorded) -> dict[str, Any]:
    """The trace, as the JSON object a trace file holds."""
    tasks = {name: i + 1 for i, name in enumerate(tl.tasks())}
    hop_track = len(tasks) + 1  # the loop's callbacks, under the tasks
    threads = {name: i + 1 for i, name in enumerate(dict.fromkeys(e.thread for e in tl.rust_side))}
    labels = views.lane_labels(tl)
    out: list[dict[str, Any]] = [
        _meta("process_name", LOOP, 0, "event loop: one track per task"),
        _meta("process_name", RUST, 0, "Rust side: one track per thread"),
    ]
    out += [_meta("thread_name", LOOP, tid, labels[name]) for name, tid in tasks.items()]
    out += [_meta("thread_name", RUST, tid, name) for name, tid in threads.items()]
    if tl.loop_hops:
        out.append(_meta("thread_name", LOOP, hop_track, labels[views.LOOP_LANE]))
    for s in tl.steps:
        args: dict[str, Any] = {
            "task": s.task,
            "coroutine": s.coro,
            "woken by": s.woken_by,
            "then waits on": s.waits_on,
        }
        out.append(_slice(s.coro, "step", LOOP, tasks[s.task], s.start_ns, s.duration_ns, args))
    for e in tl.rust_side:
        args = {"what": e.what} if e.flow is None else {"what": e.what, "flow": e.flow}
        out.append(_slice(e.what, e.kind, RUST, threads[e.thread], e.start_ns, e.duration_ns, args))
    for h in tl.loop_hops:
        args = {"hop": h.hop, "flow": h.flow}
        out.append(_slice(h.what, "loop hop", LOOP, hop_track, h.start_ns, h.duration_ns, args))
    for flow, way in views.woken_by_rust(tl).items():
        wake, step = way.wake, way.step
        common = {"name": "wake", "cat": "wake", "id": flow}
        out.append(
            common
            | {"ph": "s", "ts": wake.start_ns / 1e3, "pid": RUST, "tid": threads[wake.thread]}
        )
        out += [
            common | {"ph": "t", "ts": h.start_ns / 1e3, "pid": LOOP, "tid": hop_track}
            for h in way.hops
        ]
        out.append(
            common
            | {
                "ph": "f",
                "bp": "e",
                "ts": step.start_ns / 1e3,
                "pid": LOOP,
                "tid": tasks[step.task],
            }
        )
    return {"traceEvents": out, "displayTimeUnit": "ns"}


def save(tl: Recorded, path: str | os.PathLike[str]) -> None:
    """Write :func:`events` to ``path``."""
    with open(path, "w", encoding="utf-8") as file:
        json.dump(events(tl), file)


def _meta(name: str, pid: int, tid: int, value: str) -> dict[str, Any]:
    return {"name": name, "ph": "M", "pid": pid, "tid": tid, "args": {"name": value}}


def _slice(
    name: str, cat: str, pid: int, tid: int, start_ns: int, dur_ns: int, args: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": name,
        "cat": cat,
        "ph": "X",
        "ts": start_ns / 1e3,
        "dur": dur_ns / 1e3,
        "pid": pid,
        "tid": tid,
        "args": args,
    }
