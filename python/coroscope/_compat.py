"""What asyncio lacks, or refuses, on some supported versions, written once.

- ``Runner``: asyncio's own from 3.11. On 3.10, a small one of our own: the
  PyPI backport (``backports.asyncio.runner``) patches ``asyncio.tasks.Task``
  and ``contextvars.copy_context`` module-wide inside every ``run()``, so two
  threads running a Runner each (the soak's eight loops) undo each other's
  patches, and tasks hang or fail with ``module 'contextvars' has no attribute
  '<lambda>'``. Ours is ``run_until_complete`` on a loop it owns, and asyncio's
  own shutdown steps; unlike 3.11's, each ``run()`` copies the caller's context
  afresh instead of keeping one context for the runner's life.
- ``eager_factory(task_class)``: ``asyncio.create_eager_task_factory(task_class)``
  (3.12+) that also takes the ``eager_start`` keyword uvloop passes to every
  task factory on 3.12+ (asyncio's own factory refuses it, for asyncio's own
  Task too: a ``TypeError`` on every task under uvloop).

A leaf: the benchmark runner, the soak, the exit trials and the tests import
from here, so none of them repeats a version check.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


class _Runner310:
    """``asyncio.Runner(loop_factory=...)`` as far as the kit uses it, for 3.10."""

    def __init__(
        self, *, debug: bool | None = None, loop_factory: Callable[[], Any] | None = None
    ) -> None:
        self._debug, self._loop_factory = debug, loop_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._set_event_loop = False

    def __enter__(self) -> _Runner310:
        self.get_loop()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            if self._loop_factory is None:
                self._loop = asyncio.new_event_loop()
                asyncio.set_event_loop(self._loop)
                self._set_event_loop = True
            else:
                self._loop = self._loop_factory()
            if self._debug is not None:
                self._loop.set_debug(self._debug)
        return self._loop

    def run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        return self.get_loop().run_until_complete(coro)

    def close(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in tasks:
                task.cancel()
            if tasks:  # an empty gather() asks for a current loop on 3.10
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            if self._set_event_loop:
                asyncio.set_event_loop(None)
            loop.close()


if sys.version_info >= (3, 11):
    from asyncio import Runner
else:  # pragma: no cover - 3.10 only
    Runner = _Runner310

__all__ = ["Runner", "eager_factory"]


def eager_factory(task_class: Callable[..., Any]) -> Callable[..., Any]:
    """A task factory whose tasks take their first step inside ``create_task``."""

    def factory(loop: Any, coro: Any, *, eager_start: object = None, **kwargs: Any) -> Any:
        return task_class(coro, loop=loop, eager_start=True, **kwargs)

    return factory
