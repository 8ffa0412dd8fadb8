"""The tree keeps its promises: one lesson per file, each paired with its tests and
named in the README's map, and no import circle between the files of ``src/``."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "src").rglob("*.rs"))
# The crate root's Python face is the package itself.
TESTED_AS = {"lib": "package"}


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
