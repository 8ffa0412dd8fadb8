"""What asyncio refuses on some supported versions, written once.

- ``eager_factory(task_class)``: ``asyncio.create_eager_task_factory(task_class)``
  (3.12+) that also takes the ``eager_start`` keyword uvloop passes to every
  task factory on 3.12+ (asyncio's own factory refuses it, for asyncio's own
  Task too: a ``TypeError`` on every task under uvloop).

A leaf: the benchmark runner and the tests import from here, so none of them
repeats the workaround.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["eager_factory"]


def eager_factory(task_class: Callable[..., Any]) -> Callable[..., Any]:
    """A task factory whose tasks take their first step inside ``create_task``."""

    def factory(loop: Any, coro: Any, *, eager_start: object = None, **kwargs: Any) -> Any:
        return task_class(coro, loop=loop, eager_start=True, **kwargs)

    return factory
