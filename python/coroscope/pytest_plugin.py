"""A bound on the instructions of one await, for a library's tests: the
``await_instructions`` fixture (pytest finds it once coroscope is installed).

::

    def test_my_awaitable_stays_cheap(await_instructions):
        await_instructions("mypkg.awaitables:Mine", at_most=2_500)

Instruction counts do not move from run to run (``coroscope.bench.callgrind``
says why and how they are counted), so the bound holds on a busy CI machine
where a time would not; set it a little above today's count and a change that
makes one await dearer fails the test, saying by how much. Counts differ from
one CPython to another: keep a bound to the version it was set on. Each check
runs two interpreters under Callgrind (seconds each). Where valgrind is not
installed the test is skipped, saying how to get it.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["await_instructions"]


@pytest.fixture
def await_instructions() -> Callable[..., float]:
    """``check(variant, at_most=N, **options)``: count one await of ``variant``
    (``"module:attribute"`` of a callable making an awaitable, or the name of one
    of ``coroscope.bench.BASELINES``), fail the test if it takes more than
    ``at_most`` instructions, and return the count. ``options`` are
    ``count_instructions``' own (``loop``, ``awaits``)."""

    def check(variant: str | Callable[..., Any], *, at_most: float, **options: Any) -> float:
        from coroscope.bench.callgrind import NO_VALGRIND, count_instructions
        from coroscope.bench.yours import BASELINES

        # Checked before seconds of counting; NaN would let every count pass.
        if isinstance(at_most, bool) or not isinstance(at_most, (int, float)):
            raise TypeError(f"at_most must be a number, not {type(at_most).__name__}")
        if not math.isfinite(at_most) or at_most <= 0:
            raise ValueError(f"at_most must be a finite number above 0, not {at_most!r}")

        if shutil.which("valgrind") is None:
            pytest.skip(NO_VALGRIND)
        if isinstance(variant, str) and variant in BASELINES:
            counts = count_instructions({}, baselines=(variant,), repeat=1, **options)
            name = variant
        else:
            # Named as the user wrote it: an error about it then says so.
            name = variant if isinstance(variant, str) else "checked"
            counts = count_instructions({name: variant}, baselines=(), repeat=1, **options)
        found = counts.per_await[name]
        if found > at_most:
            pytest.fail(
                f"one await of {variant} takes {found:,.0f} instructions on {counts.loop}, "
                f"{found / at_most - 1:.1%} over the bound of {at_most:,.0f}",
                pytrace=False,
            )
        return found

    return check
