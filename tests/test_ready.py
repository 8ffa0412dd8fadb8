"""An await that finishes at once: ``Ready``, and ``ReadySend`` with its ``am_send``
slot (``src/awaitable/ready.rs``).
Loop-facing stories run on every loop (asyncio's, uvloop, rloop)."""

from __future__ import annotations

from typing import Any

import pytest
from coroscope.await_from_rust import await_foo, drive_send, trace
from coroscope.awaitable import Ready, ReadySend

from tests.conftest import Run

# --- Ready ---------------------------------------------------------------------


@pytest.mark.parametrize("value", [42, None, (1, 2), StopIteration("inside")])
def test_await_ready_gives_its_value_unchanged(run: Run[Any], value: object) -> None:
    async def main() -> object:
        return await Ready(value)

    assert run(main()) is value


def test_ready_never_suspends() -> None:
    assert [r.outcome for r in trace(Ready("now"))] == ["return"]
    assert [r.outcome for r in trace(Ready(None))] == ["return"]


def test_ready_can_be_awaited_once(run: Run[Any]) -> None:
    ready = Ready(1)

    async def main() -> None:
        assert await ready == 1
        await ready

    with pytest.raises(RuntimeError, match="cannot reuse already awaited Ready"):
        run(main())


def test_ready_shows_its_value() -> None:
    assert repr(Ready([1])) == "Ready([1])"
    assert Ready("v").value == "v"


# --- ReadySend: Ready plus an am_send slot ----------------------------------------


@pytest.mark.parametrize("value", [42, None, (1, 2)])
def test_ready_send_gives_the_same_values_as_ready(run: Run[Any], value: object) -> None:
    async def main() -> tuple[object, object]:
        return await Ready(value), await ReadySend(value)

    first, second = run(main())
    assert first is value and second is value
    assert drive_send(ReadySend(value)) is value
    assert await_foo(ReadySend(value)) is value


def test_ready_send_is_a_ready_and_can_be_awaited_once(run: Run[Any]) -> None:
    ready = ReadySend("once")
    assert isinstance(ready, Ready)
    assert ready.value == "once"
    assert drive_send(ready) == "once"
    with pytest.raises(RuntimeError, match="cannot reuse already awaited Ready"):
        drive_send(ready)
