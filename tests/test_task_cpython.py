"""CPython's own test suite for ``asyncio.Task``, run against coroscope's Rust ``Task``.

``test.test_asyncio.test_tasks.BaseTaskTests`` tests the C and the pure-Python
tasks through a mixin that takes the classes under test as attributes; the
classes below hand it ``coroscope.await_from_rust.Task``, with asyncio's C
future and with the Rust ``Future`` as the futures the tasks await.
"""

from __future__ import annotations

import asyncio

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


def teardown_module() -> None:
    asyncio.set_event_loop_policy(None)
