//! `task`: coroscope's Rust `Task` against asyncio's C `Task`, on step-heavy work.
//!
//! Each variant runs the same program with the loop's task factory set to the
//! Task under test (`c_task`: none, asyncio's own; `rust_task`:
//! `await_from_rust.task_factory`), so every task the program makes, including
//! those `gather` makes, is of that kind:
//!
//! - `task_sleep_zero_loops`: 100 tasks each doing `await asyncio.sleep(0)` 100
//!   times: a step, a `call_soon` and a loop iteration per await.
//! - `task_gather_tree`: a binary tree of `gather`s 8 levels deep (256 leaves):
//!   task creation, done callbacks and wake-ups.
//!
//! Measured: the whole program on asyncio's selector loop, so the loop's own
//! Python code (`call_soon`, `Handle._run`, `gather`) is in both variants alike;
//! that is most of a step, which is why the two stay close. Not measured:
//! uvloop (the Python runner has it). Throughput counts steps (sleep loops) or
//! leaves (gather tree).

mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pyo3::prelude::*;
use support::LoopBench;

const TASKS: [(&str, &str); 2] = [
    ("c_task", "None"),
    ("rust_task", "await_from_rust.task_factory"),
];

fn task(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let bench = LoopBench::new(py);
        for (group_name, program, ops) in [
            ("task_sleep_zero_loops", "w.spinners(100, 100)", 100 * 100),
            ("task_gather_tree", "w.gather_tree(8)", 1 << 8),
        ] {
            let mut group = c.benchmark_group(group_name);
            group.throughput(Throughput::Elements(ops));
            for (variant, factory) in TASKS {
                let workload = bench.eval(&format!("w.with_tasks({factory}, {program})"));
                bench.check_and_time(&mut group, variant, &workload, ops);
            }
            group.finish();
        }
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = task
}
criterion_main!(benches);
