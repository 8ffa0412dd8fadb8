"""Exit trials: each route, in fresh processes, must exit cleanly every time.

``python -m coroscope.exits --runs 20`` (``make soak`` runs it at full size);
``tests/test_runtime.py`` runs the same trials a few times each.

A crash at interpreter exit never shows inside the process that runs a test
suite: it happens after the last line of Python ran, in a thread nobody
watches, and only sometimes. So each trial writes a small script, runs it
``runs`` times in fresh interpreters, and counts the *bad exits*: an exit
status other than 0 (SIGABRT is -6), a time-out (a hang), ``Fatal Python
error`` or ``panicked`` on stderr, or a script that did not reach its end.

Scenarios, on asyncio's loop and on uvloop:

- **finished**: ``asyncio.run`` awaits the route 50 times, then the script ends
  (what crashed most before the kit owned its runtime: completions still on
  tokio's threads while the interpreter finalized);
- **pending**: 50 awaits started on a loop that is left running nothing and
  never closed, so their completions land during exit;
- **closed**: the same, with the loop closed while they are pending;
- **fork**: after using the route in the parent, a ``fork()`` child (through
  multiprocessing's fork context) uses it again and must finish, and so must a
  spawned child;
- **misuse**: ``order_blocking`` called from a running loop must raise, start
  nothing, and leave nothing to crash at exit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from coroscope._cli import count_up_to, run_main
from coroscope._loops import INSTALL, installed_loops
from coroscope.catalogue import CROSSINGS

# Each route as the expression a script awaits (inside a coroutine, where the
# ones built on future_into_py find their running loop), waiting a few ms: every
# crossing of the catalogue that involves tokio's threads, and the routes that
# are not crossings (Rust awaiting Python, a tokio-finished Future, a stream).
ROUTES: dict[str, str] = {
    **{
        c.name: f"crossing({c.shape.name!r}, {c.bridge.name!r})(1, 0.002)"
        for c in CROSSINGS
        if c.other_thread
    },
    "call_python": "call_python(asyncio.sleep(0.002))",
    "TimerFuture": "TimerFuture(1, 0.002)",
    "ticks": "first_tick(ticks(2, 0.002))",
}
SCENARIOS = ("finished", "pending", "closed", "fork")
# What a script prints as its last line when it got there.
END = "reached the end"
# A run that takes longer than this is a hang (a fork child waiting forever).
RUN_TIMEOUT = 60.0

_PRELUDE = """
import asyncio, multiprocessing, sys
from asyncio import Runner
import {loop}
from coroscope.awaitable import TimerFuture
from coroscope.bridge import call_python, order_blocking, ticks
from coroscope.catalogue import crossing

async def first_tick(stream):
    async for tick in stream:
        return tick

def make():
    return {route}

async def awaits(n):
    return await asyncio.gather(*[make() for _ in range(n)])

def new_loop():
    return {loop}.new_event_loop()

def run(main):
    with Runner(loop_factory=new_loop) as runner:
        return runner.run(main)
"""

_SCENARIO = {
    "finished": """
run(awaits(50))
""",
    "pending": """
loop = new_loop()
tasks = [loop.create_task(awaits(1)) for _ in range(50)]
loop.run_until_complete(asyncio.sleep(0.001))
""",
    "closed": """
loop = new_loop()
tasks = [loop.create_task(awaits(1)) for _ in range(50)]
loop.run_until_complete(asyncio.sleep(0.001))
loop.close()
""",
    "fork": """
def child():
    run(awaits(5))

if __name__ == "__main__":
    run(awaits(5))
    for method in ("fork", "spawn"):
        process = multiprocessing.get_context(method).Process(target=child)
        process.start()
        process.join(20)
        if process.is_alive():
            process.kill()
            sys.exit(f"the {method} child hung")
        if process.exitcode != 0:
            sys.exit(f"the {method} child exited with {process.exitcode}")
""",
    "misuse": """
async def main():
    try:
        order_blocking(["burger"], prep_times={"burger": 0.05})
    except RuntimeError as err:
        return str(err)
    sys.exit("order_blocking ran inside a running loop")

run(main())
""",
}


def script(scenario: str, route: str, loop: str) -> str:
    """The script for one trial: it prints ``END`` as its last act."""
    body = _PRELUDE.format(route=ROUTES[route], loop=loop) + _SCENARIO[scenario]
    return body + f"\nprint({END!r})\n"


@dataclass
class Trial:
    """``runs`` fresh interpreters running one script; what went wrong in each."""

    scenario: str
    route: str
    loop: str
    runs: int
    bad: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.scenario}: {self.route} on {self.loop}"


def _one_run(path: str) -> str | None:
    """Run the script at ``path`` in a fresh interpreter; why the exit was bad, or None."""
    try:
        done = subprocess.run(
            [sys.executable, path], capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        return f"hung for {RUN_TIMEOUT:g} s"
    err = done.stderr
    if done.returncode != 0:
        return f"exit status {done.returncode}: {err.strip()[-300:]}"
    for sign in ("Fatal Python error", "panicked"):
        if sign in err:
            return f"{sign!r} on stderr: {err.strip()[-300:]}"
    if not done.stdout.rstrip().endswith(END):
        return "the script did not reach its end"
    return None


def run_trial(scenario: str, route: str, loop: str, runs: int, *, workers: int = 4) -> Trial:
    """Run one trial ``runs`` times, ``workers`` processes at a time."""
    trial = Trial(scenario, route, loop, runs)
    start = time.perf_counter()
    # A file, not ``-c``: a spawned multiprocessing child re-imports ``__main__``.
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(workers) as pool:
        path = os.path.join(folder, "trial.py")
        with open(path, "w") as file:
            file.write(script(scenario, route, loop))
        trial.bad = [why for why in pool.map(_one_run, [path] * runs) if why]
    trial.seconds = time.perf_counter() - start
    return trial


def trials() -> list[tuple[str, str, str]]:
    """Every ``(scenario, route, loop)``: each route in each scenario, and the
    misuse, on each loop installed (uvloop and rloop are optional)."""
    loops = installed_loops()[0]
    every = [(s, r, lp) for s in SCENARIOS for r in ROUTES for lp in loops]
    return every + [("misuse", "order_future_into_py", lp) for lp in loops]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coroscope.exits", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--runs", type=count_up_to(100_000), default=20, help="fresh processes per trial (20)"
    )
    parser.add_argument(
        "--workers", type=count_up_to(256), default=4, help="processes at a time (4)"
    )
    args = parser.parse_args(argv)
    if missing := installed_loops()[1]:
        print(f"not installed, so not run on: {', '.join(missing)} ({INSTALL})", flush=True)
    total = bad = 0
    for scenario, route, loop in trials():
        trial = run_trial(scenario, route, loop, args.runs, workers=args.workers)
        total += trial.runs
        bad += len(trial.bad)
        verdict = "ok" if not trial.bad else f"{len(trial.bad)} BAD"
        print(f"{trial.name}: {trial.runs} runs, {verdict} ({trial.seconds:.1f} s)", flush=True)
        for why in sorted(set(trial.bad)):
            print(f"    {why}", flush=True)
    print(f"\n{bad} bad exits out of {total:,} runs")
    return 1 if bad else 0


if __name__ == "__main__":
    run_main("python -m coroscope.exits", main)
