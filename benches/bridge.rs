//! `bridge`: what each way across the Rust/Python async boundary costs, for
//! the three shapes of wait a Rust future can have.
//!
//! The four bridges, named as in `coroscope.catalogue` and the Python runner:
//! `future_into_py` (pyo3-async-runtimes: spawned on tokio, finished through an
//! asyncio future; the baseline), `async_fn` (PyO3's own coroutine),
//! `awaitable` (coroscope's `RustAwaitable` on the classic
//! `call_soon_threadsafe` route) and `fast` (the same awaitable on the fast
//! bridge's wake queue). Each awaits the same Rust future (`src/support/shapes.rs`),
//! through the example the naming rule gives, `<shape>_<bridge>`, one of:
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

/// The baseline bridge; the others are found by the naming rule: every example
/// `<shape>_<bridge>` the modules export is one variant, named by its bridge, so
/// a new bridge is benchmarked here without touching this file.
const BASELINE: &str = "future_into_py";

/// The shapes: the group's name for it, and the shape in the example's name.
const SHAPES: [(&str, &str); 3] = [
    ("ready", "ready"),
    ("pending_same_thread", "yield"),
    ("woken_from_tokio", "hop"),
];

/// Children of each `gather`.
const WIDTH: u64 = 100;

fn bridge(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let bench = LoopBench::new(py);
        for (group_shape, shape) in SHAPES {
            for (mode, width) in [("sequential", 1), ("gather", WIDTH)] {
                let mut group = c.benchmark_group(format!("bridge_{group_shape}_{mode}"));
                group.throughput(Throughput::Elements(width));
                // (bridge, example) for every `<shape>_<bridge>` exported, the
                // baseline first: e.g. ("fast", "bridge.ready_fast").
                let examples: Vec<(String, String)> = bench
                    .eval(&format!(
                        r#"sorted(((n.removeprefix("{shape}_"), m.__name__ + "." + n)
                            for m in (awaitable, bridge) for n in dir(m)
                            if n.startswith("{shape}_")),
                           key=lambda e: (e[0] != "{BASELINE}", e[0]))"#
                    ))
                    .extract()
                    .unwrap();
                for (bridge, example) in &examples {
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
