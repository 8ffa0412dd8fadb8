"""A short printed tour of coroscope: ``python -m coroscope.tour`` (what ``make demo`` runs).

Each section awaits one mechanism the kit has and prints what happened.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

import coroscope
from coroscope import alive
from coroscope._cli import run_main
from coroscope.await_from_rust import Stepper, await_foo, drive_send, trace
from coroscope.awaitable import Delegate, Future, Ready, TimerFuture, YieldN, compute
from coroscope.bridge import Kitchen, call_python, sleep_awaitable, ticks
from coroscope.catalogue import crossings


def heading(text: str) -> None:
    print(f"\n== {text} ==")


async def brew(cups: int) -> str:
    for _ in range(cups):
        await asyncio.sleep(0)  # a bare yield: "let others run"
    return f"{cups} cups"


async def spills() -> None:
    await asyncio.sleep(0)
    raise ValueError("spilled")


def tour_drivers() -> None:
    """Rust drives a Python coroutine by hand: __next__ vs PyIter_Send."""
    heading("Rust drives a Python coroutine by hand")
    print("await_foo(brew(3))  ->", repr(await_foo(brew(3))), "  (__next__ until StopIteration)")
    print("drive_send(brew(3)) ->", repr(drive_send(brew(3))), "  (PyIter_Send: no StopIteration)")
    try:
        drive_send(spills())
    except ValueError as err:
        print("drive_send(spills()) raised", repr(err), "unchanged")


def tour_trace() -> None:
    """Every step of a coroutine, recorded."""
    heading("trace(): every step of a run")
    print(f"{'step':>4}  {'action':<6} {'outcome':<7} {'value':<10} {'ns':>8}")
    for record in trace(brew(2)):
        print(
            f"{record.index:>4}  {record.action:<6} {record.outcome:<7} "
            f"{record.value!r:<10} {record.ns:>8}"
        )


def tour_stepper() -> None:
    """One step at a time: send, throw, close."""
    heading("Stepper: send, throw and close by hand")
    stepper = Stepper(brew(5))
    stepper.step()
    print(stepper)
    try:
        stepper.throw(KeyError("interrupted"))
    except KeyError:
        pass
    print(stepper)


def tour_pending_future() -> None:
    """A pending future needs an event loop; a Rust Task has one."""
    heading("A pending future needs an event loop")
    loop = asyncio.new_event_loop()
    try:

        async def waits() -> object:
            return await loop.create_future()

        drive_send(waits())
    except RuntimeError as err:
        print("drive_send(waits()) ->", str(err)[:100], "...")
    finally:
        loop.close()


def tour_awaitables() -> None:
    """Rust objects Python can await, and Rust futures cancelled."""
    heading("Rust objects Python can await, on a real event loop")

    async def main() -> None:
        log: list[str] = []

        async def rust_side() -> None:
            log.append(f"Ready(42) -> {await Ready(42)}")
            log.append(f"YieldN(2, 'y') -> {await YieldN(2, 'y')}")

        async def python_side() -> None:
            for i in range(3):
                log.append(f"  python task runs ({i})")
                await asyncio.sleep(0)

        await asyncio.gather(rust_side(), python_side())
        log.append(f"Delegate(brew(1)) -> {await Delegate(brew(1))}")
        print("\n".join(log))

    asyncio.run(main())


def tour_futures() -> None:
    """The Rust Future beside asyncio's, and 1,000 TimerFutures."""
    heading("Futures made in Rust: asyncio's Future, a timer, any Rust future")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        future: Future[str] = Future()
        loop.call_soon(future.set_result, "set by the loop")
        print("await Future()          ->", repr(await future), " ", future)
        start = loop.time()
        values = await asyncio.gather(*(TimerFuture(i, 0.05) for i in range(1000)))
        took = loop.time() - start
        print(f"1000 TimerFuture(_, 0.05) gathered: {len(values)} values in {took:.3f} s")
        print(
            "await sleep_awaitable(0.01)  ->", repr(await sleep_awaitable(0.01, "woken from tokio"))
        )
        print("await compute(10**6)    ->", await compute(10**6), " (yields between chunks)")
        task: asyncio.Future[None] = asyncio.ensure_future(sleep_awaitable(60))
        await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        print("cancelled a 60 s sleep_awaitable: Rust futures still alive =", alive())

    asyncio.run(main())


def tour_bridge() -> None:
    """PyBurger across every bridge, Rust awaiting Python, a stream, the GIL."""
    heading("PyBurger across the bridge")
    times = {"burger": 0.03, "fries": 0.02, "soda": 0.01}

    async def main() -> None:
        for c in crossings("order"):  # every bridge the catalogue has for PyBurger
            call = f"await {c.name}(['value_meal'])"
            print(f"{call:<45} ->", await c.make(["value_meal"], prep_times=times))

        async def ask() -> str:
            await asyncio.sleep(0)
            return "answered in Python"

        print(f"{'await call_python(ask())':<45} ->", repr(await call_python(ask())))
        print(
            f"{'async for tick in ticks(3, 0.01)':<45} ->",
            [tick async for tick in ticks(3, 0.01)],
        )

    asyncio.run(main())
    with Kitchen(prep_times={"fries": 0.005}) as kitchen:
        try:
            kitchen.order(["fries"] * 5, release=False, timeout=0.1)
        except TimeoutError as err:
            print("Kitchen.order(release=False) ->", str(err).split(":")[0], "(gave up, no hang)")
        print("Kitchen.order(release=True)  ->", kitchen.order(["fries"] * 5))


SECTIONS: dict[str, Callable[[], None]] = {
    "drivers": tour_drivers,
    "trace": tour_trace,
    "stepper": tour_stepper,
    "pending": tour_pending_future,
    "awaitables": tour_awaitables,
    "futures": tour_futures,
    "bridge": tour_bridge,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coroscope.tour",
        description="Each mechanism of coroscope awaited once, with what happened "
        "(about a second in all).",
        epilog="sections, in order: " + ", ".join(SECTIONS) + ". The benchmarks are "
        "`python -m coroscope.bench`; the notebooks (`make notebook`) go deeper.",
    )
    parser.add_argument("--section", choices=SECTIONS, action="append", help="run only these")
    parser.add_argument("--list", action="store_true", help="list the sections, run none")
    args = parser.parse_args(argv)
    if args.list:
        for name, section in SECTIONS.items():
            print(f"{name:<11} {(section.__doc__ or '').strip()}")
        return 0
    info = coroscope.build_info()
    print(
        f"coroscope {info['coroscope']} ({info['profile']}, pyo3 {info['pyo3']}, {info['python']})"
    )
    for name in args.section or SECTIONS:
        SECTIONS[name]()
    return 0


if __name__ == "__main__":
    run_main("python -m coroscope.tour", main)
