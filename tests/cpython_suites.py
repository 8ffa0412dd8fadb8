"""What the runners of CPython's own asyncio suites (``tests/test_*_cpython.py``)
share: those suites leave an event loop policy behind, and each runner resets it
when its module is done, as CPython's ``tearDownModule`` does."""

from __future__ import annotations

import asyncio


def reset_event_loop_policy() -> None:
    """Back to asyncio's default policy (3.14 deprecates the public setter)."""
    setter = getattr(asyncio.events, "_set_event_loop_policy", None)
    if setter is None:  # before 3.14
        setter = asyncio.set_event_loop_policy
    setter(None)
