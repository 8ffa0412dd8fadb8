"""``python -m coroscope.bench``: run the groups, print a summary that fits on one
screen, write the results (JSON with provenance) and a chart."""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, fields
from typing import Any, TypeVar

import coroscope
from coroscope._cli import installed
from coroscope._loops import INSTALL, LOOPS, installed_loops
from coroscope.bench import instructions, versions
from coroscope.bench.chart import save
from coroscope.bench.groups import GROUPS, Group
from coroscope.bench.report import markdown, summary, table
from coroscope.bench.run import FORMAT, Result, measure, provenance

EPILOG = """\
Each group does one job several ways (its variants) on each loop; a variant's time
per operation is divided by the group's baseline, measured in the same run, so the
ratio survives a busy machine. Full runs take about 10 minutes; --quick under one.

examples:
  python -m coroscope.bench --quick                 what `make demo` runs
  python -m coroscope.bench --list                  the groups and their variants
  python -m coroscope.bench --quick --group bridge_ready,wake_from_tokio
  python -m coroscope.bench --report FILE.json      BENCHMARKS.md for a results file
  python -m coroscope.bench --versions DIR          the cross-version table (and chart) for
                                                    a `make bench-versions` directory
  python -m coroscope.bench --instructions FILE     instructions per op, from
                                                    `make bench-instructions`

BENCHMARKS.md explains a full run; notebooks/04_overhead.ipynb plots and reads it.
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m coroscope.bench",
        description="Every mechanism of coroscope side by side, timed against a baseline.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tenth of the operations, 3 rounds (< 1 min)"
    )
    parser.add_argument(
        "--loops",
        help="comma-separated loops (default: asyncio,uvloop; asyncio alone when uvloop is "
        "not installed)",
    )
    parser.add_argument(
        "--group",
        metavar="NAMES",
        help="run only these comma-separated groups (see --list)",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the groups and variants, run none"
    )
    parser.add_argument(
        "--table", action="store_true", help="also print every variant's time, ratio and spread"
    )
    parser.add_argument(
        "--out", default="bench-results", help="directory for results (default: %(default)s)"
    )
    parser.add_argument("--report", metavar="FILE", help="print BENCHMARKS.md for a results file")
    parser.add_argument(
        "--instructions",
        metavar="FILE",
        help="print the instructions-per-operation table of a `make bench-instructions` file; "
        "with --report, as a section of BENCHMARKS.md",
    )
    parser.add_argument(
        "--versions",
        metavar="DIR",
        help="print the cross-version comparison of DIR's per-version results (3.X.json) "
        "and draw its chart (DIR/versions.png); with --report, as BENCHMARKS.md's last section",
    )
    return parser


def chosen_loops(parser: argparse.ArgumentParser, names: str | None) -> list[str]:
    """The loops to run on: those named, or every one installed."""
    if names is None:
        loops, missing = installed_loops()
        if missing:
            print(
                f"not installed, so not run on: {', '.join(missing)} ({INSTALL})", file=sys.stderr
            )
        return loops
    loops = list(dict.fromkeys(name for name in names.split(",") if name))  # each once, as groups
    unknown = set(loops) - set(LOOPS)
    if unknown or not loops:
        parser.error(f"unknown loop(s): {', '.join(sorted(unknown)) or names!r}")
    missing = [name for name in loops if name not in installed_loops()[0]]
    if missing:
        parser.error(f"--loops {','.join(missing)}: not installed ({INSTALL})")
    return loops


def _selected(parser: argparse.ArgumentParser, names: str | None) -> list[Group]:
    if names is None:
        return GROUPS
    wanted = [name for name in names.split(",") if name]
    known = {group.name for group in GROUPS}
    unknown = [name for name in wanted if name not in known] or ([] if wanted else [names])
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)} (see --list)")
    return [group for group in GROUPS if group.name in wanted]


class Refused(Exception):
    """A file or directory named on the command line that cannot be used: said
    in one line, before anything is measured."""


# A results file is some kilobytes: past this it is not one (and reading all
# of `/dev/zero` would take the machine's memory).
LARGEST = 64 * 2**20


def _read_json(flag: str, path: str) -> Any:
    """The JSON file named by ``flag``, or ``Refused`` saying why not."""
    try:
        with open(path, "rb") as file:
            raw = file.read(LARGEST + 1)
        if len(raw) > LARGEST:
            raise Refused(f"{flag} {path}: over {LARGEST >> 20} MiB, not a results file")
        return json.loads(raw.decode())
    except OSError as exc:
        raise Refused(f"{flag} {path}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise Refused(f"{flag} {path}: not a whole JSON file ({exc})") from None
    except RecursionError:
        raise Refused(f"{flag} {path}: nested too deep to be a results file") from None
    except MemoryError:  # under the size cap, `[{},{},...]` still parses to gigabytes
        raise Refused(f"{flag} {path}: too many values to be a results file") from None


def _results_file(flag: str, path: str) -> dict[str, Any]:
    """A results file of this kit's format (``--report``, each ``--versions`` run)."""
    data = _read_json(flag, path)
    if not (isinstance(data, dict) and {"provenance", "results"} <= data.keys()):
        raise Refused(f"{flag} {path}: not a results file (no provenance and results)")
    provenance, results = data["provenance"], data["results"]
    written = provenance.get("format", 1) if isinstance(provenance, dict) else None
    if isinstance(written, int) and written > FORMAT:
        raise Refused(
            f"{flag} {path}: written by a newer coroscope (format {written}; "
            f"this one reads up to {FORMAT})"
        )
    if not _well_formed(provenance, results):
        raise Refused(
            f"{flag} {path}: not a results file of this format (a provenance with "
            f"{', '.join(PROVENANCE_READ)}, and results each with {', '.join(RESULT_FIELDS)})"
        )
    return data


# What the report reads of a results file, and of its provenance.
RESULT_FIELDS = {field.name: field.type for field in fields(Result)}
PROVENANCE_READ = ("mode", "python")


def _well_formed(provenance: object, results: object) -> bool:
    """Whether the report can read every row: the types ``Result`` declares."""
    types: dict[str, type | tuple[type, ...]] = {
        "str": str,
        "int": int,
        "float": (int, float),
        "float | None": (int, float, type(None)),
    }

    def row_ok(row: object) -> bool:
        return isinstance(row, dict) and all(
            isinstance(row.get(name), types[str(kind)]) for name, kind in RESULT_FIELDS.items()
        )

    return (
        isinstance(provenance, dict)
        and all(isinstance(provenance.get(key), str) for key in PROVENANCE_READ)
        and isinstance(provenance.get("format", 1), int)
        and isinstance(results, list)
        and all(row_ok(row) for row in results)
    )


def _instructions_file(path: str) -> dict[str, Any]:
    """A ``make bench-instructions`` file (``--instructions``)."""
    data = _read_json("--instructions", path)
    if not (isinstance(data, dict) and {"provenance", "loop_only", "cases"} <= data.keys()):
        raise Refused(
            f"--instructions {path}: not an instructions file (no provenance, loop_only "
            "and cases; `make bench-instructions` writes one)"
        )
    return data


T = TypeVar("T")


def _rendered(flag: str, path: str, render: Callable[[], T]) -> T:
    """``render()``, or ``Refused`` naming the file whose contents it could not
    report (the shape was checked; the values can still be impossible)."""
    try:
        return render()
    except (LookupError, TypeError, ValueError, ArithmeticError, AttributeError) as exc:
        raise Refused(f"{flag} {path}: cannot be reported ({type(exc).__name__}: {exc})") from None
    except OSError as exc:  # a chart beside the file that cannot be written
        raise Refused(f"{flag} {path}: cannot write {exc.filename} ({exc.strerror})") from None


def _writable(out: pathlib.Path) -> None:
    """``--out`` made and written to now, not after the whole run."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise Refused(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def _study(directory: pathlib.Path) -> dict[str, dict[str, Any]]:
    """A ``make bench-versions`` directory's runs, each a results file."""
    if not directory.is_dir():
        raise Refused(f"--versions {directory}: not a directory")
    try:
        return versions.load(directory, lambda path: _results_file("--versions", str(path)))
    except FileNotFoundError as missing:  # no 3.X.json at all
        raise Refused(f"--versions {directory}: {missing}") from None
    except ValueError as odd:  # a file named like a run that is not one (3.x.json)
        raise Refused(f"--versions {directory}: {odd}") from None


def _progress(line: str) -> None:
    """One line per group: overwritten in place on a terminal."""
    if sys.stderr.isatty():
        print(f"\r\033[K{line[:110]}", end="", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except Refused as refused:
        print(f"python -m coroscope.bench: {refused}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    for flag in ("out", "loops", "group", "report", "instructions", "versions"):
        if getattr(args, flag) == "":
            parser.error(f"--{flag} needs a value")

    if args.report or args.versions or args.instructions:
        # Everything read first: a bad file is said before anything is printed.
        report = args.report and _results_file("--report", args.report)
        counts = args.instructions and _instructions_file(args.instructions)
        runs = args.versions and _study(pathlib.Path(args.versions))
        # And every text made before any is printed: a file of the right shape
        # may still hold what cannot be reported (a zero time, a case without
        # its group), and that is said in one line too.
        texts: list[str] = []
        if report:
            texts += _rendered("--report", args.report, lambda: [markdown(report, args.report)])
        if counts:
            texts += _rendered(
                "--instructions",
                args.instructions,
                lambda: [
                    instructions.markdown(counts, args.instructions),
                    instructions.profiles(counts),
                ],
            )
        if runs:
            picture = pathlib.Path(args.versions) / "versions.png"
            if installed("matplotlib"):
                _rendered("--versions", args.versions, lambda: versions.save(runs, picture))
            else:
                print(f"matplotlib is not installed: no chart ({INSTALL})", file=sys.stderr)
            texts += _rendered(
                "--versions",
                args.versions,
                lambda: [versions.markdown(runs, args.versions, str(picture))],
            )
        print("\n".join(texts))
        return 0
    groups = _selected(parser, args.group)
    if args.list:
        for group in groups:
            variants = ", ".join(name for name, _ in group.variants)
            print(f"{group.name}: {group.what}\n    {variants} (baseline: {group.variants[0][0]})")
        return 0
    if coroscope.build_info()["profile"] != "release":
        print(
            "coroscope is a debug build: its timings would mislead. "
            "Rebuild in release mode (`make develop`) and run again.",
            file=sys.stderr,
        )
        return 2
    loops = chosen_loops(parser, args.loops)
    out = pathlib.Path(args.out)
    _writable(out)
    chart = installed("matplotlib")
    if not chart:
        print(f"matplotlib is not installed: no chart ({INSTALL})", file=sys.stderr)

    started = time.monotonic()
    results = measure(groups, args.quick, loops, _progress)
    prov = provenance(args.quick, loops)
    data: dict[str, Any] = {"provenance": prov, "results": [asdict(r) for r in results]}
    if args.group is None:  # every group: and the GIL waits, which are no group's
        # Imported here: `python -m coroscope.bench.gil_waits` must find it not
        # yet imported by the package (runpy warns otherwise).
        from coroscope.bench import gil_waits

        _progress("gil_waits: how long tokio's threads wait for the GIL")
        data["gil_waits"] = gil_waits.run(loops, gil_waits.WAKES // (10 if args.quick else 1))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = out / f"{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    title = f"coroscope, {prov['mode']} run, {prov['python']}: ratio to each baseline"
    if chart:
        save(results, title, json_path.with_suffix(".png"))

    if args.table:
        print(table(results))
    print("\n".join(summary(results, groups)))
    took = time.monotonic() - started
    print(
        f"\n{took:.0f} s. results: {json_path}"
        + (f" (chart: {json_path.with_suffix('.png')})" if chart else "")
        + "\n"
        "a full run explained: BENCHMARKS.md; plotted and read: notebooks/04_overhead.ipynb;\n"
        "every variant: --table; one group: --group NAME; all options: --help"
    )
    return 0
