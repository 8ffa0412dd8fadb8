"""pyo3-async-runtimes on the kit's tokio (``src/bridge/runtimes.rs``): Rust futures
as asyncio futures, Python awaitables as Rust futures, a loop run from Rust.
Every story that awaits runs on asyncio, uvloop and rloop (the ``run`` fixture)."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

import pytest
from coroscope.bridge import (
    RustPanic,
    call_python,
    call_python_with_timeout,
    current_loop,
    order_async_fn,
    order_blocking,
    order_future_into_py,
    panic_future_into_py,
    sleep_future_into_py,
)

from tests.conftest import FAST, MEAL_ORDER, Run
from tests.coroutines import panic_exception


def test_the_no_running_loop_gotcha_and_its_fix() -> None:
    # order_future_into_py(...) is evaluated before asyncio.run starts a loop: future_into_py
    # has no running loop to make its asyncio future on.
    with pytest.raises(RuntimeError, match="no running event loop"):
        asyncio.run(order_future_into_py(["soda"], prep_times=FAST))

    async def main() -> list[str]:
        return await order_future_into_py(["soda"], prep_times=FAST)

    assert asyncio.run(main()) == ["soda"]
    # A PyO3 async fn returns a real coroutine, so asyncio.run takes it as is.
    assert asyncio.run(order_async_fn(["soda"], prep_times=FAST)) == ["soda"]


def test_rust_can_run_the_loop_itself() -> None:
    assert order_blocking(["value_meal"], prep_times=FAST) == MEAL_ORDER


def test_current_loop_is_the_running_loop(run: Run[Any]) -> None:
    async def main() -> bool:
        return current_loop() is asyncio.get_running_loop()

    assert run(main())


def test_rust_sleep_gives_none(run: Run[Any], baseline: int) -> None:
    assert run(call(sleep_future_into_py, 0.001)) is None
    with pytest.raises(ValueError, match="seconds must be a finite"):
        sleep_future_into_py(-1)


async def call(bridged: Callable[..., Any], *args: object) -> Any:
    """Call a ``future_into_py`` function inside the running loop, and await it."""
    return await bridged(*args)


# --- Rust awaits Python ---------------------------------------------------------------


async def double_later(x: int) -> int:
    await asyncio.sleep(0.001)
    return 2 * x


def test_rust_awaits_a_python_coroutine_or_function(run: Run[Any]) -> None:
    async def main() -> list[int]:
        return [await call_python(double_later(21)), await call_python(lambda: double_later(2))]

    assert run(main()) == [42, 4]


def test_a_python_exception_reaches_the_python_caller_through_rust(run: Run[Any]) -> None:
    async def fails() -> None:
        raise LookupError("from Python")

    with pytest.raises(LookupError, match="from Python"):
        run(call(call_python, fails))


@pytest.mark.parametrize("bridge", [call_python, lambda f: call_python_with_timeout(f, 5)])
def test_with_no_running_loop_rust_refuses_before_calling_the_function(
    bridge: Callable[..., Any],
) -> None:
    """It called the function first: a coroutine nobody asked for, and its
    "never awaited" warning."""
    called: list[str] = []

    def make() -> Any:
        called.append("called")
        return double_later(1)

    with pytest.raises(RuntimeError, match="no running event loop"):
        bridge(make)
    assert called == []


@pytest.mark.parametrize("bridge", [call_python, lambda f: call_python_with_timeout(f, 5)])
def test_a_panic_exception_raised_in_python_reaches_the_caller_like_any_other(
    run: Run[Any], bridge: Callable[..., Any], capfd: pytest.CaptureFixture[str]
) -> None:
    """pyo3-async-runtimes' ``into_future`` takes the Task's result through
    PyO3, which resumes a ``PanicException`` as a Rust panic in its callback:
    the await never ended. The kit's hand-off takes it as it is."""
    panic = panic_exception()
    capfd.readouterr()  # the probe's own panic text
    raised = panic("raised by Python")

    async def fails() -> None:
        await asyncio.sleep(0)
        raise raised

    async def main() -> BaseException:
        try:
            await asyncio.wait_for(bridge(fails), 10)
        except BaseException as exc:  # the PanicException is one
            return exc
        raise AssertionError("the bridge returned")

    assert run(main()) is raised
    assert capfd.readouterr().err == ""


def test_contextvars_travel_into_python_called_back_from_rust(run: Run[Any]) -> None:
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request")

    async def read_it() -> str:
        return request.get("unset")

    async def main() -> list[str]:
        request.set("req-1")
        return [
            await call_python(read_it()),
            await call_python_with_timeout(read_it(), 5),
        ]

    assert run(main()) == ["req-1", "req-1"]


def test_dropping_the_rust_future_cancels_the_python_task(run: Run[Any]) -> None:
    log: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            log.append("python task cancelled")
            raise

    async def main() -> None:
        with pytest.raises(TimeoutError, match="Rust stopped waiting"):
            await call_python_with_timeout(slow(), 0.02)
        for _ in range(100):
            if log:
                break
            await asyncio.sleep(0.001)

    run(main())
    assert log == ["python task cancelled"]


def test_a_panic_in_a_bridged_future_is_a_python_exception(run: Run[Any]) -> None:
    with pytest.raises(RustPanic):
        run(call(panic_future_into_py, "boom"))
    assert run(call(sleep_future_into_py, 0)) is None  # and the runtime goes on
