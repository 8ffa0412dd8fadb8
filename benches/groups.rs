//! `groups`: every timed group of `python -m coroscope.bench`, under criterion.
//!
//! The same `group/variant`s as the Python runner, read from
//! `coroscope.bench.groups` (the installed build `make develop` makes), so a
//! new variant there is timed here too. What criterion adds is its statistics
//! and its comparison with the last `cargo bench` on this machine
//! (`target/criterion`): a change's cost shows as a per-cent change with a
//! confidence interval. Each variant is checked once (every operation gives
//! what it should) before it is timed.
//!
//! Measured: `loop.run_until_complete(workload(iters))` on one asyncio loop
//! (`iter_custom`). Criterion grows `iters` from sample to sample and fits a
//! line through the samples' times, so the time per operation is the slope: the
//! cost of one more operation. What every run pays once (the loop's start and
//! stop, and for `fanout_10ms_timers` the 10 ms wait itself) is the intercept,
//! left out; the Python runner's wall time per operation at its fixed `ops`
//! includes it. Not measured: uvloop (the Python runner and the instruction
//! counts have it), `pending_memory` (bytes, not time). Throughput counts
//! operations, as each group's `what` defines them.

mod support;

use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pyo3::prelude::*;

fn groups(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let groups = support::installed(py, "coroscope.bench.groups");
        let event_loop = groups
            .getattr("LOOPS")
            .unwrap()
            .get_item("asyncio")
            .unwrap()
            .call0()
            .unwrap();
        let run = |workload: &Bound<'_, PyAny>, n: u64| -> u64 {
            event_loop
                .call_method1("run_until_complete", (workload.call1((n,)).unwrap(),))
                .unwrap()
                .extract()
                .unwrap()
        };
        for group in groups.getattr("GROUPS").unwrap().try_iter().unwrap() {
            let group = group.unwrap();
            if group.getattr("unit").unwrap().extract::<String>().unwrap() != "ns/op" {
                continue;
            }
            let name: String = group.getattr("name").unwrap().extract().unwrap();
            let mut timed = c.benchmark_group(&name);
            timed.throughput(Throughput::Elements(1));
            let variants = group.getattr("variants").unwrap();
            for variant in variants.try_iter().unwrap() {
                let (variant, workload): (String, Bound<'_, PyAny>) =
                    variant.unwrap().extract().unwrap();
                assert_eq!(run(&workload, 100), 100, "{name}/{variant}");
                timed.bench_function(&variant, |b| {
                    b.iter_custom(|iters| {
                        let start = Instant::now();
                        let good = run(&workload, iters);
                        let elapsed = start.elapsed();
                        assert_eq!(good, iters, "{name}/{variant}");
                        elapsed
                    })
                });
            }
            timed.finish();
        }
        event_loop.call_method0("close").unwrap();
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = groups
}
criterion_main!(benches);
