"""Deep nesting through C raises ``RecursionError``, even under a raised
recursion limit, instead of running out of C stack (``src/support/depth.rs``).

Each story runs in a fresh interpreter with ``sys.setrecursionlimit(10**6)``:
on 3.11 Python's own guard then lets the C stack run out (a list nested as
deep crashes CPython 3.11 itself); 3.12+ guards the C stack and raises. The
kit raises on every version.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.conftest import run_python

DEEP = 200_000

NESTINGS = {
    "awaiting Delegate(Delegate(...))": (
        "x = Ready(1)\nfor _ in range(DEEP): x = Delegate(x)\n"
        "async def main(): return await x\nasyncio.run(main())"
    ),
    "repr of Ready(Ready(...))": "x = None\nfor _ in range(DEEP): x = Ready(x)\nrepr(x)",
    "repr of YieldN(1, YieldN(1, ...))": (
        "x = None\nfor _ in range(DEEP): x = YieldN(1, x)\nrepr(x)"
    ),
    "repr of Delegate(Delegate(...))": (
        "x = Ready(1)\nfor _ in range(DEEP): x = Delegate(x)\nrepr(x)"
    ),
    **{
        f"{driver} driving a coroutine that drives another": (
            "def traced(coro):\n"  # trace records a raise as the last step
            "    last = trace(coro)[-1]\n"
            "    if last.outcome == 'raise': raise last.value\n"
            "    return last.value\n"
            f"async def nest(n): return 0 if n == 0 else {driver}(nest(n - 1))\n"
            f"{driver}(nest(DEEP))"
        )
        for driver in ("await_foo", "drive_send", "traced")
    },
    "repr of a step record whose value is a step record": (
        "async def returns(v): return v\n"
        "x = None\nfor _ in range(DEEP): x = trace(returns(x))[0]\nrepr(x)"
    ),
}


@pytest.mark.parametrize("story", sorted(NESTINGS))
def test_nesting_past_the_c_stack_raises_recursion_error(story: str) -> None:
    source = "\n".join(
        [
            "import asyncio, sys",
            "from coroscope.awaitable import Delegate, Ready, YieldN",
            "from coroscope.await_from_rust import await_foo, drive_send, trace",
            "sys.setrecursionlimit(10**6)",
            f"DEEP = {DEEP}",
            "try:",
            textwrap.indent(NESTINGS[story], "    "),
            "except RecursionError as err:",
            "    print('RecursionError:', err)",
        ]
    )
    done = run_python(source, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("RecursionError: maximum recursion depth exceeded"), done.stdout


# Eager tasks starting each other, each kept by its coroutine (its
# ``current_task()``): the nesting both eager stories run.
EAGER_NEST = """\
kept = []

async def nest(n):
    kept.append(asyncio.current_task())
    loop = asyncio.get_running_loop()
    return 0 if n == 0 else 1 + await loop.create_task(nest(n - 1))
"""


def test_a_thread_with_a_small_stack_still_nests_every_way_a_few_levels() -> None:
    """The guard refuses only near the stack's end: in a thread of 256 KiB
    (``threading.stack_size``), where CPython and the C Task nest hundreds of
    levels, every nesting of the kit goes ten deep (a fixed reserve of 256
    KiB refused the first level there)."""
    stories = dict(NESTINGS)
    if sys.version_info >= (3, 12):
        stories["eager Rust Tasks starting each other"] = EAGER_NEST + (
            "async def main():\n"
            "    factory = asyncio.create_eager_task_factory(Task)\n"
            "    asyncio.get_running_loop().set_task_factory(factory)\n"
            "    return await nest(DEEP)\n"
            "asyncio.run(main())"
        )
    runs = "\n".join(
        f"def story_{i}():\n{textwrap.indent(body, '    ')}\n"
        f"try:\n    story_{i}()\nexcept RecursionError as err:\n    print({name!r}, err)"
        for i, (name, body) in enumerate(sorted(stories.items()))
    )
    source = "\n".join(
        [
            "import asyncio, threading",
            "from coroscope.awaitable import Delegate, Ready, YieldN",
            "from coroscope.await_from_rust import Task, await_foo, drive_send, trace",
            "DEEP = 10",
            "def stories():",
            textwrap.indent(runs, "    "),
            "threading.stack_size(256 * 1024)",
            "thread = threading.Thread(target=stories)",
            "thread.start()",
            "thread.join()",
        ]
    )
    done = run_python(source)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    assert done.stdout == "", done.stdout


# Where eager tasks nest: the recursion limit, and the thread's stack (KiB, 0
# for the main thread's 8 MiB), as `sys.setrecursionlimit` and
# `threading.stack_size` set them.
EAGER_NESTINGS = {
    "in the main thread under a raised limit": (10**6, 0),
    "in a thread with a 512 KiB stack": (1000, 512),
    "in a thread with a 1 MiB stack": (1000, 1024),
}


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks came in 3.12")
@pytest.mark.parametrize("where", sorted(EAGER_NESTINGS))
def test_eager_tasks_nested_past_the_c_stack_raise_recursion_error_and_nothing_more(
    where: str,
) -> None:
    """Each eager task's first step starts the next one, so the steps nest on
    the C stack, more of it per level for the Rust Task than for the C Task.
    Where it ends: a ``RecursionError``, not a crash (3.12 and 3.13 check only
    the recursion limit, which a small thread stack does not reach); a task
    whose own calls into asyncio failed fails its construction, is not told
    destroyed pending (3.14+ did so half the time, from so deep that the
    report failed too) and is not listed pending with no step to come
    (``asyncio.run`` waited for it for ever); and every task a coroutine kept
    (its ``current_task()``) is done, the deepest one too, whose coroutine had
    ended while its task stayed pending. Left to CPython: the warning for a
    coroutine that the last ``create_task`` could not start, which comes and
    goes for the C Task too."""
    limit, stack = EAGER_NESTINGS[where]

    def nested(task: str) -> subprocess.CompletedProcess[str]:
        return run_python(
            f"""
            import asyncio, sys, threading, warnings
            from coroscope.await_from_rust import Task
            sys.setrecursionlimit({limit})
            warnings.filterwarnings("ignore", "coroutine 'nest' was never awaited")

            {textwrap.indent(EAGER_NEST, " " * 12).strip()}

            async def main():
                factory = asyncio.create_eager_task_factory({task})
                asyncio.get_running_loop().set_task_factory(factory)
                try:
                    await nest(20_000)
                except RecursionError:
                    print("RecursionError")
                me = asyncio.current_task()
                print("pending:", sum(not t.done() for t in kept if t is not me))
                kept.clear()

            def runs():
                for _ in range(5):
                    asyncio.run(main())

            if {stack}:
                threading.stack_size({stack} * 1024)
                thread = threading.Thread(target=runs)
                thread.start()
                thread.join()
            else:
                runs()
            """,
            timeout=60,
        )

    for task in ("asyncio.Task", "Task"):
        done = nested(task)
        assert done.returncode == 0 and done.stderr == "", (task, done.stderr[-2000:])
        assert done.stdout.split() == ["RecursionError", "pending:", "0"] * 5, (task, done.stdout)


def test_the_future_repr_of_a_chain_of_futures_is_cut_short_as_asyncio_cuts_it() -> None:
    """asyncio's repr helper cuts a result's repr (``reprlib``); the guard turns
    what would have crashed 3.11 into the cut it makes for a failing repr."""
    done = run_python(
        """
        import asyncio, sys
        from coroscope.awaitable import Future
        sys.setrecursionlimit(10**6)
        loop = asyncio.new_event_loop()
        x = None
        for _ in range(200_000):
            f = Future(loop=loop); f.set_result(x); x = f
        print(repr(x)[:24])
        """,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("<Future finished result="), done.stdout


def test_nesting_within_the_limit_shows_every_level() -> None:
    from coroscope.awaitable import Delegate, Ready

    x: object = Ready(1)
    for _ in range(3):
        x = Delegate(x)
    assert repr(x) == "Delegate(Delegate(Delegate(Ready(1))))"


def test_drivers_nested_within_the_limit_still_give_the_result() -> None:
    from coroscope.await_from_rust import drive_send

    async def nest(n: int) -> int:
        return 0 if n == 0 else drive_send(nest(n - 1)) + 1

    assert drive_send(nest(100)) == 100


@pytest.mark.parametrize("factory", ["None", "task_factory"], ids=["c", "rust"])
def test_a_long_chain_of_tasks_is_cancelled_wherever_the_c_task_chain_is(factory: str) -> None:
    """The C Task cancels a chain of tasks awaiting each other by a call per
    link. Through PyO3 a call per link took several times the C stack: 30,000
    Rust Tasks under a raised limit ran out of it (a crash, then a
    ``RecursionError``), and on 3.14, which bounds C recursion by the stack,
    a chain of 14,000 was refused where the C Task cancels 45,000. Rust links
    are walked in a loop now, each counted against the limit as C's call is:
    3.11-3.13 refuse this chain, 3.14+ cancel it, for both Tasks."""
    done = run_python(
        f"""
        import asyncio, os
        from coroscope.await_from_rust import task_factory

        async def level(n, built):
            if n == 0:
                built.set()
                await asyncio.sleep(3600)
            return await asyncio.create_task(level(n - 1, built))

        async def main():
            asyncio.get_running_loop().set_task_factory({factory})
            built = asyncio.Event()
            chain = asyncio.create_task(level(30_000, built))
            await built.wait()
            try:
                chain.cancel()
            except RecursionError:
                print("RecursionError", flush=True)
                os._exit(0)  # the chain is left pending: no loop teardown
            try:
                await chain
            except asyncio.CancelledError:
                print("cancelled")

        asyncio.run(main())
        """,
        timeout=120,
    )
    expected = "cancelled" if sys.version_info >= (3, 14) else "RecursionError"
    assert (done.returncode, done.stdout, done.stderr) == (0, expected + "\n", "")


@pytest.mark.parametrize("factory", ["None", "task_factory"], ids=["c", "rust"])
def test_tasks_awaiting_each_other_in_a_ring_refuse_a_cancel_as_the_c_tasks_do(
    factory: str,
) -> None:
    """Walked in a loop, a ring of tasks would be walked for ever; the C
    Task's calls go round it until the stack runs out. Both raise."""
    done = run_python(
        f"""
        import asyncio, os
        from coroscope.await_from_rust import task_factory

        async def main():
            asyncio.get_running_loop().set_task_factory({factory})
            ring = {{}}

            async def waits_on(other):
                await asyncio.sleep(0)
                await ring[other]

            ring["a"] = asyncio.create_task(waits_on("b"))
            ring["b"] = asyncio.create_task(waits_on("a"))
            await asyncio.sleep(0.01)
            try:
                ring["a"].cancel()
            except RecursionError:
                print("RecursionError", flush=True)
            os._exit(0)  # the ring can never end: no loop teardown

        asyncio.run(main())
        """,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "RecursionError\n"), done.stderr[-2000:]


def test_a_chain_of_rust_tasks_the_c_task_can_cancel_is_cancelled_too() -> None:
    """Under the default recursion limit the C Task cancels a chain of 900
    tasks awaiting each other; the Rust Task counted two levels per task (its
    own guard and the call to the next ``cancel``) and refused at 500, where
    ``asyncio.timeout`` then never ended. One level each now, as in C."""
    done = run_python(
        """
        import asyncio
        from coroscope.await_from_rust import task_factory

        async def level(n):
            if n == 0:
                await asyncio.sleep(3600)
            return await asyncio.create_task(level(n - 1))

        async def main(factory):
            asyncio.get_running_loop().set_task_factory(factory)
            try:
                async with asyncio.timeout(0.1):
                    await level(900)
            except TimeoutError:
                return "TimeoutError"

        print(asyncio.run(main(None)), asyncio.run(main(task_factory)))
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["TimeoutError", "TimeoutError"], done.stdout
    assert not done.stderr


def test_a_chain_of_rust_tasks_has_a_repr_wherever_the_c_task_chain_has_one() -> None:
    """A task's repr shows the future it waits on, down the chain; each level
    is counted once, as in C (counted twice, the Rust chain's repr failed at
    200 where the C Task's reached 240)."""
    done = run_python(
        """
        import asyncio
        from coroscope.await_from_rust import task_factory

        async def level(n):
            if n == 0:
                await asyncio.sleep(3600)
            return await asyncio.create_task(level(n - 1))

        async def has_repr(factory, depth):
            asyncio.get_running_loop().set_task_factory(factory)
            top = asyncio.create_task(level(depth))
            await asyncio.sleep(0.01)
            try:
                repr(top)
                return True
            except RecursionError:
                return False
            finally:
                top.cancel()

        for depth in (100, 200, 230):
            print(asyncio.run(has_repr(None, depth)), asyncio.run(has_repr(task_factory, depth)))
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for line in done.stdout.splitlines():
        c_task, rust_task = line.split()
        assert rust_task == "True" or c_task == "False", done.stdout
