"""coroscope.build_info(): what this build is, so that numbers say what made them."""

import re
import sys

import coroscope


def test_build_info_names_profile_and_versions() -> None:
    info = coroscope.build_info()
    assert info["profile"] in ("release", "debug")
    for crate in ("coroscope", "pyo3", "pyo3_async_runtimes", "tokio"):
        assert re.fullmatch(r"\d+\.\d+\.\d+", info[crate]), (crate, info[crate])
    assert info["pyo3"].startswith("0.30.")
    assert info["pyo3_async_runtimes"].startswith("0.30.")
    assert info["rustc"].startswith("rustc ")


def test_build_info_names_the_python_it_was_built_for() -> None:
    assert coroscope.build_info()["python"] == "CPython {}.{}".format(*sys.version_info[:2])


def test_the_package_version_is_the_crate_version() -> None:
    assert coroscope.__version__ == coroscope.build_info()["coroscope"]


def test_make_builds_in_release() -> None:
    # `make test` and `make demo` build with --release: benchmarks depend on it.
    assert coroscope.build_info()["profile"] == "release"
