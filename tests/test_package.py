"""The package as a user meets it: imports, docstrings, the stubs' promises, and
committed notebooks."""

import importlib
import inspect
import json
import pathlib
import re
import subprocess
import sys
import types

import coroscope
import pytest

SUBMODULES = ["await_from_rust", "awaitable", "bridge"]
ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_submodule_imports_by_its_dotted_name() -> None:
    code = "import coroscope.await_from_rust, coroscope.awaitable, coroscope.bridge"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", SUBMODULES)
def test_from_import_works_for_each_submodule(name: str) -> None:
    module = importlib.import_module(f"coroscope.{name}")
    native = importlib.import_module(f"coroscope._native.{name}")
    assert module.__doc__ == native.__doc__
    for public in getattr(native, "__all__", [n for n in dir(native) if not n.startswith("_")]):
        assert getattr(module, public) is getattr(native, public)


def public_objects() -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = [("coroscope.build_info", coroscope.build_info)]
    modules = [(name, f"coroscope._native.{name}") for name in SUBMODULES]
    modules.append(("timeline", "coroscope.timeline"))  # Python, on the Rust Task's hooks
    for name, path in modules:
        module = importlib.import_module(path)
        found.append((f"coroscope.{name}", module))
        for attr in getattr(module, "__all__", dir(module)):
            obj = getattr(module, attr)
            if attr.startswith("_") or not callable(obj):
                continue
            found.append((f"coroscope.{name}.{attr}", obj))
            if inspect.isclass(obj):
                for member, value in vars(obj).items():
                    public = not member.startswith("_")
                    if public and (callable(value) or isinstance(value, property)):
                        found.append((f"coroscope.{name}.{attr}.{member}", value))
    return found


@pytest.mark.parametrize(
    ("name", "obj"), public_objects(), ids=lambda x: x if isinstance(x, str) else ""
)
def test_every_public_object_has_a_docstring(name: str, obj: object) -> None:
    doc = obj.__doc__
    assert doc and doc.strip(), f"{name} has no docstring for help() or Jupyter's ?"


def stub_generics() -> list[str]:
    """Every class the stubs declare generic (``class X(Generic[_T])``, or a
    subclass of one), as ``module.Class``: a promise that ``X[int]`` works,
    which ``mypy.stubtest`` does not check."""
    found = []
    for stub in sorted((ROOT / "python" / "coroscope" / "_native").glob("*.pyi")):
        for name in re.findall(r"^class (\w+)\([^)]*\[_T\]", stub.read_text(), re.M):
            found.append(f"{stub.stem}.{name}")
    return found


@pytest.mark.parametrize("name", stub_generics())
def test_every_class_the_stubs_call_generic_can_be_subscripted(name: str) -> None:
    module, cls = name.split(".")
    native = getattr(importlib.import_module(f"coroscope._native.{module}"), cls)
    alias = native[int]
    assert isinstance(alias, types.GenericAlias)
    assert alias.__origin__ is native


@pytest.mark.parametrize("notebook", sorted(ROOT.glob("notebooks/*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(notebook: pathlib.Path) -> None:
    cells = json.loads(notebook.read_text())["cells"]
    dirty = [
        i
        for i, cell in enumerate(cells)
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert not dirty, f"{notebook.name}: strip the outputs of cells {dirty}"


def test_the_tour_runs_every_section_and_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    from coroscope import tour

    assert tour.main([]) == 0
    out = capsys.readouterr().out
    assert "await_foo(brew(3))" in out and "order_fast(['value_meal'])" in out
    assert tour.main(["--list"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("drivers ")


def test_every_command_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    from coroscope import bench, exits, soak, tour

    for command in (bench.main, soak.main, tour.main, exits.main):
        with pytest.raises(SystemExit):
            command(["--help"])
        assert "usage: python -m coroscope." in capsys.readouterr().out
