"""The one check behind each map module's test (``test_await_from_rust.py``,
``test_awaitable.py``, ``test_bridge.py``): a parent file is a map plus
registration, so everything its Python module exports is defined in exactly one
of its lesson files, and each lesson file has its own test file."""

from __future__ import annotations

import importlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _defines(path: pathlib.Path, name: str) -> bool:
    code = path.read_text()
    return bool(
        re.search(rf"\b(fn|struct|const)\s+{name}\b", code)
        or re.search(rf'\.add\(\s*"{name}"', code)
    )


def check_map(module: str) -> None:
    """``coroscope.<module>``'s names each come from one file of ``src/<module>/``,
    and every file there is paired with ``tests/test_<stem>.py``."""
    native = importlib.import_module(f"coroscope._native.{module}")
    lessons = sorted((ROOT / "src" / module).glob("*.rs"))
    for name in native.__all__:
        homes = [path.stem for path in lessons if _defines(path, name)]
        assert len(homes) == 1, f"{module}.{name} is defined in {homes or 'no lesson file'}"
    for lesson in lessons:
        assert (ROOT / "tests" / f"test_{lesson.stem}.py").exists(), lesson
