"""The ``am_send`` slot (``src/awaitable/slots.rs``): filled by hand into the types
that finish without a ``StopIteration``, and answered through ``PyIter_Send``."""

from __future__ import annotations

import ctypes
from typing import Any

import pytest
from coroscope.awaitable import Future, FutureIter, Ready, ReadySend, RustAwaitable
from coroscope.bridge import ready_awaitable

HAVE_AM_SEND = 1 << 21  # Py_TPFLAGS_HAVE_AM_SEND
PYGEN_RETURN, PYGEN_NEXT = 0, 1

_send = ctypes.pythonapi.PyIter_Send
_send.argtypes = [ctypes.py_object, ctypes.py_object, ctypes.POINTER(ctypes.py_object)]
_send.restype = ctypes.c_int


def py_iter_send(iterator: Any, value: Any = None) -> tuple[int, Any]:
    """``PyIter_Send(iterator, value, &result)``, as ``await`` and ``drive_send`` call it."""
    result = ctypes.py_object()
    return _send(iterator, value, ctypes.byref(result)), result.value


@pytest.mark.parametrize("cls", [ReadySend, FutureIter, RustAwaitable])
def test_the_slot_is_declared_on_exactly_the_types_that_fill_it(cls: type) -> None:
    assert cls.__flags__ & HAVE_AM_SEND
    assert not Ready.__flags__ & HAVE_AM_SEND  # the plain one finishes by StopIteration


def test_a_value_comes_back_with_a_flag_not_an_exception() -> None:
    assert py_iter_send(ReadySend((1, 2))) == (PYGEN_RETURN, (1, 2))
    assert py_iter_send(ready_awaitable("done")) == (PYGEN_RETURN, "done")


def test_a_pending_future_is_yielded_then_its_result_returned() -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    try:
        future: Future[str] = Future(loop=loop)
        iterator = future.__await__()
        assert py_iter_send(iterator) == (PYGEN_NEXT, future)
        future._asyncio_future_blocking = False  # what a Task does when it takes it
        future.set_result("ok")
        assert py_iter_send(iterator) == (PYGEN_RETURN, "ok")
    finally:
        loop.close()
