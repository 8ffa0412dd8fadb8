"""CPython's own test suite for ``asyncio.Future``, run against coroscope's Rust ``Future``.

``test.test_asyncio.test_futures`` tests the C and the pure-Python futures through
mixins that take the class under test as a parameter; the classes below hand them
``coroscope.awaitable.Future`` (and a Python subclass of it), so the Rust future
meets every check asyncio's own futures meet.
"""

from __future__ import annotations

from coroscope.awaitable import Future
from test.test_asyncio import test_futures
from test.test_asyncio import utils as test_utils

# Called by pytest around the module (see there for why).
from tests.cpython_suites import setup_module as setup_module
from tests.cpython_suites import teardown_module as teardown_module


class SubFuture(Future):
    """A Python subclass: inherits ``__init__`` and the rest, as with ``asyncio.Future``."""


class RustFutureTests(test_futures.BaseFutureTests, test_utils.TestCase):
    cls = Future


class RustSubFutureTests(test_futures.BaseFutureTests, test_utils.TestCase):
    cls = SubFuture


class RustFutureDoneCallbackTests(test_futures.BaseFutureDoneCallbackTests, test_utils.TestCase):
    def _new_future(self) -> Future:
        return Future(loop=self.loop)


class RustFutureInheritanceTests(test_futures.BaseFutureInheritanceTests, test_utils.TestCase):
    def _get_future_cls(self) -> type[Future]:
        return Future
