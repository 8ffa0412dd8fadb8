"""Native core of coroscope (type stubs, checked against the build by mypy.stubtest)."""

from typing import Any

from . import await_from_rust as await_from_rust
from . import awaitable as awaitable
from . import bridge as bridge

__all__ = [
    "_hold_a_lock_on_tokio",
    "_lock_on_tokio_is_free",
    "alive",
    "await_from_rust",
    "awaitable",
    "bridge",
    "build_info",
    "is_shut_down",
    "quiesce",
    "shutdown",
    "unwatch_steps",
    "watch_steps",
]

def alive() -> int: ...
def build_info() -> dict[str, Any]: ...
def shutdown(timeout: float = 2.0) -> None: ...
def is_shut_down() -> bool: ...
def quiesce(timeout: float = 10.0) -> bool: ...
def watch_steps(loop: object, recorder: Any) -> None: ...
def unwatch_steps(loop: object) -> None: ...
def _hold_a_lock_on_tokio(seconds: float) -> None: ...
def _lock_on_tokio_is_free() -> bool: ...
