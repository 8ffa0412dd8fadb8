//! `awaitable`: what one `await` of a Rust awaitable costs, next to asyncio's own.
//!
//! Two groups, each variant awaited 100 times inside one `async def` that
//! `drive_send` runs to the end (every awaitable here is ready or made ready, so
//! no event loop is needed and none is measured):
//!
//! - `await_ready_value`: `await make()` where `make` gives something ready,
//!   made fresh for each await: `python_coroutine` (`async def` returning 1, the
//!   baseline: the cheapest peer), `fresh_done_c_future` (a C `asyncio.Future`
//!   made and finished), `ready` (`Ready(1)`, finishes through `StopIteration`),
//!   `ready_send` (`ReadySend(1)`: the same plus an `am_send` slot, no
//!   `StopIteration`), `python_stop_iteration` (a Python class whose `__next__`
//!   raises `StopIteration(1)`); and, as a curiosity, `reused_done_c_future`
//!   (one finished C future awaited again and again: nothing made per await, a
//!   floor no peer can reach).
//! - `future_round_trip`: create → `set_result` → `await`, for the C
//!   `asyncio.Future` (baseline), coroscope's Rust `Future`, and asyncio's
//!   pure-Python future (`asyncio.futures._PyFuture`).
//!
//! Measured: the whole coroutine run, so the loop and the call to `make` are in
//! every variant alike. Not measured: making the coroutine (untimed setup), or
//! taking the GIL. Throughput counts awaits.

// Only `config` is used here; the loop helpers serve the loop-driven benches.
#[allow(dead_code)]
mod support;

use coroscope::await_from_rust::{DEFAULT_MAX_STEPS, drive_send};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Awaits per coroutine run.
const AWAITS: u64 = 100;

const VARIANTS: &std::ffi::CStr = cr#"
import asyncio
from asyncio import futures

class PythonStopIteration:
    def __init__(self, value):
        self.value = value
    def __await__(self):
        return self
    def __next__(self):
        raise StopIteration(self.value)

async def python_coroutine(value):
    return value

async def await_each(make, n):
    total = 0
    for _ in range(n):
        total += await make()
    return total

def round_trip(cls, loop):
    def make():
        future = cls(loop=loop)
        future.set_result(1)
        return future
    return make

loop = asyncio.new_event_loop()
reused_done_c_future = loop.create_future()
reused_done_c_future.set_result(1)
"#;

fn awaitable(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let native = PyModule::new(py, "awaitable").unwrap();
        // The module's own init: registers the classes and fills their am_send slots.
        coroscope::awaitable::awaitable(&native).unwrap();
        let python = PyModule::from_code(py, VARIANTS, c"awaitable_bench.py", c"awaitable_bench")
            .expect("the bench's Python code compiles");
        let scope = PyDict::new(py);
        scope.set_item("native", &native).unwrap();
        scope.set_item("python", &python).unwrap();
        let make = |expr: &str| {
            py.eval(&std::ffi::CString::new(expr).unwrap(), Some(&scope), None)
                .unwrap()
        };
        let await_each = python.getattr("await_each").unwrap();

        let groups = [
            (
                "await_ready_value",
                vec![
                    (
                        "python_coroutine",
                        make("lambda: python.python_coroutine(1)"),
                    ),
                    (
                        "fresh_done_c_future",
                        make("python.round_trip(python.asyncio.Future, python.loop)"),
                    ),
                    ("ready", make("lambda: native.Ready(1)")),
                    ("ready_send", make("lambda: native.ReadySend(1)")),
                    (
                        "python_stop_iteration",
                        make("lambda: python.PythonStopIteration(1)"),
                    ),
                    (
                        "reused_done_c_future",
                        make("lambda: python.reused_done_c_future"),
                    ),
                ],
            ),
            (
                "future_round_trip",
                vec![
                    (
                        "c_future",
                        make("python.round_trip(python.asyncio.Future, python.loop)"),
                    ),
                    (
                        "rust_future",
                        make("python.round_trip(native.Future, python.loop)"),
                    ),
                    (
                        "python_future",
                        make("python.round_trip(python.futures._PyFuture, python.loop)"),
                    ),
                ],
            ),
        ];

        for (group_name, variants) in groups {
            let mut group = c.benchmark_group(group_name);
            group.throughput(Throughput::Elements(AWAITS));
            for (name, maker) in variants {
                let coroutine = || await_each.call1((&maker, AWAITS)).unwrap();
                let run = |coro| drive_send(&coro, DEFAULT_MAX_STEPS).unwrap();
                // Each variant must give the right total before it is timed.
                assert_eq!(
                    run(coroutine()).extract::<u64>().unwrap(),
                    AWAITS,
                    "{group_name}/{name}"
                );
                group.bench_function(name, |b| {
                    b.iter_batched(coroutine, run, BatchSize::SmallInput)
                });
            }
            group.finish();
        }
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = awaitable
}
criterion_main!(benches);
