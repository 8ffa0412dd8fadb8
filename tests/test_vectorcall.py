"""``tp_vectorcall`` (``src/awaitable/vectorcall.rs``): ``Future(loop=loop)`` and
``ReadySend(v)`` are made without the argument tuple, and every other call is
answered exactly as the ordinary route (``__new__`` then ``__init__``) answers it."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from coroscope.awaitable import Future, Ready, ReadySend


@pytest.mark.asyncio
async def test_a_future_made_the_fast_way_belongs_to_the_loop_it_was_given() -> None:
    loop = asyncio.get_running_loop()
    made = [Future(loop=loop), Future(), Future(loop=None)]
    assert [future.get_loop() for future in made] == [loop, loop, loop]
    for value, future in enumerate(made):
        future.set_result(value)
        assert await future == value


def test_a_future_outside_a_loop_without_one_says_so_as_asyncio_does() -> None:
    with pytest.raises(RuntimeError, match=r"no current event loop|no running event loop"):
        asyncio.run(_in_a_thread_without_a_loop())


async def _in_a_thread_without_a_loop() -> Any:
    return await asyncio.to_thread(Future)


@pytest.mark.asyncio
async def test_a_debug_loop_still_records_where_the_future_was_made() -> None:
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    try:
        future = Future(loop=loop)
    finally:
        loop.set_debug(False)
    assert future._source_traceback  # the fast route binds the loop as __init__ does
    assert Future(loop=loop)._source_traceback is None


@pytest.mark.parametrize(
    ("cls", "args", "kwargs", "message"),
    [
        (Future, (1,), {}, r"__init__\(\) takes 0 positional arguments but 1 was given"),
        (Future, (), {"lop": 1}, r"__init__\(\) got an unexpected keyword argument 'lop'"),
        (Future, (), {"loop": None, "x": 1}, r"unexpected keyword argument 'x'"),
        (Ready, (), {}, "missing 1 required positional argument: 'value'"),
        (Ready, (1,), {"x": 2}, "got an unexpected keyword argument 'x'"),
        (ReadySend, (), {}, "missing 1 required positional argument: 'value'"),
        (ReadySend, (1, 2), {}, "takes 1 positional arguments but 2 were given"),
        (ReadySend, (1,), {"value": 2}, "got multiple values for argument 'value'"),
    ],
)
def test_a_call_of_another_shape_gets_the_ordinary_answer(
    cls: type, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        cls(*args, **kwargs)


@pytest.mark.asyncio
async def test_a_subclass_is_made_the_ordinary_way_with_its_own_init() -> None:
    class Labelled(Future):
        def __init__(self, label: str, *, loop: Any = None) -> None:
            super().__init__(loop=loop)
            self.label = label

    future = Labelled("mine", loop=asyncio.get_running_loop())
    assert (type(future), future.label) == (Labelled, "mine")
    future.set_result(1)
    assert await future == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("cls", [Ready, ReadySend])
async def test_a_ready_value_made_either_way_gives_its_value(cls: type) -> None:
    assert await cls(1) == 1
    assert await cls(value=2) == 2  # a keyword: the ordinary route
    assert await cls((3, 4)) == (3, 4)  # a tuple stays one value


@pytest.mark.asyncio
async def test_a_subclass_of_ready_is_made_the_ordinary_way() -> None:
    class Labelled(Ready):
        def __init__(self, value: object) -> None:
            self.label = f"ready {value}"

    ready = Labelled(5)
    assert (type(ready), ready.label, await ready) == (Labelled, "ready 5", 5)


@pytest.mark.asyncio
async def test_many_made_and_freed_in_turn_stay_whole_and_seen_by_the_collector() -> None:
    loop = asyncio.get_running_loop()
    for i in range(1000):
        ready = ReadySend(i)
        assert gc.is_tracked(ready)  # a reused allocation must be tracked again
        assert await ready == i
        future = Future(loop=loop)
        assert gc.is_tracked(future) and gc.is_tracked(future.__await__())
        future.set_result(i)
        assert await future == i
