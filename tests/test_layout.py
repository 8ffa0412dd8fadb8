"""The tree keeps its promises: one lesson per file, each paired with its tests and
named in the README's map, and no import circle between the files of ``src/``."""

from __future__ import annotations

import ast
import importlib.util
import pathlib
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "src").rglob("*.rs"))
# The crate root's Python face is the package itself; the support map's is the
# layout it keeps (its files import no lesson: see below).
TESTED_AS = {"lib": "package", "support": "layout"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_source_file_has_its_own_test_file(source: pathlib.Path) -> None:
    stem = TESTED_AS.get(source.stem, source.stem)
    assert (ROOT / "tests" / f"test_{stem}.py").exists()


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_source_file_is_in_the_readme_map(source: pathlib.Path) -> None:
    path = source.relative_to(ROOT).as_posix()
    assert f"[`{path}`]({path})" in (ROOT / "README.md").read_text()


def test_no_import_circle_between_source_files() -> None:
    found = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "circles.py")], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stdout


def _circles_tool() -> Any:
    spec = importlib.util.spec_from_file_location("circles", ROOT / "tools" / "circles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LESSONS = ("await_from_rust", "awaitable", "bridge")


@pytest.mark.parametrize(
    "source",
    sorted((ROOT / "src" / "support").glob("*.rs")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_a_support_file_imports_no_lesson(source: pathlib.Path) -> None:
    """What the lessons stand on must be readable without them, and a lesson
    read with the support files taken as given."""
    imported = _circles_tool().edges(source)
    lessons = [
        str(path.relative_to(ROOT))
        for path in imported
        if path.relative_to(ROOT / "src").parts[0].removesuffix(".rs") in LESSONS
    ]
    assert lessons == []


def test_the_benchmarks_jobs_import_only_the_standard_library() -> None:
    """``benches/drive.rs`` compiles ``bench/workloads.py`` in and runs it with
    no installed package: an import of the kit there would break that bench."""
    source = ROOT / "python" / "coroscope" / "bench" / "workloads.py"
    tree = ast.parse(source.read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    }
    assert imported - {"__future__"} <= sys.stdlib_module_names


# One class each, whose "why one file" notes say why and how long they are.
LONG_ON_PURPOSE = {"src/await_from_rust/task.rs", "src/awaitable/future.rs"}
LONGEST = 600


def test_no_file_outgrows_one_idea() -> None:
    """Past about 600 lines a file has usually grown a second idea; split it."""
    long = {
        path.relative_to(ROOT).as_posix(): lines
        for folder in ("src", "python", "benches", "tests")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in (".rs", ".py", ".pyi")
        and (lines := len(path.read_text().splitlines())) > LONGEST
    }
    assert set(long) <= LONG_ON_PURPOSE, long
