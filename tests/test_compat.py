"""``coroscope._compat``: the pieces written once for the versions that lack them."""

from __future__ import annotations

import asyncio
import threading

import pytest
import uvloop
from coroscope._compat import _Runner310, eager_factory


def test_the_310_runner_runs_on_one_loop_and_cancels_what_is_left_at_close() -> None:
    cancelled: list[str] = []
    left: list[asyncio.Future[None]] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("left over")
            raise

    async def start_one() -> asyncio.AbstractEventLoop:
        left.append(asyncio.ensure_future(forever()))
        await asyncio.sleep(0)
        return asyncio.get_running_loop()

    with _Runner310(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(start_one()) is runner.get_loop()
        assert runner.run(asyncio.sleep(0, "again")) == "again"
    assert cancelled == ["left over"]
    assert runner.get_loop().is_closed()


def test_the_310_runner_is_safe_in_many_threads_at_once() -> None:
    """The PyPI backport patches modules inside run(): eight threads broke it."""
    results: list[int] = []

    def one(i: int) -> None:
        async def main() -> int:
            for _ in range(200):
                await asyncio.sleep(0)
            return i

        with _Runner310() as runner:
            results.append(runner.run(main()))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == list(range(8))


def test_the_eager_factory_ignores_the_eager_start_keyword_uvloop_passes() -> None:
    made: list[dict[str, object]] = []

    def task_class(coro: object, **kwargs: object) -> str:
        made.append(kwargs)
        return "task"

    factory = eager_factory(task_class)
    assert factory("loop", "coro", eager_start=None, context="ctx") == "task"
    assert made == [{"loop": "loop", "eager_start": True, "context": "ctx"}]


@pytest.mark.parametrize("loop_factory", [None, uvloop.new_event_loop])
def test_the_runner_in_use_gives_back_the_result(loop_factory: object) -> None:
    from coroscope._compat import Runner

    with Runner(loop_factory=loop_factory) as runner:  # type: ignore[arg-type]
        assert runner.run(asyncio.sleep(0, 42)) == 42
