"""Build and test coroscope on every supported CPython (3.10 to 3.13) found here.

    make test-matrix                    # every supported version
    make test-matrix VERSIONS=3.13      # one (or some) of them
    python tools/matrix.py --except-default   # what CI runs before `make test`
    make bench-versions                 # the cross-version study (--bench)

Each version gets its own venv (``.venvs/<version>``) and its own cargo target
directories (``target/maturin-<version>`` for the extension, ``target/matrix-<version>``
for the Rust examples the suite runs), so versions never rebuild each other and
the default ``.venv`` stays as ``make test`` left it. In each one it runs what
``make stubtest`` and ``make test-python`` run: mypy's stubtest and the whole
Python suite (tests, README blocks, notebooks).

With ``--bench`` it runs ``python -m coroscope.bench --quick`` instead of the
tests, under each version into one directory (``bench-results/versions/<when>/
3.X.json``), then writes the comparison table and chart with
``python -m coroscope.bench --versions``.

An interpreter is looked for as ``pythonX.Y`` on PATH and in pyenv's versions.
A version that is not installed is reported as *skipped*, never as passed; the
last line lists every version with what happened to it.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")


def find_interpreter(version: str) -> str | None:
    """The path of a CPython ``version`` interpreter that runs, or None."""
    candidates = []
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    # pyenv's own versions first: its shims on PATH fail for a version not selected.
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    on_path = shutil.which(f"python{version}")
    if on_path:
        candidates.append(on_path)
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return candidate
    return None


def default_version() -> str:
    """The version of ``.venv`` (what ``make test`` runs on)."""
    python = ROOT / ".venv" / "bin" / "python"
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def run(cmd: list[str], env: dict[str, str], log: pathlib.Path) -> tuple[int, str]:
    """Run ``cmd`` in the checkout, its output both shown and kept in ``log``;
    returns the exit code and the last non-empty line."""
    print("+", " ".join(cmd), flush=True)
    last = ""
    with open(log, "a") as out:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            out.write(line)
            if line.strip():
                last = line.strip()
        return process.wait(), last


def setup(version: str, interpreter: str, env: dict[str, str], log: pathlib.Path) -> int:
    """Make the version's venv and install the kit's Python tools (again only
    when pyproject.toml changed), then build the extension into it."""
    venv = ROOT / ".venvs" / version
    python = venv / "bin" / "python"
    uv = shutil.which("uv", path=str(ROOT / ".venv" / "bin")) or "uv"
    if not python.exists():
        code, _ = run([uv, "venv", "--quiet", "--python", interpreter, str(venv)], env, log)
        if code:
            return code
    stamp = venv / ".deps"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        code, _ = run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python),
                "maturin>=1.16,<2",
                "-r",
                "pyproject.toml",
                "--all-extras",
            ],
            env,
            log,
        )
        if code:
            return code
        stamp.write_text(wanted)
    code, _ = run(
        [
            "maturin",
            "develop",
            "--uv",
            "--release",
            "--quiet",
            "--target-dir",
            f"target/maturin-{version}",
        ],
        env,
        log,
    )
    return code


def test_one(version: str, pytest_args: list[str], bench_into: pathlib.Path | None) -> str:
    """Set up, build and test (or, given ``bench_into``, benchmark) one version;
    returns what happened, in a few words."""
    interpreter = find_interpreter(version)
    if interpreter is None:
        return "skipped (not installed)"
    logs = ROOT / "target" / "matrix-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{version}.log"
    log.write_text("")
    print(f"\n=== CPython {version}: {interpreter} ===", flush=True)
    default = version == default_version()
    venv = ROOT / (".venv" if default else f".venvs/{version}")
    python = str(venv / "bin" / "python")
    env = {
        **os.environ,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}"
        + os.environ["PATH"],
        # The Rust examples the suite runs embed this version's interpreter.
        "PYO3_PYTHON": python,
        "CARGO_TARGET_DIR": str(
            ROOT / "target" if default else ROOT / "target" / f"matrix-{version}"
        ),
    }
    if default:
        # The default version is `make test`'s own venv and build.
        code, _ = run(["make", "--no-print-directory", "develop"], env, log)
    else:
        code = setup(version, interpreter, env, log)
    if code:
        return f"FAILED to build (see {log.relative_to(ROOT)})"
    if bench_into is not None:
        return benchmark(version, python, env, log, bench_into)
    code, _ = run([python, "-m", "mypy.stubtest", "coroscope._native"], env, log)
    if code:
        return f"FAILED stubtest (see {log.relative_to(ROOT)})"
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    code, last = run(
        [
            python,
            "-m",
            "pytest",
            "tests",
            "README.md",
            "--markdown-docs",
            *notebooks,
            "--nbmake",
            "-q",
            "-p",
            "no:cacheprovider",
            *pytest_args,
        ],
        env,
        log,
    )
    summary = re.sub(r"=+", "", last).strip()
    return ("passed: " if code == 0 else "FAILED: ") + summary


def benchmark(
    version: str, python: str, env: dict[str, str], log: pathlib.Path, into: pathlib.Path
) -> str:
    """The quick benchmark run under ``version``, kept as ``into/<version>.json``."""
    scratch = into / f"run-{version}"
    code, _ = run([python, "-m", "coroscope.bench", "--quick", "--out", str(scratch)], env, log)
    if code:
        return f"FAILED to benchmark (see {log.relative_to(ROOT)})"
    (made,) = scratch.glob("*.json")
    made.rename(into / f"{version}.json")
    shutil.rmtree(scratch)
    return f"benchmarked: {(into / f'{version}.json').relative_to(ROOT)}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--versions",
        nargs="+",
        default=list(SUPPORTED),
        choices=SUPPORTED,
        metavar="X.Y",
        help=f"which versions (default: {' '.join(SUPPORTED)})",
    )
    parser.add_argument(
        "--except-default",
        action="store_true",
        help="leave out the version of .venv (CI tests it with `make test` afterwards)",
    )
    parser.add_argument(
        "--bench",
        action="store_true",
        help="run the quick benchmarks under each version instead of the tests, and compare",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)
    versions = args.versions
    if args.except_default:
        versions = [v for v in versions if v != default_version()]
    started = time.monotonic()
    bench_into = None
    if args.bench:
        bench_into = ROOT / "bench-results" / "versions" / time.strftime("%Y%m%d-%H%M%S")
        bench_into.mkdir(parents=True)
    outcomes = {version: test_one(version, args.pytest_args, bench_into) for version in versions}
    minutes = (time.monotonic() - started) / 60
    print(f"\n=== version matrix ({minutes:.0f} min) ===")
    for version, outcome in outcomes.items():
        print(f"  CPython {version}: {outcome}")
    failed = [v for v, outcome in outcomes.items() if outcome.startswith("FAILED")]
    if bench_into is not None and len(failed) < len(outcomes):
        source = str(bench_into.relative_to(ROOT))
        default = str(ROOT / ".venv" / "bin" / "python")
        # The table is also kept beside the runs, as versions.md.
        table = bench_into / "versions.md"
        run([default, "-m", "coroscope.bench", "--versions", source], dict(os.environ), table)
    ran = [v for v, outcome in outcomes.items() if not outcome.startswith("skipped")]
    skipped = [v for v in outcomes if v not in ran]
    print(
        f"matrix: {len(ran) - len(failed)} of {len(outcomes)} versions passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + (f"; skipped (not installed): {', '.join(skipped)}" if skipped else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
