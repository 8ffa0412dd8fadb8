"""CPython's own test suites for ``asyncio.Task``, run against coroscope's Rust ``Task``.

``test.test_asyncio.test_tasks.BaseTaskTests`` tests the C and the pure-Python
tasks through a mixin that takes the classes under test as attributes; the
classes below hand it ``coroscope.await_from_rust.Task``, with asyncio's C
future and with the Rust ``Future`` as the futures the tasks await.
``test_futures2`` checks a task's tracebacks and the context its error reports
run in.

From 3.12, ``test_eager_task_factory`` checks eager start the same way (the
first step inside ``create_task``; no task made at all for a coroutine that
never suspends). From 3.14, ``test_graph`` checks asyncio's call graph
(``capture_call_graph``, ``print_call_graph``: the awaiting frames and who
awaits whom); it runs here with ``asyncio.Task`` replaced by the Rust Task, as
its own C runner replaces it with the C Task, so every task those programs make
is a Rust one. Every class takes its tests from the running Python's own
``test`` package; a suite the running version lacks is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import sys
import unittest

import pytest
from coroscope.await_from_rust import Task
from coroscope.awaitable import Future
from test.test_asyncio import test_futures2, test_tasks
from test.test_asyncio import utils as test_utils

# Called by pytest around the module (see there for why).
from tests.cpython_suites import setup_module as setup_module
from tests.cpython_suites import teardown_module as teardown_module


class RustTask:
    """What every class below hands CPython's mixins: the Rust Task, and (3.14's
    mixins ask for them) asyncio's own ``all_tasks`` and ``current_task``, which
    must see a Rust task as they see a C one."""

    Task = Task
    all_tasks = staticmethod(asyncio.all_tasks)
    current_task = staticmethod(asyncio.current_task)


class RustTaskCFutureTests(RustTask, test_tasks.BaseTaskTests, test_utils.TestCase):
    Future = asyncio.Future


class RustTaskRustFutureTests(RustTask, test_tasks.BaseTaskTests, test_utils.TestCase):
    Future = Future


class RustTaskFutures2Tests(test_futures2.FutureTests, unittest.IsolatedAsyncioTestCase):
    cls = Task


if sys.version_info >= (3, 12):
    from test.test_asyncio import test_eager_task_factory as eager

    class RustEagerTaskFactoryLoopTests(
        RustTask, eager.EagerTaskFactoryLoopTests, test_utils.TestCase
    ):
        pass

    class RustNonEagerTaskCountingTests(
        RustTask, eager.BaseNonEagerTaskFactoryTests, test_utils.TestCase
    ):
        pass

    class RustEagerTaskCountingTests(
        RustTask, eager.BaseEagerTaskFactoryTests, test_utils.TestCase
    ):
        pass

else:

    @pytest.mark.skip(reason="eager tasks (and their tests) are new in Python 3.12")
    def test_eager_task_factory() -> None:
        """CPython's eager task tests, on a Python that has them."""


if sys.version_info >= (3, 14):
    from test.test_asyncio import test_graph

    class RustTaskCallGraphTests(test_graph.TestCallStackC):
        def setUp(self) -> None:
            super().setUp()  # asyncio's C Future, C awaited-by bookkeeping and current_task
            asyncio.Task = asyncio.tasks.Task = Task  # type: ignore[misc]

    class RustTaskRustFutureCallGraphTests(test_graph.TestCallStackC):
        def setUp(self) -> None:
            super().setUp()
            asyncio.Task = asyncio.tasks.Task = Task  # type: ignore[misc]
            asyncio.Future = asyncio.futures.Future = Future  # type: ignore[misc]

else:

    @pytest.mark.skip(reason="asyncio's call graph (and its tests) is new in Python 3.14")
    def test_graph() -> None:
        """CPython's call-graph tests, on a Python that has them."""
