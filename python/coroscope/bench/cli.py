"""``python -m coroscope.bench``: run the groups, print a summary that fits on one
screen, write the results (JSON with provenance) and a chart."""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import sys
import time
from dataclasses import asdict

import coroscope
from coroscope.bench import instructions, versions
from coroscope.bench.chart import save
from coroscope.bench.groups import GROUPS, LOOPS, Group
from coroscope.bench.report import markdown, summary, table
from coroscope.bench.run import measure, provenance

EPILOG = """\
Each group does one job several ways (its variants) on each loop; a variant's time
per operation is divided by the group's baseline, measured in the same run, so the
ratio survives a busy machine. Full runs take about 15 minutes; --quick under one.

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
        "--loops", default="asyncio,uvloop", help="comma-separated loops (default: %(default)s)"
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


def _selected(parser: argparse.ArgumentParser, names: str | None) -> list[Group]:
    if names is None:
        return GROUPS
    wanted = [name for name in names.split(",") if name]
    known = {group.name for group in GROUPS}
    unknown = [name for name in wanted if name not in known]
    if unknown:
        parser.error(f"unknown group(s): {', '.join(unknown)} (see --list)")
    return [group for group in GROUPS if group.name in wanted]


def _progress(line: str) -> None:
    """One line per group: overwritten in place on a terminal."""
    if sys.stderr.isatty():
        print(f"\r\033[K{line[:110]}", end="", file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    if args.report or args.versions or args.instructions:
        if args.report:
            print(markdown(json.loads(pathlib.Path(args.report).read_text()), args.report))
        if args.instructions:
            counts = json.loads(pathlib.Path(args.instructions).read_text())
            print(instructions.markdown(counts, args.instructions))
            print(instructions.profiles(counts))
        if args.versions:
            directory = pathlib.Path(args.versions)
            runs = versions.load(directory)
            versions.save(runs, directory / "versions.png")
            print(versions.markdown(runs, args.versions, f"{args.versions}/versions.png"))
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
    loops = [name for name in args.loops.split(",") if name]
    unknown = set(loops) - set(LOOPS)
    if unknown:
        parser.error(f"unknown loop(s): {', '.join(sorted(unknown))}")

    started = time.monotonic()
    results = measure(groups, args.quick, loops, _progress)
    if sys.stderr.isatty():
        print(file=sys.stderr)
    prov = provenance(args.quick, loops)
    data = {"provenance": prov, "results": [asdict(r) for r in results]}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    json_path = out / f"{stamp}.json"
    json_path.write_text(json.dumps(data, indent=2) + "\n")
    title = f"coroscope, {prov['mode']} run, {prov['python']}: ratio to each baseline"
    save(results, title, json_path.with_suffix(".png"))

    if args.table:
        print(table(results))
    print("\n".join(summary(results, groups)))
    took = time.monotonic() - started
    print(
        f"\n{took:.0f} s. results: {json_path} (chart: {json_path.with_suffix('.png')})\n"
        "a full run explained: BENCHMARKS.md; plotted and read: notebooks/04_overhead.ipynb;\n"
        "every variant: --table; one group: --group NAME; all options: --help"
    )
    return 0
