"""Reliability under load, with figures: ``python -m coroscope.soak`` (``make soak``).

Three trials. ``make soak`` runs them at full size and prints one summary
table (the README quotes it); ``tests/test_reliability.py`` runs the same
trials with sizes that take seconds and asserts what the table reports.

- **leak**: each mechanism awaited ``n`` times (1,000,000 in ``make soak``)
  after a warm-up. Growth of Python's heap (tracemalloc), of the C heap (where
  Rust's boxes, wakers and tokio's tasks live) and of RSS; change in the
  refcount of the value passed through every await and of the mechanism's own
  function or class; Rust futures left alive (``alive()``).
- **storm**: 100,000 tasks awaiting Rust futures, cancelled mid-flight: Rust
  futures dropped, anything the loop reported (a destroyed pending task, an
  exception never retrieved), tasks left over.
- **threads**: 8 threads ringing ``Doorbell``s 100,000 times each while the
  loop answers (in a burst, and paced so that nearly every wait parks), and 8
  threads each running a loop woken 100,000 times from tokio; all with the GIL's
  switch interval lowered to provoke races. Wakeups lost.

A row passes when memory grows by less than a byte per await (past a fixed
allowance for caches that warm up; a growth past it counts only if a second
run grows again, as a leak does and a pool enlarged once does not), refcounts
come back to within a handful of where they were, no Rust future is left
alive, the loop reported nothing, and no wakeup was lost. A storm's memory is
shown in parentheses and not judged: 100,000 tasks at once size
asyncio's task set and glibc's arenas for the peak, and what they keep
afterwards depends on where the last storm left them, not on a leak (the leak
trials judge memory, over work repeated a million times).

Layout: ``mechanisms`` (what is awaited), ``judging`` (how a trial is measured
and when a row passes), ``trials`` (the trials) and ``cli`` (the command and its
table).
"""

from coroscope.soak.cli import main, table
from coroscope.soak.judging import Row
from coroscope.soak.mechanisms import MECHANISMS, STORM, Mechanism
from coroscope.soak.trials import doorbells, leak, loops_woken_from_tokio, storm

__all__ = [
    "MECHANISMS",
    "STORM",
    "Mechanism",
    "Row",
    "doorbells",
    "leak",
    "loops_woken_from_tokio",
    "main",
    "storm",
    "table",
]
