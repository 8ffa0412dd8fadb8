"""A run's steps, kept and shown: ``trace``, ``StepRecord``, ``Trace`` and their
tables (``src/await_from_rust/records.rs``)."""

from __future__ import annotations

import asyncio
import collections.abc

import pytest
from coroscope.await_from_rust import Stepper, trace

from tests.coroutines import raises_chained, sleeps_then_returns


def test_trace_returns_one_record_per_step() -> None:
    records = trace(sleeps_then_returns(2, "v"))
    assert [r.outcome for r in records] == ["yield", "yield", "return"]
    assert records[-1].value == "v"
    assert all(r.ns >= 0 for r in records)
    assert repr(records[0]) == "<step 1: send None -> yield None>"


def test_trace_records_the_coroutines_exception_as_the_last_step() -> None:
    records = trace(raises_chained)
    assert [r.outcome for r in records] == ["yield", "raise"]
    assert isinstance(records[-1].value, ValueError)


def test_trace_raises_driver_errors() -> None:
    with pytest.raises(RuntimeError, match="did not finish"):
        trace(sleeps_then_returns(5, None), max_steps=2)


def test_jupyter_shows_steps_as_a_table_with_every_value_escaped() -> None:
    async def brew() -> str:
        await asyncio.sleep(0)
        return "<b>cups</b>"

    stepper = Stepper(brew())
    stepper.send(None)
    with pytest.raises(StopIteration):
        stepper.send(None)
    html = stepper._repr_html_()
    assert html.startswith("<table><caption>&lt;Stepper coroutine ")
    assert html.count("<tr>") == 3  # the header and one row per step
    assert "&#x27;&lt;b&gt;cups&lt;/b&gt;&#x27;" in html and "<b>" not in html
    (record,) = trace(brew())[-1:]
    assert record._repr_html_().count("<tr>") == 2
    run = trace(brew())
    assert run._repr_html_().startswith("<table><caption>&lt;Trace: 2 steps, then return ")
    assert run._repr_html_().count("<tr>") == 3


def test_a_trace_is_a_read_only_sequence_of_records_with_a_short_repr() -> None:
    async def brew(cups: int) -> str:
        for _ in range(cups):
            await asyncio.sleep(0)
        return f"{cups} cups"

    run = trace(brew(2))
    assert len(run) == 3 and [r.index for r in run] == [1, 2, 3]
    assert run[-1].value == "2 cups" and [r.outcome for r in run[1:]] == ["yield", "return"]
    assert run == list(run) and run != list(run)[:2]
    assert repr(run) == "<Trace: 3 steps, then return '2 cups'>"
    with pytest.raises(IndexError):
        run[3]
    with pytest.raises(TypeError):
        run[0] = run[1]  # type: ignore[index]


def test_ipythons_terminal_shows_steps_as_a_text_table() -> None:
    pretty = pytest.importorskip("IPython.lib.pretty").pretty

    async def brew() -> str:
        await asyncio.sleep(0)
        return "x" * 100  # longer than a cell: cut, so the columns stay aligned

    run = trace(brew())
    lines = pretty(run).splitlines()
    assert lines[0] == repr(run)
    assert lines[1].split() == ["step", "action", "sent", "outcome", "value", "µs"]
    assert [line.split()[2] for line in lines[2:]] == ["None", "None"]
    assert "…" in lines[3] and len(lines[3]) == len(lines[2])
    stepper = Stepper(brew())
    stepper.send(None)
    assert pretty(stepper).splitlines()[0] == repr(stepper)
    assert pretty(run[0]).splitlines()[1].split()[:3] == ["1", "send", "None"]


def test_a_trace_is_a_sequence_as_its_stub_says() -> None:
    run = trace(sleeps_then_returns(2, "v"))
    assert isinstance(run, collections.abc.Sequence)
    assert run.index(run[1]) == 1 and run.count(run[0]) == 1
    with pytest.raises(ValueError):
        run.index("not a record")
