"""Deep chains of the kit's objects are freed without deep recursion (``src/support/trashcan.rs``).

Freeing runs in a fresh interpreter: a crash there fails the test instead of
ending pytest.
"""

from __future__ import annotations

import pytest

from tests.conftest import run_python

CHAINS = {
    "Ready": "r = Ready(r)",
    "ReadySend": "r = ReadySend(r)",
    "YieldN": "r = YieldN(0, r)",
    "Delegate": "r = Delegate(r)",
    "Future": "f = Future(loop=loop); f.set_result(r); r = f",
    "Future cancelled with a message": "f = Future(loop=loop); f.cancel(msg=r); r = f",
    # A Rust future's captures hold the value (every RustAwaitable maker).
    # PyO3's coroutine keeps an `async fn`'s arguments until it runs.
    **{
        f"{shape}_{kind}": f"r = {shape}_{kind}(r)"
        for shape in ("ready", "yield", "hop")
        for kind in ("awaitable", "fast", "async_fn")
    },
    "sleep_awaitable": "r = sleep_awaitable(0, r)",
    "sleep_fast": "r = sleep_fast(0, r)",
    # A Stepper holds its coroutine; a step record, what was sent and returned.
    "Stepper": "r = Stepper(returns(r))",
    "StepRecord": "r = trace(returns(r))[0]",
}


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_a_chain_two_hundred_thousand_deep_is_freed_without_crashing(kind: str) -> None:
    """``del`` of the outermost used to free the next inside its own
    deallocation, down the chain, until the C stack ran out (40,000 deep; a
    chain of CPython's own coroutines frees fine 100,000 deep)."""
    done = run_python(
        f"""
        import asyncio, warnings
        from coroscope.awaitable import *
        from coroscope.bridge import *
        from coroscope.await_from_rust import Stepper, trace
        warnings.simplefilter("ignore", RuntimeWarning)  # never-awaited coroutines
        async def returns(value):
            return value
        loop = asyncio.new_event_loop()
        r = Ready(None)
        for _ in range(200_000):
            {CHAINS[kind]}
        del r
        print("freed")
        """,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "freed"
