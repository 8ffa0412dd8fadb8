"""PyBurger, the domain every bridge serves (``src/bridge/burger.rs``): an order is
cooked concurrently and served as each item finishes, through both async bridges.
Prep times are milliseconds apart by a wide margin, so the order things finish in
is a matter of which timer is due first, not of machine speed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from coroscope import alive
from coroscope.bridge import (
    order_async_fn,
    order_blocking,
    order_future_into_py,
)

from tests.conftest import FAST, MEAL_ORDER, SLOW, Run

ORDERS: dict[str, Callable[..., Any]] = {
    "future_into_py": order_future_into_py,
    "async_fn": order_async_fn,
}


# --- PyBurger through both async bridges ---------------------------------------------


@pytest.mark.parametrize("bridge", sorted(ORDERS))
def test_an_order_is_cooked_concurrently_and_served_as_it_finishes(
    run: Run[Any], bridge: str
) -> None:
    async def main() -> tuple[list[str], float]:
        loop = asyncio.get_running_loop()
        start = loop.time()
        served = await ORDERS[bridge](["value_meal"], prep_times=FAST)
        return served, loop.time() - start

    served, _ = run(main())
    assert served == MEAL_ORDER


@pytest.mark.parametrize("bridge", sorted(ORDERS))
def test_an_unknown_item_is_refused_by_name(bridge: str) -> None:
    async def main() -> object:
        return await ORDERS[bridge](["burger", "pizza"])

    with pytest.raises(ValueError, match="unknown item 'pizza'"):
        asyncio.run(main())


@pytest.mark.parametrize("bridge", sorted(ORDERS))
def test_cancelling_an_order_drops_the_rust_future(
    run: Run[Any], bridge: str, baseline: int
) -> None:
    async def main() -> bool:
        task = asyncio.ensure_future(ORDERS[bridge](["burger"], prep_times=SLOW))
        await asyncio.sleep(0.02)
        assert alive() > baseline
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert run(main())


def test_prep_times_are_checked() -> None:
    with pytest.raises(ValueError, match="per item, not per meal"):
        order_blocking(["soda"], prep_times={"value_meal": 1.0})
    with pytest.raises(ValueError, match="prep time of soda must be a finite"):
        order_blocking(["soda"], prep_times={"soda": -1.0})
