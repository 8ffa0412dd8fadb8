"""Every mechanism side by side: ``python -m coroscope.bench`` (``make demo`` runs ``--quick``).

Each *group* measures one job done several ways. Every way (a *variant*) runs the
same workload in the same process, on the same loop, in interleaved rounds, and
its time per operation is divided by the group's *baseline* (asyncio's own way,
or the classic way): the ratio, not the nanoseconds, is the result, because only
the ratio survives a busy machine. Each group runs on every loop installed:
asyncio's, uvloop and rloop (``coroscope._loops``).

Layout: ``workloads`` (the jobs, shared with the Rust benches), ``groups``
(which jobs are measured, each way and against what, with the crossings from
``coroscope.catalogue``), ``notes`` (what the numbers mean), ``run``
(measuring), ``report`` (the summary, the goals, BENCHMARKS.md), ``chart``,
``versions`` (the cross-version study, ``make bench-versions``), ``cli`` (the
command line), ``yours`` (``compare``: your own awaitables against the kit's
baselines, in one call), ``callgrind`` (``count_instructions``: one await of your
own, in CPU instructions) and ``gil_waits`` (how long tokio's threads wait for the GIL).
"""

from coroscope._loops import LOOPS
from coroscope.bench import versions
from coroscope.bench.callgrind import Counts, count_instructions
from coroscope.bench.chart import figure
from coroscope.bench.cli import main
from coroscope.bench.groups import GROUPS, Group
from coroscope.bench.report import committed_run, goal_verdicts, markdown, summary
from coroscope.bench.run import Result, measure
from coroscope.bench.yours import BASELINES, Comparison, compare

__all__ = [
    "BASELINES",
    "GROUPS",
    "LOOPS",
    "Comparison",
    "Counts",
    "Group",
    "Result",
    "committed_run",
    "compare",
    "count_instructions",
    "figure",
    "goal_verdicts",
    "main",
    "markdown",
    "measure",
    "summary",
    "versions",
]
