"""Deep chains of the kit's objects are freed without deep recursion (``src/trashcan.rs``).

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
}


@pytest.mark.parametrize("kind", sorted(CHAINS))
def test_a_chain_two_hundred_thousand_deep_is_freed_without_crashing(kind: str) -> None:
    """``del`` of the outermost used to free the next inside its own
    deallocation, down the chain, until the C stack ran out (40,000 deep)."""
    done = run_python(
        f"""
        import asyncio
        from coroscope.awaitable import Delegate, Future, Ready, ReadySend, YieldN
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
