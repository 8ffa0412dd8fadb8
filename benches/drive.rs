//! `drive`: what it costs to run a Python coroutine to completion from Rust.
//!
//! Rust calls the crate's drivers itself here, with no Python call in between
//! (the Python runner's `drive_100_awaits` calls them from Python): three
//! drivers over the same coroutine, in two shapes, for n = 1, 10, 100, both from
//! `coroscope.bench.workloads`: `awaits(n)`, an `async def` that awaits a bare
//! `yield` `n` times (each await creates a generator: most of a step is the
//! coroutine's own work), and `yields(n)`, a `types.coroutine` generator that
//! yields `n` times itself (the thinnest coroutine there is: most of a step is
//! the driver's work). Both return `n`. The drivers:
//!
//! - `await_foo`: the classic way, `__next__` until `StopIteration`;
//! - `drive_send`: `PyIter_Send`, no `StopIteration` on the way out;
//! - `python_send_loop`: the baseline, a Python function calling `coro.send(None)`
//!   in a `while` loop and catching `StopIteration`, called once from Rust;
//! - `c_floor`: the same coroutine consumed entirely in C (`collections.deque`
//!   pulls its iterator to the end and keeps nothing): its resumes with no
//!   driver at all. Every driver's time above it is that driver's own; the
//!   floor checks nothing and drops the result, so its output is not asserted.
//!
//! Measured: the whole drive, from first step to result, with the GIL held.
//! Not measured: creating the coroutine object (done in untimed setup, since a
//! coroutine can only be run once), or taking the GIL. Throughput counts awaits.

mod support;

use coroscope::await_from_rust::{DEFAULT_MAX_STEPS, await_foo, drive_send};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pyo3::prelude::*;

fn drive(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let module = support::workloads(py);
        let send_loop = module.getattr("python_send_loop").unwrap();
        let floor = module.getattr("c_floor").unwrap();

        for (shape, n) in ["awaits", "yields"]
            .into_iter()
            .flat_map(|s| [(s, 1u64), (s, 10), (s, 100)])
        {
            let make = module.getattr(shape).unwrap();
            let coroutine = || make.call1((n,)).unwrap();
            let classic = |coro| await_foo(&coro, DEFAULT_MAX_STEPS).unwrap();
            let fast = |coro| drive_send(&coro, DEFAULT_MAX_STEPS).unwrap();
            let baseline = |coro| send_loop.call1((coro,)).unwrap();
            let consumed = |coro| floor.call1((coro,)).unwrap();
            assert!(consumed(coroutine()).is_none(), "c_floor on {shape}({n})");

            // Every variant must give the coroutine's result before it is timed.
            for (name, result) in [
                ("await_foo", classic(coroutine())),
                ("drive_send", fast(coroutine())),
                ("python_send_loop", baseline(coroutine())),
            ] {
                assert_eq!(
                    result.extract::<u64>().unwrap(),
                    n,
                    "{name} on {shape}({n})"
                );
            }

            let mut group = c.benchmark_group(format!("drive_{shape}_{n}"));
            group.throughput(Throughput::Elements(n));
            group.bench_function("python_send_loop", |b| {
                b.iter_batched(coroutine, baseline, BatchSize::SmallInput)
            });
            group.bench_function("await_foo", |b| {
                b.iter_batched(coroutine, classic, BatchSize::SmallInput)
            });
            group.bench_function("drive_send", |b| {
                b.iter_batched(coroutine, fast, BatchSize::SmallInput)
            });
            group.bench_function("c_floor", |b| {
                b.iter_batched(coroutine, consumed, BatchSize::SmallInput)
            });
            group.finish();
        }
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = drive
}
criterion_main!(benches);
