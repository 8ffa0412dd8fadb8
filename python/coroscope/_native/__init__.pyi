"""Native core of coroscope (type stubs, checked against the build by mypy.stubtest)."""

from typing import Any

from . import await_from_rust as await_from_rust
from . import awaitable as awaitable
from . import bridge as bridge

__all__ = [
    "_current_flow",
    "_hold_a_lock_on_tokio",
    "_lock_on_tokio_is_free",
    "_rust_side_start",
    "_rust_side_stop",
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

# The Rust side of a crossing, recorded (src/support/rust_side.rs): an event is
# (thread, kind, what, start_ns, end_ns, flow or None), in the start's clock.
def _rust_side_start() -> int: ...
def _rust_side_stop(since: int) -> list[tuple[str, str, str, int, int, int | None]]: ...
def _current_flow() -> int | None: ...
