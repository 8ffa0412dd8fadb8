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
def matrix(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(ROOT / "tools"))  # as when run as a script: its sid_root
    spec = importlib.util.spec_from_file_location("matrix", ROOT / "tools" / "matrix.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_running_interpreter_is_found_for_its_own_version(matrix: ModuleType) -> None:
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    found = matrix.find_interpreter(version)
    assert found is not None
    interpreter, wrap = found
    assert pathlib.Path(interpreter).exists()
    assert wrap is matrix.on_host  # found on this machine: no sid root needed
    assert matrix.find_interpreter("3.99") is None


def test_a_version_that_is_not_installed_is_reported_skipped_and_fails_nothing(
    matrix: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(matrix, "find_interpreter", lambda version: None)
    assert matrix.main(["--versions", "3.11", "3.15"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "  CPython 3.11: skipped (not installed)" in out
    assert out[-1] == "matrix: 0 of 2 versions passed; skipped (not installed): 3.11, 3.15"


def test_a_failed_version_fails_the_matrix(
    matrix: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = {"3.14": "FAILED: 1 failed, 9 passed", "3.12": "passed: 10 passed"}
    monkeypatch.setattr(matrix, "test_one", lambda version, *_: outcomes[version])
    assert matrix.main(["--versions", "3.14", "3.12"]) == 1
    assert (
        capsys.readouterr().out.splitlines()[-1] == "matrix: 1 of 2 versions passed; failed: 3.14"
    )


def test_supported_versions_agree_with_pyproject(matrix: ModuleType) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert f'requires-python = ">={matrix.SUPPORTED[0]}"' in text


@pytest.fixture
def sid_root(matrix: ModuleType) -> ModuleType:
    return sys.modules["sid_root"]


def test_the_sid_root_holds_each_python_with_its_headers_venv_and_own_tests(
    sid_root: ModuleType,
) -> None:
    for version in sid_root.PYTHONS:
        for package in (f"python{version}", f"python{version}-dev", f"python{version}-venv"):
            assert package in sid_root.PACKAGES
        assert f"libpython{version}-testsuite" in sid_root.PACKAGES
    assert {"rustc", "cargo", "build-essential"} <= set(sid_root.PACKAGES)


def test_a_command_in_the_sid_root_sees_this_checkout_at_its_own_path(
    sid_root: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(sid_root, "ensure", lambda: tmp_path)
    command = sid_root.command(["python3.14", "-V"])
    assert command[:3] == ["unshare", "--mount", "--propagation"]  # mounts end with it
    script = command[command.index("-c") + 1]
    checkout = str(sid_root.CHECKOUT)
    assert f"mount --rbind {checkout} {tmp_path}{checkout}" in script
    assert f"chroot {tmp_path} /usr/bin/env -C {checkout}" in script
    assert command[-2:] == ["python3.14", "-V"]


def test_the_sid_root_is_made_again_only_when_its_recipe_changes(
    sid_root: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setattr(sid_root, "LOCATION", tmp_path)
    (tmp_path / ".coroscope-recipe").write_text(sid_root.RECIPE)
    made = []
    monkeypatch.setattr(sid_root.subprocess, "run", lambda *a, **k: made.append(a))
    assert sid_root.ensure() == tmp_path
    assert made == []


def test_two_jobs_test_two_versions_at_once_and_report_in_version_order(
    matrix: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[str, str]] = []

    def one(version: str, pytest_args: list[str], bench_into: object, tag: str) -> str:
        seen.append((version, tag))
        return f"passed: {version}"

    monkeypatch.setattr(matrix, "test_one", one)
    assert matrix.main(["--jobs", "2", "--versions", "3.15", "3.14", "3.12"]) == 0
    assert sorted(seen) == [("3.12", "[3.12] "), ("3.14", "[3.14] "), ("3.15", "[3.15] ")]
    out = capsys.readouterr().out.splitlines()
    listed = [line for line in out if line.startswith("  CPython")]
    assert listed == [f"  CPython {v}: passed: {v}" for v in ("3.15", "3.14", "3.12")]


def test_benchmarks_never_run_two_versions_at_once(matrix: ModuleType) -> None:
    with pytest.raises(SystemExit):
        matrix.main(["--bench", "--jobs", "2"])
