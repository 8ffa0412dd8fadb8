"""What the runners of CPython's own asyncio suites (``tests/test_*_cpython.py``)
share, as their module's ``setup_module`` and ``teardown_module``.

- Those suites leave an event loop policy behind: each runner resets it when its
  module is done, as CPython's ``tearDownModule`` does.
- ``test_future_del_collect`` and ``test_task_del_collect`` call ``gc.collect()``
  from ``__del__`` a hundred times each. In pytest's process every full pass
  walks what pytest, its plugins and the test modules hold (about 180,000
  objects), 0.1 to 0.8 s a pass: in a full run, 70 to 90 s per version went
  there. That heap is frozen for the suite (``gc.freeze``: left out of every
  collection); what the suite itself makes is collected as before.
"""

from __future__ import annotations

import asyncio
import gc


def setup_module() -> None:
    gc.collect()
    gc.freeze()


def teardown_module() -> None:
    gc.unfreeze()
    reset_event_loop_policy()


def reset_event_loop_policy() -> None:
    """Back to asyncio's default policy (3.14 deprecates the public setter)."""
    setter = getattr(asyncio.events, "_set_event_loop_policy", None)
    if setter is None:  # before 3.14
        setter = asyncio.set_event_loop_policy
    setter(None)
