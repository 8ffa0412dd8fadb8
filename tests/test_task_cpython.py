"""CPython's own test suite for ``asyncio.Task``, run against coroscope's Rust ``Task``.

``test.test_asyncio.test_tasks.BaseTaskTests`` tests the C and the pure-Python
tasks through a mixin that takes the classes under test as attributes; the
classes below hand it ``coroscope.await_from_rust.Task``, with asyncio's C
future and with the Rust ``Future`` as the futures the tasks await.

From 3.12, ``test_eager_task_factory`` checks eager start the same way (the
first step inside ``create_task``; no task made at all for a coroutine that
never suspends); before 3.12 there is nothing to run, and one test says so.
Every class takes its tests from the running Python's own ``test`` package.
"""

from __future__ import annotations

import asyncio
import sys

import pytest
from coroscope.await_from_rust import Task
from coroscope.awaitable import Future
from test.test_asyncio import test_tasks
from test.test_asyncio import utils as test_utils


class RustTaskCFutureTests(test_tasks.BaseTaskTests, test_utils.TestCase):
    Task = Task
    Future = asyncio.Future


class RustTaskRustFutureTests(test_tasks.BaseTaskTests, test_utils.TestCase):
    Task = Task
    Future = Future


if sys.version_info >= (3, 12):
    from test.test_asyncio import test_eager_task_factory as eager

    class RustEagerTaskFactoryLoopTests(eager.EagerTaskFactoryLoopTests, test_utils.TestCase):
        Task = Task

    class RustNonEagerTaskCountingTests(eager.BaseNonEagerTaskFactoryTests, test_utils.TestCase):
        Task = Task

    class RustEagerTaskCountingTests(eager.BaseEagerTaskFactoryTests, test_utils.TestCase):
        Task = Task

else:

    @pytest.mark.skip(reason="eager tasks (and their tests) are new in Python 3.12")
    def test_eager_task_factory() -> None:
        """CPython's eager task tests, on a Python that has them."""


def teardown_module() -> None:
    asyncio.set_event_loop_policy(None)
