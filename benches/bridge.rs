//! `bridge`: what each way across the Rust/Python async boundary costs, for
//! the three shapes of wait a Rust future can have.
//!
//! The four bridges: `future_into_py` (pyo3-async-runtimes: spawned on tokio,
//! finished through an asyncio future; the baseline), `pyo3_async_fn` (PyO3's
//! own coroutine), `rust_awaitable` (coroscope's `RustAwaitable` on the classic
//! `call_soon_threadsafe` route) and `fast_bridge` (the same awaitable on the
//! fast bridge's wake queue). Each awaits the same Rust future, one of:
//!
//! - `ready`: ready at its first poll;
//! - `pending_same_thread`: pending once, woken from inside its own poll;
//! - `woken_from_tokio`: hands its value to a tokio task and is woken by it,
//!   from a tokio worker thread.
//!
//! Each shape is awaited `sequential`ly (one await at a time: latency) and as
//! a `gather` of 100 (throughput; wakes can be batched). Group names are
//! `bridge_<shape>_<mode>`, variants the bridges.
//!
//! Measured: on a real asyncio loop (the default selector loop), calling the
//! example function (which makes the awaitable) and awaiting it, inside a
//! coroutine the loop runs; with `gather`, the Task per child too. Not
//! measured: uvloop (the Python runner, `python -m coroscope.bench`, runs both
//! loops), loop creation. Throughput counts awaits.

mod support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pyo3::prelude::*;
use support::LoopBench;

/// The bridges, as variants are named.
const BRIDGES: [&str; 4] = [
    "future_into_py",
    "pyo3_async_fn",
    "rust_awaitable",
    "fast_bridge",
];

/// The shapes, each with its example per bridge (in the order of [`BRIDGES`]).
const SHAPES: [(&str, [&str; 4]); 3] = [
    (
        "ready",
        [
            "bridge.ready_future_into_py",
            "bridge.ready_async_fn",
            "awaitable.ready_awaitable",
            "bridge.ready_fast",
        ],
    ),
    (
        "pending_same_thread",
        [
            "bridge.yield_future_into_py",
            "bridge.yield_async_fn",
            "awaitable.yield_awaitable",
            "bridge.yield_fast",
        ],
    ),
    (
        "woken_from_tokio",
        [
            "bridge.hop_future_into_py",
            "bridge.hop_async_fn",
            "awaitable.hop_awaitable",
            "bridge.hop_fast",
        ],
    ),
];

/// Children of each `gather`.
const WIDTH: u64 = 100;

fn bridge(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let bench = LoopBench::new(py);
        for (shape, examples) in SHAPES {
            for (mode, width) in [("sequential", 1), ("gather", WIDTH)] {
                let mut group = c.benchmark_group(format!("bridge_{shape}_{mode}"));
                group.throughput(Throughput::Elements(width));
                for (bridge, example) in BRIDGES.into_iter().zip(examples) {
                    let workload = if width == 1 {
                        bench.eval(&format!("w.sequential(lambda: {example}(1), 1)"))
                    } else {
                        bench.eval(&format!("w.gathered(lambda: {example}(1), 1, {width})"))
                    };
                    bench.check_and_time(&mut group, bridge, &workload, width);
                }
                group.finish();
            }
        }
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = bridge
}
criterion_main!(benches);
