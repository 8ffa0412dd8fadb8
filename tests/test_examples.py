"""The examples run as their headers say (``examples/``): a Rust application that
owns the runtime and awaits Python, and PyBurger on async-std."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
# The first example run on a fresh target dir compiles tokio and PyO3 first:
# minutes on two cores, not the suite's two-minute default.
BUILD_SECONDS = 600
# `once`: `make test` runs them; the matrix, which would compile everything again
# for every version, does not (the extension itself is built and tested on each).
pytestmark = [pytest.mark.timeout(BUILD_SECONDS + 60), pytest.mark.once]


def run_example(name: str) -> list[str]:
    done = subprocess.run(
        ["cargo", "run", "--quiet", "--example", name],
        cwd=ROOT,
        # The example embeds this interpreter (pyo3 reads PYO3_PYTHON to build).
        env={**os.environ, "PYO3_PYTHON": sys.executable},
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.splitlines()


def test_a_rust_application_awaits_python_coroutines_concurrently() -> None:
    lines = run_example("rust_app")
    assert lines[:3] == ["served soda", "served fries", "served burger"]
    assert lines[3].startswith("all served in ")


def test_pyburger_cooks_on_async_std_while_asyncio_keeps_working() -> None:
    assert run_example("async_std_burger") == [
        "served soda, fries, burger",
        "asyncio ran other work meanwhile: true",
    ]
