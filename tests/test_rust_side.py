"""The Rust side of each crossing, recorded (``src/support/rust_side.rs``): under
``coroscope.timeline.record()``, every bridge's awaited Rust future shows on the
lanes of the threads it ran on (tokio's polls, waits for the GIL, the wake), and
the wake is linked to the step of the task it woke; ``save_trace`` writes it all
as a Chrome trace-event file that Perfetto and ``chrome://tracing`` open."""

from __future__ import annotations

import asyncio
import json
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any

import jsonschema
import pytest
from coroscope import timeline
from coroscope._native import _rust_side_stop
from coroscope.bridge import hop_future_into_py, sleep_awaitable
from coroscope.catalogue import Crossing, crossings
from coroscope.timeline import views

from tests.conftest import Run

# Every crossing that waits for another thread: its wake comes from the Rust side.
WOKEN_FROM_RUST = [c for c in crossings() if c.shape.other_thread]
# Those that wait long enough to be sure of parking the awaiting task (a hop can
# be back from its worker before the poll that sent it returns).
PARKING = [c for c in WOKEN_FROM_RUST if c.shape.name in ("sleep", "order")]
RUST_THREAD = "coroscope-tokio"
# Long enough that a wait is still pending when its first step ends, even on a
# loaded machine (a timer already due at its first poll is ready there, with no wake).
WAIT = 0.05

# Chrome's Trace Event Format, as its specification ("Trace Event Format",
# the JSON object form) describes the events written here: complete events
# ("X") with a duration, metadata ("M") naming processes and threads, and flow
# events ("s" start, "t" step, "f" finish) joined by an id.
TRACE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["traceEvents"],
    "properties": {
        "displayTimeUnit": {"enum": ["ms", "ns"]},
        "traceEvents": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "ph", "pid", "tid"],
                "properties": {
                    "name": {"type": "string"},
                    "cat": {"type": "string"},
                    "ph": {"enum": ["X", "M", "s", "t", "f"]},
                    "ts": {"type": "number", "minimum": 0},
                    "dur": {"type": "number", "minimum": 0},
                    "pid": {"type": "integer"},
                    "tid": {"type": "integer"},
                    "id": {"type": "integer"},
                    "bp": {"enum": ["e"]},
                    "args": {"type": "object"},
                },
                "allOf": [
                    {
                        "if": {"properties": {"ph": {"const": "X"}}},
                        "then": {"required": ["ts", "dur"]},
                    },
                    {
                        "if": {"properties": {"ph": {"const": "M"}}},
                        "then": {
                            "properties": {
                                "name": {"enum": ["process_name", "thread_name"]},
                                "args": {"required": ["name"]},
                            },
                            "required": ["args"],
                        },
                    },
                    {
                        "if": {"properties": {"ph": {"enum": ["s", "t", "f"]}}},
                        "then": {"required": ["ts", "id"]},
                    },
                ],
            },
        },
    },
}


def recorded(run: Run[Any], awaitable: Callable[[], Awaitable[Any]]) -> timeline.Timeline:
    """One task named ``awaiter`` awaiting ``awaitable()`` under ``record()``."""

    async def main() -> timeline.Timeline:
        async def awaiter() -> Any:
            return await awaitable()

        async with timeline.record() as tl:
            await asyncio.create_task(awaiter(), name="awaiter")
        return tl

    return run(main())


@pytest.mark.parametrize("way", PARKING, ids=lambda c: c.name)
def test_each_bridge_s_wake_is_linked_to_the_step_it_caused(way: Crossing) -> None:
    """On asyncio's loop (uvloop's ``call_soon_threadsafe`` cannot be followed:
    see the next story), every crossing woken from another thread shows its
    Rust side: the step that resumed the awaiting task names a flow, and that
    flow starts on a thread of the kit's runtime."""
    tl = recorded(asyncio.run, lambda: way("value", WAIT))
    resumed = [s for s in tl.steps if s.task == "awaiter"][-1]
    assert resumed.flow is not None, tl.table()
    (origin,) = [e for e in tl.rust_side if e.flow == resumed.flow]
    assert origin.thread.startswith(RUST_THREAD), tl.table()


@pytest.mark.parametrize("way", PARKING, ids=lambda c: c.name)
def test_a_wake_s_line_bends_at_every_callback_the_loop_ran_on_its_way(way: Crossing) -> None:
    """ "Two hops against one", drawn: between the Rust wake and the step it
    caused, the line goes through each callback the loop ran first (on
    ``the loop`` lane: ``future_into_py``'s result setter, the classic
    awaitable's), one fewer than the step's hops; the fast bridge's drain runs
    the step itself, so its line goes straight."""
    tl = recorded(asyncio.run, lambda: way("value", WAIT))
    resumed = [s for s in tl.steps if s.task == "awaiter"][-1]
    path = views.woken_by_rust(tl)[resumed.flow]
    assert len(path.hops) == resumed.hops - 1, tl.table()
    assert [h.hop for h in path.hops] == list(range(1, resumed.hops))
    assert all(path.wake.start_ns <= h.start_ns <= resumed.start_ns for h in path.hops)
    if resumed.woken_by.startswith("fast bridge"):
        assert resumed.hops == 1 and not [h for h in tl.loop_hops if h.flow == resumed.flow]
    else:
        assert resumed.hops == 2, tl.table()
        assert "the loop's callbacks" in tl.table() and views.LOOP_LANE in views.lanes(tl)
        assert tl.svg().count("<polyline") == len(views.woken_by_rust(tl))


@pytest.mark.parametrize(
    "way", [c for c in WOKEN_FROM_RUST if c.shape.name in ("hop", "order")], ids=lambda c: c.name
)
def test_a_future_spawned_on_tokio_shows_its_polls_on_a_worker_lane(
    run: Run[Any], way: Crossing
) -> None:
    tl = recorded(run, lambda: way("value", WAIT))
    polls = [e for e in tl.rust_side if e.kind == "poll"]
    assert polls and all(e.thread.startswith(RUST_THREAD) and e.end_ns >= e.start_ns for e in polls)


def test_the_fast_bridge_links_its_wake_on_uvloop_too() -> None:
    """The fast bridge's drain tells the step its flow from Rust, on any loop."""
    import uvloop
    from coroscope.bridge import sleep_fast

    tl = recorded(uvloop.run, lambda: sleep_fast(WAIT))
    resumed = [s for s in tl.steps if s.task == "awaiter"][-1]
    assert resumed.flow is not None and resumed.woken_by.startswith("fast bridge")


@pytest.mark.parametrize(
    ("awaitable", "attach"),
    [
        (lambda: hop_future_into_py(1), "future_into_py"),
        (lambda: sleep_awaitable(WAIT), "call_soon_threadsafe"),
    ],
    ids=["future_into_py", "awaitable"],
)
def test_a_worker_that_attaches_to_hand_a_wake_over_shows_its_wait_for_the_gil(
    run: Run[Any], awaitable: Callable[[], Awaitable[Any]], attach: str
) -> None:
    tl = recorded(run, awaitable)
    waits = [e for e in tl.rust_side if e.kind == "gil wait" and e.what == attach]
    assert waits and all(e.thread.startswith(RUST_THREAD) and e.duration_ns >= 0 for e in waits)


def test_nothing_is_recorded_outside_a_block(run: Run[Any]) -> None:
    async def main() -> list[Any]:
        for _ in range(3):
            await hop_future_into_py(1)
        async with timeline.record() as tl:
            pass
        return tl.rust_side

    assert run(main()) == []
    assert _rust_side_stop(0) == []  # a stop with no recording on gives nothing, and no error


def test_the_saved_trace_is_a_trace_event_file_with_one_track_per_thread(
    run: Run[Any], tmp_path: pathlib.Path
) -> None:
    async def awaiting(way: Crossing) -> Any:
        return await way("value", WAIT)

    async def main() -> timeline.Timeline:
        async with timeline.record() as tl:
            await asyncio.gather(
                *(asyncio.create_task(awaiting(c), name=c.name) for c in WOKEN_FROM_RUST)
            )
        return tl

    tl = run(main())
    path = tmp_path / "run.json"
    tl.save_trace(path)
    trace = json.loads(path.read_text())
    jsonschema.validate(trace, TRACE_SCHEMA)
    events = trace["traceEvents"]
    tracks = [(e["pid"], e["tid"], e["args"]["name"]) for e in events if e["name"] == "thread_name"]
    assert len({(pid, tid) for pid, tid, _ in tracks}) == len(tracks), "a track named twice"
    names = {name for _, _, name in tracks}
    assert {e.thread for e in tl.rust_side} <= names and tl.rust_side
    assert {f"{c.name} ·" for c in WOKEN_FROM_RUST} <= {name.split(" ")[0] + " ·" for name in names}
    starts = {e["id"] for e in events if e["ph"] == "s"}
    assert starts and starts == {e["id"] for e in events if e["ph"] == "f"}
    # future_into_py's result setter, on the loop's track of its callbacks, on the way.
    assert tl.loop_hops and "the loop (callbacks)" in names
    assert {e["id"] for e in events if e["ph"] == "t"} <= starts
