//! `instructions`: every timed group of `python -m coroscope.bench`, counted in
//! CPU instructions under Callgrind (gungraun) instead of timed.
//!
//! Wall-clock time on a shared two-core machine moves by 10–30 % between runs;
//! the number of instructions a workload executes does not (Callgrind simulates
//! the CPU). Each case is one `group/variant` of the Python runner, by the same
//! names (`coroscope.bench.groups`), so a count sits beside its ns/op.
//!
//! Measured: `loop.run_until_complete(workload(n))` on a fresh asyncio loop
//! (for the Task groups and the future round trip, on a uvloop loop too: their
//! goals hold on both loops), after one warm-up run (first-call caches,
//! tokio's start), on the loop's thread: the installed release build of
//! `coroscope._native`, the one `make develop` builds and the Python runner
//! times. Only the loop's thread, because
//! Callgrind counts from the entry of the benchmark function, per thread: work a
//! case hands to tokio's workers or timer (the bridges through tokio, the
//! wakes, the timers) is not in its count. Everything else (drivers, awaitables,
//! futures, tasks, the fast bridge's drain) runs on the loop's thread.
//! Per operation is the total, less the loop's own start and stop (the
//! `loop_only` case: `run_until_complete` of a coroutine that does nothing),
//! over `n` (`Group.instruction_ops`: a tenth of a full run's operations, so
//! Callgrind's ~50x slowdown stays bearable).
//! Not measured: starting Python and importing (gungraun's `setup` is not
//! counted); the other groups on uvloop (their goals are asyncio's); rloop;
//! `pending_memory`, which measures bytes, not time (its bytes do not
//! move between runs anyway); other threads' work (above); waiting. A thread
//! parked on a lock, the GIL or `epoll` executes nothing, so for the groups
//! whose wall time is mostly crossing threads and waiting (`wake_from_tokio`,
//! `fanout_10ms_timers`, `order_value_meal`, the bridges through tokio) the
//! count and the ns/op tell different things, and both are shown.
//!
//! Cases whose work crosses threads (tokio wakes, timers) depend a little on how
//! the threads interleave, even under Callgrind's serialised scheduling, and the
//! cycle collector runs whenever allocations pass its threshold, wherever that
//! falls: run-to-run agreement is reported beside the counts
//! (`tools/instructions.py`). Each case's Callgrind file is also kept under
//! `target/gungraun/` for `callgrind_annotate`; `tools/instructions.py` sums it
//! into the profiles BENCHMARKS.md shows. Run with `make bench-instructions`.

// gungraun's macros generate items without docs.
#![allow(missing_docs)]

mod support;

use std::hint::black_box;

use gungraun::{LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main};
use pyo3::prelude::*;

/// Sets the case up: the group's workload on a warmed-up loop; `run()` is what
/// is counted, and returns how many operations it did.
const PREPARE: &std::ffi::CStr = cr#"
import asyncio

from coroscope._loops import LOOPS
from coroscope.bench.groups import GROUPS

async def nothing(n):
    pass

def prepare(loop_name, group_name, variant_name):
    if group_name == "loop":  # the constant every case pays: one run of the loop
        workload, n = nothing, 0
    else:
        group = next(g for g in GROUPS if g.name == group_name)
        workload, n = dict(group.variants)[variant_name], group.instruction_ops
    loop = LOOPS[loop_name]()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(workload(min(n, 100)))
    def run():
        loop.run_until_complete(workload(n))
        return n
    return run
"#;

/// Start Python and make the case's `run` on an asyncio loop (not counted).
fn prepare(group: &str, variant: &str) -> Py<PyAny> {
    set_up("asyncio", group, variant)
}

/// The same on a uvloop loop. The setup's name is how `tools/instructions.py`
/// tells the loop (it is in each case's description, which gungraun cuts
/// after 50 characters: a loop in the arguments would not fit).
fn on_uvloop(group: &str, variant: &str) -> Py<PyAny> {
    set_up("uvloop", group, variant)
}

fn set_up(event_loop: &str, group: &str, variant: &str) -> Py<PyAny> {
    Python::initialize();
    Python::attach(|py| {
        support::installed(py, "coroscope.bench.groups");
        let globals = pyo3::types::PyDict::new(py);
        py.run(PREPARE, Some(&globals), None).unwrap();
        globals
            .get_item("prepare")
            .unwrap()
            .unwrap()
            .call1((event_loop, group, variant))
            .unwrap_or_else(|err| panic!("{group}/{variant}: {err}"))
            .unbind()
    })
}

// The counted part: one run of the workload. Every case of every group is listed
// by name, as the criterion benches name theirs.
#[library_benchmark]
#[bench::loop_only(args = ("loop", "run_until_complete"), setup = prepare)]
#[bench::uvloop_loop_only(args = ("loop", "run_until_complete"), setup = on_uvloop)]
#[benches::drive_100_awaits(
    args = [
        ("drive_100_awaits", "c_floor"),
        ("drive_100_awaits", "python_send_loop"),
        ("drive_100_awaits", "await_foo"),
        ("drive_100_awaits", "drive_send"),
    ],
    setup = prepare
)]
#[benches::await_ready_value(
    args = [
        ("await_ready_value", "python_coroutine"),
        ("await_ready_value", "fresh_done_c_future"),
        ("await_ready_value", "ready"),
        ("await_ready_value", "ready_send"),
        ("await_ready_value", "python_stop_iteration"),
        ("await_ready_value", "reused_done_c_future"),
    ],
    setup = prepare
)]
#[benches::future_round_trip(
    args = [
        ("future_round_trip", "c_future"),
        ("future_round_trip", "rust_future"),
        ("future_round_trip", "python_future"),
    ],
    setup = prepare
)]
#[benches::bridge_ready(
    args = [
        ("bridge_ready", "future_into_py"),
        ("bridge_ready", "async_fn"),
        ("bridge_ready", "awaitable"),
        ("bridge_ready", "fast"),
    ],
    setup = prepare
)]
#[benches::bridge_pending_same_thread(
    args = [
        ("bridge_pending_same_thread", "future_into_py"),
        ("bridge_pending_same_thread", "async_fn"),
        ("bridge_pending_same_thread", "awaitable"),
        ("bridge_pending_same_thread", "fast"),
    ],
    setup = prepare
)]
#[benches::wake_from_tokio(
    args = [
        ("wake_from_tokio", "future_into_py"),
        ("wake_from_tokio", "async_fn"),
        ("wake_from_tokio", "awaitable"),
        ("wake_from_tokio", "fast"),
    ],
    setup = prepare
)]
#[benches::sleep_zero(
    args = [
        ("sleep_zero", "asyncio_sleep"),
        ("sleep_zero", "timer_future"),
        ("sleep_zero", "future_into_py"),
        ("sleep_zero", "awaitable"),
        ("sleep_zero", "fast"),
    ],
    setup = prepare
)]
#[benches::order_value_meal(
    args = [
        ("order_value_meal", "future_into_py"),
        ("order_value_meal", "async_fn"),
        ("order_value_meal", "fast"),
    ],
    setup = prepare
)]
#[benches::fanout_10ms_timers(
    args = [
        ("fanout_10ms_timers", "asyncio_sleep"),
        ("fanout_10ms_timers", "timer_future"),
        ("fanout_10ms_timers", "future_into_py"),
        ("fanout_10ms_timers", "awaitable"),
        ("fanout_10ms_timers", "fast"),
    ],
    setup = prepare
)]
#[benches::task_sleep_zero_loops(
    args = [
        ("task_sleep_zero_loops", "c_task"),
        ("task_sleep_zero_loops", "rust_task"),
    ],
    setup = prepare
)]
#[benches::timeline_overhead(
    args = [
        ("timeline_overhead", "c_task"),
        ("timeline_overhead", "rust_task"),
        ("timeline_overhead", "rust_task_recorded"),
    ],
    setup = prepare
)]
#[benches::hop_sequential(
    args = [
        ("hop_sequential", "crossing_floor"),
        ("hop_sequential", "future_into_py"),
        ("hop_sequential", "async_fn"),
        ("hop_sequential", "awaitable"),
        ("hop_sequential", "fast"),
    ],
    setup = prepare
)]
#[benches::timeline_rust_side(
    args = [
        ("timeline_rust_side", "future_into_py"),
        ("timeline_rust_side", "future_into_py_recorded"),
        ("timeline_rust_side", "async_fn"),
        ("timeline_rust_side", "async_fn_recorded"),
        ("timeline_rust_side", "awaitable"),
        ("timeline_rust_side", "awaitable_recorded"),
        ("timeline_rust_side", "fast"),
        ("timeline_rust_side", "fast_recorded"),
    ],
    setup = prepare
)]
#[benches::task_gather_tree(
    args = [
        ("task_gather_tree", "c_task"),
        ("task_gather_tree", "rust_task"),
    ],
    setup = prepare
)]
#[benches::on_uvloop(
    args = [
        ("future_round_trip", "c_future"),
        ("future_round_trip", "rust_future"),
        ("task_sleep_zero_loops", "c_task"),
        ("task_sleep_zero_loops", "rust_task"),
        ("task_gather_tree", "c_task"),
        ("task_gather_tree", "rust_task"),
    ],
    setup = on_uvloop
)]
fn case(run: Py<PyAny>) -> usize {
    Python::attach(|py| black_box(run.bind(py).call0().unwrap().extract().unwrap()))
}

library_benchmark_group!(name = groups, benchmarks = [case]);

main!(
    // future_into_py runs each call's completion in tokio's blocking pool (up to
    // 512 threads); Callgrind serialises threads, so a gather of them grows the
    // pool to its limit, past Valgrind's default of 500 threads. A fixed hash
    // seed: with a random one per process, dicts and sets probe differently in
    // each run, and two runs of the same code differ by up to 1-2 %.
    config = LibraryBenchmarkConfig::default()
        .valgrind_args(["--max-threads=1024"])
        .env("PYTHONHASHSEED", "0"),
    library_benchmark_groups = [groups]
);
