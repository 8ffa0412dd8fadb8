"""See the loop think: a timeline of every task step, and what woke each one.

::

    async with coroscope.timeline.record() as tl:
        await asyncio.gather(a(), b(), c())
    tl             # in Jupyter: a picture (point at a step for its record) and a table
    tl.table()     # text: one line per step, then the Rust side's events
    tl.plot()      # matplotlib: a lane per task and per Rust thread, wakes as arrows
    tl.steps       # the records (Step)
    tl.rust_side   # what the Rust side did meanwhile, on its own threads (RustEvent)
    tl.loop_hops   # the loop's callbacks on a Rust wake's way to its step (LoopHop)
    tl.save_trace("run.json")   # for Perfetto's UI or chrome://tracing

For the block, ``record()`` makes every task the loop creates a Rust ``Task``
(``coroscope.await_from_rust.task_factory``; the loop's previous factory comes
back after) and watches them (``src/support/timeline.rs``): each step of each task is
timed, with what woke it and what the task then waits on. Tasks created before
the block (a notebook cell's own task, for one) are not Rust tasks and are not
recorded; create the work inside the block.

What woke a step is followed along the loop's callbacks. While recording on
asyncio's own loop, ``call_soon``, ``call_soon_threadsafe`` and ``call_at`` are
wrapped on the loop object, so a callback carries who scheduled it: a task (its
step scheduled the wake), a thread (``call_soon_threadsafe``, with the thread's
name: ``tokio-runtime-w`` is a tokio worker), or a timer; each callback in
between is one *hop*. ``future_into_py``'s wake takes two hops (the tokio
thread's ``call_soon_threadsafe``, then the future's done callback); the fast
bridge finishes the waiter inline while draining its wake queue, one hop, which
Rust itself tells the recorder. The callbacks on a Rust wake's way that are not
a step (``future_into_py``'s result setter, for one) are timed too
(``tl.loop_hops``) and drawn on a lane of the loop's own. uvloop's loop cannot be wrapped (a C type
without a ``__dict__``): there, steps, waits and task-to-task wakes are still
recorded, other wakes show as ``the loop``.

The Rust side (``src/support/rust_side.rs``) is recorded where it happens, on
its own threads: each poll of a future the kit spawned on tokio (the
``future_into_py`` tasks, a hop's task, a PyBurger order's cooking, a
``TimerFuture``'s timer, the ``ticks`` producer), each wait of a thread of the
kit to attach to the interpreter (the GIL wait of ``future_into_py``'s result
handoff, of ``call_soon_threadsafe`` from a tokio thread, of a Kitchen cook),
and each wake of a Rust future, with a *flow* number that the wake carries to
the loop, so the step it causes says which wake it was (``Step.flow``): through
the fast bridge's queue on any loop; through ``call_soon_threadsafe`` where the
loop can be wrapped (asyncio's). PyO3's own ``async fn`` wakes through PyO3's
waker, which the kit wraps (its future's waker is the kit's, which calls PyO3's):
its wake is told, its GIL wait, inside PyO3, is not.

What watching costs: two Python calls per step (``begin``/``end``); the
benchmark group ``timeline_overhead`` measures it. With no recording active,
nothing is paid, but one atomic load per Rust-side hook.
"""

from coroscope.timeline.recorder import LoopHop, RustEvent, Step, Timeline, record

__all__ = ["LoopHop", "RustEvent", "Step", "Timeline", "record"]
