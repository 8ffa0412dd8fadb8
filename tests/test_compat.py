"""``coroscope._compat``: the pieces written once for the versions that lack them."""

from __future__ import annotations

from coroscope._compat import eager_factory


def test_the_eager_factory_ignores_the_eager_start_keyword_uvloop_passes() -> None:
    made: list[dict[str, object]] = []

    def task_class(coro: object, **kwargs: object) -> str:
        made.append(kwargs)
        return "task"

    factory = eager_factory(task_class)
    assert factory("loop", "coro", eager_start=None, context="ctx") == "task"
    assert made == [{"loop": "loop", "eager_start": True, "context": "ctx"}]
