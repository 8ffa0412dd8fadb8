import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import TypeVar, final

_T = TypeVar("_T")

__all__ = [
    "Kitchen",
    "RustPanic",
    "Ticks",
    "alive",
    "call_python",
    "call_python_with_timeout",
    "current_loop",
    "order",
    "order_blocking",
    "order_native",
    "order_threads",
    "rust_panic",
    "rust_sleep",
    "ticks",
]

class RustPanic(Exception): ...

def alive() -> int: ...
def rust_sleep(seconds: float) -> asyncio.Future[None]: ...
def order(
    items: list[str], *, prep_times: dict[str, float] | None = None
) -> asyncio.Future[list[str]]: ...
def order_blocking(
    items: list[str], *, prep_times: dict[str, float] | None = None
) -> list[str]: ...
async def order_native(
    items: list[str], *, prep_times: dict[str, float] | None = None
) -> list[str]: ...
def current_loop() -> asyncio.AbstractEventLoop: ...
def call_python(
    coro_or_fn: Awaitable[_T] | Callable[[], Awaitable[_T]],
) -> asyncio.Future[_T]: ...
def call_python_with_timeout(
    coro_or_fn: Awaitable[_T] | Callable[[], Awaitable[_T]], seconds: float
) -> asyncio.Future[_T]: ...
def rust_panic(message: str) -> asyncio.Future[None]: ...
def order_threads(items: list[str], *, prep_times: dict[str, float] | None = None) -> list[str]: ...

@final
class Kitchen:
    def __new__(
        cls, *, prep_times: dict[str, float] | None = None, pool_size: int = 2
    ) -> Kitchen: ...
    def order(
        self, items: list[str], *, release: bool = True, timeout: float = 5.0
    ) -> list[str]: ...
    def stats(self) -> dict[str, dict[str, int]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Kitchen: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

def ticks(n: int, interval: float) -> Ticks: ...

@final
class Ticks(AsyncIterator[int]):
    def __aiter__(self) -> Ticks: ...
    def __anext__(self) -> Awaitable[int]: ...
    async def aclose(self) -> None: ...
