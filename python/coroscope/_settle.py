"""Waiting for what lands on another thread: shared by the soak and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable

SETTLE_SECONDS = 10.0
"""How long tokio may take to finish or drop what is in flight."""


def settle(condition: Callable[[], bool], seconds: float = SETTLE_SECONDS) -> bool:
    """Poll ``condition()`` until true, or ``seconds`` have passed (False then):
    for effects that land on another thread, such as Rust futures dropped on
    tokio's threads a moment after the loop has moved on."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True
