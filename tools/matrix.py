"""Build and test coroscope on every supported CPython (3.11 to 3.15) found here.

    make test-matrix                    # every supported version
    make test-matrix VERSIONS=3.14      # one (or some) of them
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

An interpreter is looked for as ``pythonX.Y`` on PATH and in pyenv's versions;
3.14 and 3.15, which this Debian 12 machine cannot run, come from a Debian sid
root (``tools/sid_root.py``) that every command of that version runs in. A
version found nowhere is reported as *skipped*, never as passed; the last line
lists every version with what happened to it.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import sid_root

ROOT = pathlib.Path(__file__).resolve().parent.parent
SUPPORTED = ("3.11", "3.12", "3.13", "3.14", "3.15")

Wrap = Callable[[list[str]], list[str]]


def on_host(cmd: list[str]) -> list[str]:
    return cmd


def find_interpreter(version: str) -> tuple[str, Wrap] | None:
    """A CPython ``version`` interpreter that runs, with how to run a command
    beside it (on this machine, or in the sid root), or None."""
    found = find_on_host(version)
    if found is not None:
        return found, on_host
    if version in sid_root.PYTHONS and sid_root.unavailable() is None:
        return f"/usr/bin/python{version}", sid_root.command
    return None


def find_on_host(version: str) -> str | None:
    """The path of a CPython ``version`` interpreter on this machine that runs, or None."""
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


Runner = Callable[[list[str]], tuple[int, str]]


def runner(env: dict[str, str], log: pathlib.Path, wrap: Wrap, tag: str = "") -> Runner:
    """What runs one version's commands: in the checkout, through ``wrap``, with
    ``env``; each command's output both shown (each line after ``tag``, which
    tells versions apart when several run at once) and kept in ``log``. A call
    returns the exit code and the last non-empty line."""

    def run(cmd: list[str]) -> tuple[int, str]:
        print(f"{tag}+", " ".join(cmd), flush=True)
        last = ""
        with open(log, "a") as out:
            process = subprocess.Popen(
                wrap(cmd),
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            assert process.stdout is not None
            for line in process.stdout:
                sys.stdout.write(tag + line)
                out.write(line)
                if line.strip():
                    last = line.strip()
            return process.wait(), last

    return run


def setup(version: str, interpreter: str, run: Runner) -> int:
    """Make the version's venv and install the kit's Python tools (again only
    when pyproject.toml changed), then build the extension into it."""
    venv = ROOT / ".venvs" / version
    python = venv / "bin" / "python"
    uv = str(ROOT / ".venv" / "bin" / "uv")
    # Not `python.exists()`: in a sid root's venv it links to a path that only
    # exists inside the root.
    if not (venv / "pyvenv.cfg").exists():
        code, _ = run([uv, "venv", "--quiet", "--python", interpreter, str(venv)])
        if code:
            return code
    stamp = venv / ".deps"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not stamp.exists() or stamp.read_text() != wanted:
        install = [uv, "pip", "install", "--quiet", "--python", str(python)]
        code, _ = run([*install, "maturin>=1.16,<2", "-r", "pyproject.toml", "--all-extras"])
        if code:
            return code
        stamp.write_text(wanted)
    maturin = ["maturin", "develop", "--uv", "--release", "--quiet"]
    code, _ = run([*maturin, "--target-dir", f"target/maturin-{version}"])
    return code


def test_one(
    version: str, pytest_args: list[str], bench_into: pathlib.Path | None, tag: str = ""
) -> str:
    """Set up, build and test (or, given ``bench_into``, benchmark) one version;
    returns what happened, in a few words. ``tag`` starts each line it shows."""
    found = find_interpreter(version)
    if found is None:
        return "skipped (not installed)"
    interpreter, wrap = found
    logs = ROOT / "target" / "matrix-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{version}.log"
    log.write_text("")
    where = "" if wrap is on_host else " in the sid root"
    print(f"\n=== CPython {version}: {interpreter}{where} ===", flush=True)
    default = version == default_version()
    venv = ROOT / (".venv" if default else f".venvs/{version}")
    python = str(venv / "bin" / "python")
    base = os.environ if wrap is on_host else sid_root.environment()
    env = {
        **base,
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{ROOT / '.venv' / 'bin'}{os.pathsep}" + base["PATH"],
        # The Rust examples the suite runs embed this version's interpreter.
        "PYO3_PYTHON": python,
        "CARGO_TARGET_DIR": str(
            ROOT / "target" if default else ROOT / "target" / f"matrix-{version}"
        ),
    }
    run = runner(env, log, wrap, tag)
    if default:
        # The default version is `make test`'s own venv and build.
        code, _ = run(["make", "--no-print-directory", "develop"])
    else:
        code = setup(version, interpreter, run)
    if code:
        return f"FAILED to build (see {log.relative_to(ROOT)})"
    if bench_into is not None:
        return benchmark(version, python, run, bench_into)
    code, _ = run([python, "-m", "mypy.stubtest", "coroscope._native"])
    if code:
        return f"FAILED stubtest (see {log.relative_to(ROOT)})"
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb"))
    pytest = [python, "-m", "pytest", "tests", "README.md", "--markdown-docs", *notebooks]
    # --durations: each version's log lists its slowest tests, for keeping CI in its hour.
    # Not the checks marked `once` (see pyproject.toml): `make test` runs them.
    once = ["-m", "not slow and not once"]
    options = ["--nbmake", "-q", "-p", "no:cacheprovider", "--durations=20", *once]
    code, last = run([*pytest, *options, *pytest_args])
    summary = re.sub(r"=+", "", last).strip()
    return ("passed: " if code == 0 else "FAILED: ") + summary


def benchmark(version: str, python: str, run: Runner, into: pathlib.Path) -> str:
    """The quick benchmark run under ``version``, kept as ``into/<version>.json``."""
    scratch = into / f"run-{version}"
    code, _ = run([python, "-m", "coroscope.bench", "--quick", "--out", str(scratch)])
    if code:
        return f"FAILED to benchmark (see target/matrix-logs/{version}.log)"
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
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="test N versions at once (default 1): a pytest session keeps about one core "
        "busy, so on two cores --jobs 2 nearly halves the matrix (CI runs it so); "
        "benchmarks always run one version at a time",
    )
    parser.add_argument("pytest_args", nargs="*", help="passed on to pytest (after --)")
    args = parser.parse_args(argv)
    if args.jobs < 1 or (args.bench and args.jobs > 1):
        parser.error("--jobs takes a whole number from 1, and 1 with --bench")
    versions = args.versions
    if args.except_default:
        versions = [v for v in versions if v != default_version()]
    started = time.monotonic()
    bench_into = None
    if args.bench:
        bench_into = ROOT / "bench-results" / "versions" / time.strftime("%Y%m%d-%H%M%S")
        bench_into.mkdir(parents=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        tags = {v: f"[{v}] " if args.jobs > 1 else "" for v in versions}
        done = pool.map(lambda v: test_one(v, args.pytest_args, bench_into, tags[v]), versions)
        outcomes = dict(zip(versions, done, strict=True))
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
        report = runner(dict(os.environ), table, on_host)
        report([default, "-m", "coroscope.bench", "--versions", source])
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
