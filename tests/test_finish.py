"""How an await ends (``src/support/finish.rs``): ``None`` finishes with no exception at all,
any other value travels in a ``StopIteration`` whose ``.value`` is exactly it."""

from __future__ import annotations

import pytest
from coroscope.awaitable import Ready, YieldN


@pytest.mark.parametrize("value", [42, (1, 2), (), StopIteration("inside")])
def test_a_value_travels_in_stop_iteration_unchanged_even_a_tuple(value: object) -> None:
    with pytest.raises(StopIteration) as stop:
        next(Ready(value))
    assert stop.value.value is value


def test_none_finishes_with_an_empty_stop_iteration() -> None:
    # `__next__` returned nothing and set no exception: `next()` then raises a
    # bare StopIteration itself, whose value is None.
    with pytest.raises(StopIteration) as stop:
        next(Ready(None))
    assert stop.value.args == ()


@pytest.mark.parametrize("make", [lambda: Ready(1), lambda: YieldN(0, 1)])
def test_a_second_await_is_refused_in_pythons_words(make: object) -> None:
    awaitable = make()  # type: ignore[operator]
    with pytest.raises(StopIteration):
        next(awaitable)
    with pytest.raises(RuntimeError, match="cannot reuse already awaited"):
        next(awaitable)
