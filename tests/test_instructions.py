"""``tools/instructions.py`` (``make bench-instructions``): every function of a
Callgrind profile is sorted into one kind of code, and a case's kinds add up to
its total."""

from __future__ import annotations

import importlib.util
import pathlib
from types import ModuleType

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NATIVE = "/work/python/coroscope/_native.cpython-311-x86_64-linux-gnu.so"
LIBPYTHON = "/py/lib/libpython3.11.so.1.0"

# Lines as `callgrind_annotate --inclusive=no --show=Ir` prints them, long ones too.
# ruff: noqa: E501
ANNOTATED = f"""
--------------------------------------------------------------------------------
42,572,134 (100.0%)  PROGRAM TOTALS
--------------------------------------------------------------------------------
Ir                  file:function
--------------------------------------------------------------------------------
6,847,976 (15.32%)  /b/Python-3.11.7/Python/ceval.c:_PyEval_EvalFrameDefault'2 [{LIBPYTHON}]
  110,145 ( 0.26%)  /b/Python-3.11.7/./Include/object.h:_PyEval_EvalFrameDefault'2
1,720,000 ( 3.85%)  ???:pyo3::impl_::trampoline::trampoline [{NATIVE}]
1,460,000 ( 3.27%)  ???:coroscope::awaitable::future::Future::__init__ [{NATIVE}]
  520,000 ( 1.16%)  ???:coroscope::awaitable::future::Future::__pymethod___new____ [{NATIVE}]
  590,000 ( 1.32%)  ???:<coroscope::awaitable::future::FutureIter as coroscope::awaitable::slots::AmSend>::am_send [{NATIVE}]
  500,000 ( 1.12%)  ???:<std::sync::poison::mutex::Mutex<T> as pyo3::sync::MutexExt<T>>::lock_py_attached [{NATIVE}]
1,309,287 ( 2.93%)  /b/Python-3.11.7/Objects/obmalloc.c:_PyObject_Free [{LIBPYTHON}]
  720,144 ( 1.61%)  /b/Python-3.11.7/Objects/dictobject.c:insert_to_emptydict [{LIBPYTHON}]
  610,061 ( 1.37%)  /b/Python-3.11.7/Modules/_asynciomodule.c:future_init [/py/lib-dynload/_asyncio.so]
1,320,000 ( 2.95%)  ./elf/../sysdeps/x86_64/tls_get_addr.S:__tls_get_addr [/usr/lib/ld-linux-x86-64.so.2]
   44,968 ( 0.14%)  ./malloc/./malloc/malloc.c:free [/usr/lib/x86_64-linux-gnu/libc.so.6]
   30,000 ( 0.07%)  ???:tokio::runtime::park::Inner::park [{NATIVE}]
"""


@pytest.fixture
def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "instructions_tool", ROOT / "tools" / "instructions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_function_is_sorted_into_one_kind(tool: ModuleType) -> None:
    profile = tool.summed(ANNOTATED)
    by_name = {name: what for name, what, _ in profile["top"]}
    assert by_name == {
        "_PyEval_EvalFrameDefault": "interpreter",  # inlined from a header too
        "pyo3::impl_::trampoline::trampoline": "PyO3",
        "coroscope::awaitable::future::Future::__init__": "ours",
        "coroscope::awaitable::future::Future::__pymethod___new____": "PyO3",  # generated glue
        "<coroscope::awaitable::future::FutureIter as coroscope::awaitable::slots::AmSend>"
        "::am_send": "ours",
        "<std::sync::poison::mutex::Mutex<T> as pyo3::sync::MutexExt<T>>::lock_py_attached": "PyO3",
        "_PyObject_Free": "allocation",
        "insert_to_emptydict": "CPython objects",
        "future_init": "asyncio C",
        "__tls_get_addr": "C library",
        "free": "allocation",
        "tokio::runtime::park::Inner::park": "tokio",
    }


def test_the_kinds_add_up_to_every_function_counted_once(tool: ModuleType) -> None:
    profile = tool.summed(ANNOTATED)
    assert sum(profile["kinds"].values()) == sum(count for _, _, count in profile["top"])
    assert profile["kinds"]["interpreter"] == 6_847_976 + 110_145  # one function, two lines
    assert "PROGRAM TOTALS" not in str(profile)


@pytest.mark.parametrize(
    ("description", "case"),
    [
        (
            '(prepare("future_round_trip", "rust_future"))',
            ("asyncio", "future_round_trip", "rust_future"),
        ),
        (
            '(prepare("timeline_overhead", "rust_task"))',
            ("asyncio", "timeline_overhead", "rust_task"),
        ),
        # gungraun cuts long descriptions short, inside a name or just after it
        (
            '(prepare("await_ready_value", "python_stop_iterati...',
            ("asyncio", "await_ready_value", "python_stop_iteration"),
        ),
        (
            '(prepare("bridge_pending_same_thread", "awaitable"...',
            ("asyncio", "bridge_pending_same_thread", "awaitable"),
        ),
        # a case on uvloop is set up by `on_uvloop`
        (
            '(on_uvloop("task_sleep_zero_loops", "rust_task"))',
            ("uvloop", "task_sleep_zero_loops", "rust_task"),
        ),
        ("(something else)", None),
    ],
)
def test_a_case_is_named_even_when_gungraun_cut_its_description_short(
    tool: ModuleType, description: str, case: tuple[str, str, str] | None
) -> None:
    assert tool.case_named(description) == case
