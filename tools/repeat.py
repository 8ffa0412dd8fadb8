"""Run a test module (or any pytest selection) N times in a row and report every
failure: how a flaky test is caught, and how a fix is shown to hold.

    make repeat TESTS=tests/test_reliability.py N=20
    make repeat TESTS=tests/test_reliability.py N=5 LOAD=2   # two busy processes beside it

Each run is a fresh pytest process. ``--load K`` keeps K CPU-bound processes
spinning for the whole repeat, as a shared CI machine would. The last line is
``N passed, M failed`` (runs, not tests).
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import subprocess
import sys
import time
from collections import Counter


def _spin() -> None:
    while True:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tests", nargs="+", help="what pytest should run, e.g. tests/test_x.py")
    parser.add_argument("--runs", type=int, default=20, help="how many runs (default 20)")
    parser.add_argument("--load", type=int, default=0, help="CPU-bound processes beside it")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.load < 0:
        parser.error("--runs must be at least 1 and --load at least 0")

    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.load)]
    for spinner in spinners:
        spinner.start()
    failed_runs = 0
    failures: Counter[str] = Counter()
    try:
        for run in range(1, args.runs + 1):
            start = time.monotonic()
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-q",
                    "-rf",
                    "-p",
                    "no:cacheprovider",
                    *args.tests,
                ],
                capture_output=True,
                text=True,
            )
            summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
            failed = re.findall(r"^FAILED (\S+)", done.stdout, re.MULTILINE)
            failures.update(failed)
            failed_runs += done.returncode != 0
            verdict = "ok" if done.returncode == 0 else "FAILED"
            print(
                f"run {run}/{args.runs}: {verdict} in {time.monotonic() - start:.0f} s: {summary}"
            )
            for test in failed:
                print(f"    {test}")
            if done.returncode != 0 and not failed:
                print(done.stdout[-2000:] + done.stderr[-2000:])
            sys.stdout.flush()
    finally:
        for spinner in spinners:
            spinner.terminate()
    if failures:
        print("failures by test:")
        for test, count in failures.most_common():
            print(f"  {count}/{args.runs}  {test}")
    print(f"{args.runs - failed_runs} passed, {failed_runs} failed")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
