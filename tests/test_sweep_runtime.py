"""Sweep of the runtime's own calls (``coroscope.shutdown``, ``quiesce``): bad
durations as ``time.sleep`` refuses them, work started after a shutdown as a
``ThreadPoolExecutor`` refuses it after its own, and work the OS refuses threads
for as ``threading`` refuses it. A shutdown or a thread limit is for the whole
process, so each row runs in a fresh interpreter."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest
from coroscope import quiesce, shutdown

from tests.conftest import run_python
from tests.sweep import Mistake

DURATIONS = [-1.0, float("nan"), 1e300, "1"]

MISTAKES = [
    *(
        Mistake(
            f"{fn.__name__}({bad!r})",
            lambda fn=fn, bad=bad: fn(bad),
            lambda bad=bad: time.sleep(bad),
        )
        for fn in (shutdown, quiesce)
        for bad in DURATIONS
    ),
]


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.what)
def test_a_bad_duration_fails_as_time_sleep_fails_for_it(mistake: Mistake) -> None:
    mistake.check()


# Every way the kit starts Rust work or threads, as an awaitable expression.
WORK = {
    "sleep_awaitable": "crossing('sleep', 'awaitable')(1, 0.01)",
    "sleep_fast": "crossing('sleep', 'fast')(1, 0.01)",
    "order_future_into_py": "crossing('order', 'future_into_py')(1, 0.01)",
    "order_async_fn": "crossing('order', 'async_fn')(1, 0.01)",
    "hop_awaitable": "crossing('hop', 'awaitable')(1)",
    "TimerFuture": "TimerFuture(1, 0.01)",
    "ticks": "anext(ticks(1, 0))",
    "order_threads": "asyncio.to_thread(order_threads, ['soda'])",
    "Kitchen": "asyncio.to_thread(Kitchen().order, ['soda'])",
}

# Rust awaiting Python: refused after shutdown before the coroutine is made
# (it ran to its end, unawaited, its errors unheard).
CALLS = {
    "call_python": "call_python(ran)",
    "call_python_with_timeout": "call_python_with_timeout(ran, 5)",
}
AFTER_SHUTDOWN = {**WORK, **CALLS}


@pytest.mark.parametrize("work", sorted(AFTER_SHUTDOWN))
def test_work_started_after_shutdown_is_refused_as_a_closed_pool_refuses_it(work: str) -> None:
    done = run_python(
        f"""
        import asyncio, concurrent.futures
        from coroscope import shutdown
        from coroscope.awaitable import TimerFuture
        from coroscope.bridge import (Kitchen, call_python, call_python_with_timeout,
                                      order_threads, ticks)
        from coroscope.catalogue import crossing

        async def ran():
            print("the coroutine ran")

        pool = concurrent.futures.ThreadPoolExecutor(1)
        pool.shutdown()
        pool.shutdown()  # twice is harmless, for both
        try:
            pool.submit(print)
        except BaseException as err:
            print("theirs", type(err).__name__)

        shutdown()
        shutdown()

        async def main():
            return await {AFTER_SHUTDOWN[work]}

        try:
            asyncio.run(asyncio.wait_for(main(), 10))
        except BaseException as err:
            print("ours", type(err).__name__, err)
        else:
            print("ours ok")
        """,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "panicked" not in done.stderr
    theirs, ours = done.stdout.splitlines()[-2:]
    assert theirs == "theirs RuntimeError"
    assert ours.startswith("ours RuntimeError cannot schedule new futures after shutdown"), ours


# Run as a user the thread limit binds: root is exempt from RLIMIT_NPROC, so
# root runs the story with another real user (its effective user still reads
# the interpreter under /root) and without the two capabilities that exempt.
# Each test process has a user of its own: the limit counts every thread of
# the user, and the version matrix runs suites side by side (as one shared
# user, their limited children took each other's room).
AS_UNPRIVILEGED = (
    [
        "setpriv",
        "--ruid",
        str(100_000 + os.getpid()),
        "--bounding-set",
        "-sys_resource,-sys_admin",
        "--",
    ]
    if os.geteuid() == 0
    else []
)

LIMITED = """
import asyncio, os, resource, threading

def threads_of_this_user():
    uid, count = os.getuid(), 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/status") as status:
                fields = dict(line.split(":", 1) for line in status)
        except (OSError, ValueError):
            continue
        if int(fields["Uid"].split()[0]) == uid:
            count += int(fields["Threads"])
    return count

_, hard = resource.getrlimit(resource.RLIMIT_NPROC)
resource.setrlimit(resource.RLIMIT_NPROC, (threads_of_this_user(), hard))
try:
    threading.Thread(target=print).start()
    print("unenforced")
    raise SystemExit
except RuntimeError:
    pass
resource.setrlimit(resource.RLIMIT_NPROC, (threads_of_this_user() + ROOM, hard))

from coroscope.awaitable import TimerFuture
from coroscope.bridge import Kitchen, order_threads, ticks
from coroscope.catalogue import crossing

async def main():
    return await WORK

def attempt():
    try:
        asyncio.run(asyncio.wait_for(main(), 10))
    except BaseException as err:
        print(type(err).__name__, err)
    else:
        print("ok")

attempt()
resource.setrlimit(resource.RLIMIT_NPROC, (hard, hard))
attempt()
"""


@pytest.mark.skipif(
    not os.path.isdir("/proc") or (os.geteuid() == 0 and shutil.which("setpriv") is None),
    reason="needs /proc, and setpriv when run as root",
)
@pytest.mark.parametrize("room", [0, 1, 2, 3])
@pytest.mark.parametrize("work", sorted(WORK))
def test_work_the_os_refuses_threads_for_fails_as_threading_fails_then_works(
    work: str, room: int
) -> None:
    """With room for ``room`` more threads of the user, the work runs or raises
    ``threading``'s ``RuntimeError`` (not a ``PanicException``, which ``except
    Exception`` misses, and never a freeze with the GIL held: tokio used to
    start some workers and wait forever for the rest); with room again, the
    same work runs: nothing was left half started."""
    source = LIMITED.replace("WORK", WORK[work]).replace("ROOM", str(room))
    done = subprocess.run(
        [*AS_UNPRIVILEGED, sys.executable, "-c", source],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.stdout.strip() == "unenforced":
        pytest.skip("this OS does not enforce RLIMIT_NPROC here")
    if done.stderr.startswith("setpriv:"):
        pytest.skip(f"cannot change user here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "panicked" not in done.stderr, done.stderr[-2000:]
    limited, unlimited = done.stdout.splitlines()[-2:]
    assert limited == "ok" or limited.startswith("RuntimeError can't start new thread"), limited
    assert unlimited == "ok", done.stdout
