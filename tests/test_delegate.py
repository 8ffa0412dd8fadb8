"""Handing the await to another iterator: ``Delegate`` (``src/awaitable/delegate.rs``)."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable, Generator
from typing import Any

import pytest
from coroscope.await_from_rust import trace
from coroscope.awaitable import Delegate, Ready

from tests.conftest import Run
from tests.coroutines import python_await, raised_by

# --- Delegate --------------------------------------------------------------------


async def answer() -> int:
    await asyncio.sleep(0)
    return 42


def test_delegate_awaits_what_it_wraps(run: Run[Any]) -> None:
    async def main() -> list[object]:
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_soon(future.set_result, "from the loop")
        return [await Delegate(answer()), await Delegate(future), await Delegate(Ready(7))]

    assert run(main()) == [42, "from the loop", 7]


def test_delegate_hands_over_the_inner_iterator() -> None:
    coro = answer()
    delegate = Delegate(coro)
    assert delegate.inner is coro
    assert repr(delegate).startswith("Delegate(<coroutine object answer")
    assert [r.outcome for r in trace(delegate)] == ["yield", "return"]


@types.coroutine
def generator_based() -> Generator[None, None, int]:
    yield
    return 1


@pytest.mark.parametrize(
    "make",
    [lambda: 3, lambda: answer, generator_based],
    ids=["int", "async def", "types.coroutine"],
)
def test_delegate_refuses_what_has_no_await_method(make: Callable[[], Any]) -> None:
    obj = make()
    with pytest.raises(TypeError) as ours:
        Delegate(obj)
    # In `await`'s own words for the running Python (3.14 reworded them).
    awaits_words = str(raised_by(lambda: python_await(5))).replace("int", type(obj).__name__)
    assert str(ours.value) == awaits_words
    if isinstance(obj, types.GeneratorType):
        obj.close()
