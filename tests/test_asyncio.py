"""asyncio's own vocabulary (``src/support/asyncio.rs``): the kit raises asyncio's and
CPython's exception types, in their words, for the same mistakes."""

from __future__ import annotations

import asyncio

import pytest
from coroscope.await_from_rust import Stepper
from coroscope.awaitable import Delegate, Future
from coroscope.bridge import call_python


def test_an_unfinished_result_is_asyncios_invalid_state_error() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(asyncio.InvalidStateError, match="Result is not ready"):
            Future(loop=loop).result()
    finally:
        loop.close()


def test_what_is_not_awaitable_is_refused_in_asyncios_words() -> None:
    with pytest.raises(TypeError) as theirs:
        asyncio.ensure_future(None)  # type: ignore[arg-type]  # noqa: RUF006
    with pytest.raises(TypeError) as ours:
        call_python(None)  # type: ignore[arg-type]
    assert str(ours.value) == str(theirs.value)

    async def awaits_five() -> None:
        await 5  # type: ignore[misc]

    with pytest.raises(TypeError) as theirs:
        awaits_five().send(None)
    with pytest.raises(TypeError) as ours:
        Delegate(5)
    assert str(ours.value) == str(theirs.value)


def test_throw_checks_its_arguments_as_a_generator_does() -> None:
    async def coro() -> None:
        await asyncio.sleep(0)

    reference = coro()
    reference.send(None)
    with pytest.raises(TypeError) as theirs:
        reference.throw(5)  # type: ignore[call-overload]
    reference.close()
    stepper = Stepper(coro())
    stepper.send(None)
    with pytest.raises(TypeError) as ours:
        stepper.throw(5)
    stepper.close()
    assert str(ours.value) == str(theirs.value)


def test_cancellation_is_asyncios_cancelled_error() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: Future[None] = Future(loop=loop)
        future.cancel("why")
        with pytest.raises(asyncio.CancelledError, match="why"):
            future.result()
    finally:
        loop.close()
