"""The one list of the kit's crossings: every example, by shape and by bridge.

A *crossing* is one Rust future awaited from Python through one *bridge*. The
examples are named by one rule, ``<shape>_<bridge>``: ``ready_fast`` is the
*ready* shape through the *fast* bridge. The benchmark runner, the soak, the
exit trials, the tour and the tests all read this list (the Rust benches through
the runner's groups), so a new bridge or shape is added here and in its own Rust file,
nowhere else (the README's "Contributing" says how).

>>> from coroscope.catalogue import crossing
>>> crossing("ready", "fast").name
'ready_fast'
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from coroscope._native import bridge

MEAL = ["burger", "fries", "soda"]


class ServedMeal:
    """Equal to a served value meal, whatever order its items finished in: with
    equal prep times (and a thousand orders at once), any order can."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, served: object) -> bool:
        return isinstance(served, list) and sorted(served) == MEAL

    def __repr__(self) -> str:
        return "a value meal"


@dataclass(frozen=True)
class Bridge:
    """One way for a Rust future to be awaited from Python."""

    name: str
    what: str
    other_thread: bool  # whether even a ready future crosses to another thread


@dataclass(frozen=True)
class Shape:
    """One kind of Rust future, made the same way by every bridge (``src/support/shapes.rs``)."""

    name: str
    what: str
    call: Callable[[Callable[..., Any], object, float], Awaitable[Any]]
    # Whether it waits for another thread (a tokio worker or timer) to wake it.
    other_thread: bool
    # What awaiting it gives, for the ``value`` it was called with.
    gives: Callable[[object], object] = lambda value: value


BRIDGES = (
    Bridge(
        "future_into_py",
        "pyo3-async-runtimes: spawned on tokio, finished through an asyncio future "
        "from call_soon_threadsafe",
        other_thread=True,
    ),
    Bridge(
        "async_fn",
        "PyO3's own async fn: a coroutine polled on the loop's thread",
        other_thread=False,
    ),
    Bridge(
        "awaitable",
        "coroscope's RustAwaitable: polled on the loop's thread, woken through "
        "call_soon_threadsafe",
        other_thread=False,
    ),
    Bridge(
        "fast",
        "coroscope's fast bridge: inline first poll, one-hop wake, batched GIL-free wakes",
        other_thread=False,
    ),
)


def _value(make: Callable[..., Awaitable[Any]], value: object, seconds: float) -> Awaitable[Any]:
    """The call of a shape that takes only the value to give back."""
    return make(value)


SHAPES = (
    Shape(
        "ready",
        "ready at its first poll: the whole cost of crossing, nothing to wait for",
        _value,
        other_thread=False,
    ),
    Shape(
        "yield",
        "pending once and woken from inside its own poll, on the polling thread",
        _value,
        other_thread=False,
    ),
    Shape(
        "hop",
        "woken from a tokio worker thread",
        _value,
        other_thread=True,
    ),
    Shape(
        "sleep",
        "woken by tokio's timer after `seconds`",
        lambda make, value, seconds: make(seconds, value),
        other_thread=True,
    ),
    Shape(
        "order",
        "PyBurger: a value meal cooked on tokio, each item taking `seconds`",
        lambda make, value, seconds: make(["value_meal"], prep_times=dict.fromkeys(MEAL, seconds)),
        other_thread=True,
        gives=lambda value: ServedMeal(),
    ),
)


@dataclass(frozen=True)
class Crossing:
    """One example: a shape through a bridge, e.g. ``ready_fast``."""

    shape: Shape
    bridge: Bridge
    make: Callable[..., Awaitable[Any]]

    @property
    def name(self) -> str:
        return f"{self.shape.name}_{self.bridge.name}"

    @property
    def other_thread(self) -> bool:
        """Whether awaiting it waits for another thread (so awaits can overlap)."""
        return self.shape.other_thread or self.bridge.other_thread

    def __call__(self, value: object = None, seconds: float = 0.0) -> Awaitable[Any]:
        """A fresh awaitable of this crossing, giving ``self.shape.gives(value)``."""
        return self.shape.call(self.make, value, seconds)


def _discover() -> tuple[Crossing, ...]:
    found = []
    for shape in SHAPES:
        for way in BRIDGES:
            make = getattr(bridge, f"{shape.name}_{way.name}", None)
            if make is not None:
                found.append(Crossing(shape, way, make))
    return tuple(found)


CROSSINGS = _discover()
"""Every shape through every bridge that has it (PyO3's async fn has no sleep:
its timers would need a runtime it does not have)."""


def crossings(shape: str | None = None, bridge: str | None = None) -> list[Crossing]:
    """The crossings of one shape, or one bridge, or both, in catalogue order."""
    return [
        c
        for c in CROSSINGS
        if (shape is None or c.shape.name == shape) and (bridge is None or c.bridge.name == bridge)
    ]


def crossing(shape: str, bridge: str) -> Crossing:
    """The one crossing of ``shape`` through ``bridge``."""
    for found in crossings(shape, bridge):
        return found
    raise KeyError(f"no {shape}_{bridge} in the catalogue")
