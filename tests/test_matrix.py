"""``tools/matrix.py`` (``make test-matrix``): which CPython versions it finds, and
that a version it cannot find is reported as skipped, never as passed."""

from __future__ import annotations

import importlib.util
import pathlib
import sys
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matrix", ROOT / "tools" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_running_interpreter_is_found_for_its_own_version(matrix: ModuleType) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = matrix.find_interpreter(version)
    assert found is not None
    assert matrix.find_interpreter("3.99") is None


def test_a_version_that_is_not_installed_is_reported_skipped_and_fails_nothing(
    matrix: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(matrix, "find_interpreter", lambda version: None)
    assert matrix.main(["--versions", "3.10", "3.13"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  CPython 3.10: skipped (not installed)" in out
    assert out[-1] == "matrix: 0 of 2 versions passed; skipped (not installed): 3.10, 3.13"


def test_a_failed_version_fails_the_matrix(
    matrix: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = {"3.10": "FAILED: 1 failed, 9 passed", "3.12": "passed: 10 passed"}
    monkeypatch.setattr(matrix, "test_one", lambda version, *_: outcomes[version])
    assert matrix.main(["--versions", "3.10", "3.12"]) == 1
    assert (
        capsys.readouterr().out.splitlines()[-1] == "matrix: 1 of 2 versions passed; failed: 3.10"
    )


def test_supported_versions_agree_with_pyproject(matrix: ModuleType) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert f'requires-python = ">={matrix.SUPPORTED[0]}"' in text
