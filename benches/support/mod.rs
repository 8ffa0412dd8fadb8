//! What the benches share: one criterion [`config`] for all of them, and for
//! the loop-driven ones (`bridge`, `fanout`, `task`) the native modules, one
//! asyncio loop, the Python workloads, and a timed run ([`LoopBench`]).
//!
//! A workload is `async def run(n)` doing `n` iterations of one job and
//! returning how many awaits gave the expected value, so a variant is checked
//! once ([`LoopBench::check_and_time`]) before it is timed. Timing uses
//! criterion's `iter_custom`: one `loop.run_until_complete(workload(iters))`
//! per sample, so the loop starts once per sample, not once per iteration;
//! with linear sampling (the default), criterion's regression over samples of
//! growing size takes that constant out.

use std::ffi::CString;
use std::time::{Duration, Instant};

use criterion::Criterion;
use criterion::measurement::WallTime;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Shorter than criterion's defaults (3 s warm-up, 5 s measurement): a full
/// `cargo bench` must stay within about 15 minutes on two cores.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

const WORKLOADS: &std::ffi::CStr = cr#"
import asyncio

def sequential(make, expect):
    """n awaits of make(), one after another."""
    async def run(n):
        good = 0
        for _ in range(n):
            good += (await make()) == expect
        return good
    return run

def gathered(make, expect, width):
    """n gathers of `width` concurrent make()s."""
    async def run(n):
        good = 0
        for _ in range(n):
            good += (await asyncio.gather(*[make() for _ in range(width)])).count(expect)
        return good
    return run

def with_tasks(factory, body):
    """body(n), with every task the loop makes built by `factory` (None: C Task)."""
    async def run(n):
        loop = asyncio.get_running_loop()
        previous = loop.get_task_factory()
        loop.set_task_factory(factory)
        try:
            return await asyncio.ensure_future(body(n))
        finally:
            loop.set_task_factory(previous)
    return run

def spinners(width, steps):
    """n rounds of `width` tasks, each doing `await asyncio.sleep(0)` `steps` times."""
    async def spin():
        for _ in range(steps):
            await asyncio.sleep(0)
        return steps
    async def run(n):
        good = 0
        for _ in range(n):
            good += sum(await asyncio.gather(*[spin() for _ in range(width)]))
        return good
    return run

def gather_tree(depth):
    """n binary trees of gathers, `depth` levels deep: each leaf counts 1."""
    async def node(level):
        if level == 0:
            return 1
        return sum(await asyncio.gather(node(level - 1), node(level - 1)))
    async def run(n):
        good = 0
        for _ in range(n):
            good += await node(depth)
        return good
    return run
"#;

/// The native modules and the workloads, in scope for [`LoopBench::eval`], and
/// the loop every workload runs on.
pub struct LoopBench<'py> {
    scope: Bound<'py, PyDict>,
    event_loop: Bound<'py, PyAny>,
}

impl<'py> LoopBench<'py> {
    /// Builds the native submodules as the extension's init would, so that the
    /// bench needs no installed package, and makes a fresh asyncio loop.
    pub fn new(py: Python<'py>) -> Self {
        let scope = PyDict::new(py);
        for (name, init) in [
            ("awaitable", coroscope::awaitable::awaitable as fn(&_) -> _),
            ("bridge", coroscope::bridge::bridge),
            (
                "await_from_rust",
                coroscope::await_from_rust::await_from_rust,
            ),
        ] {
            let module = PyModule::new(py, name).unwrap();
            init(&module).unwrap();
            scope.set_item(name, module).unwrap();
        }
        let workloads =
            PyModule::from_code(py, WORKLOADS, c"loop_bench.py", c"loop_bench").unwrap();
        scope.set_item("w", workloads).unwrap();
        let asyncio = py.import("asyncio").unwrap();
        scope.set_item("asyncio", &asyncio).unwrap();
        let event_loop = asyncio.call_method0("new_event_loop").unwrap();
        LoopBench { scope, event_loop }
    }

    /// A Python expression, with `awaitable`, `bridge`, `await_from_rust`,
    /// `asyncio` and the workloads (`w`) in scope.
    pub fn eval(&self, expr: &str) -> Bound<'py, PyAny> {
        let code = CString::new(expr).unwrap();
        self.scope
            .py()
            .eval(&code, Some(&self.scope), None)
            .unwrap_or_else(|err| panic!("{expr}: {err}"))
    }

    /// Runs `workload(n)` to the end on the loop and returns what it counted.
    pub fn run(&self, workload: &Bound<'py, PyAny>, n: u64) -> u64 {
        let coroutine = workload.call1((n,)).unwrap();
        self.event_loop
            .call_method1("run_until_complete", (coroutine,))
            .unwrap()
            .extract()
            .unwrap()
    }

    /// Asserts that `workload(1)` counts `expected` good awaits, then times it:
    /// the wall time of `workload(iters)`, loop start included (see the module doc).
    pub fn check_and_time(
        &self,
        group: &mut criterion::BenchmarkGroup<'_, WallTime>,
        variant: &str,
        workload: &Bound<'py, PyAny>,
        expected: u64,
    ) {
        assert_eq!(self.run(workload, 1), expected, "{variant}");
        group.bench_function(variant, |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                let good = self.run(workload, iters);
                let elapsed = start.elapsed();
                assert_eq!(good, expected * iters, "{variant}");
                elapsed
            })
        });
    }
}

impl Drop for LoopBench<'_> {
    fn drop(&mut self) {
        self.event_loop.call_method0("close").unwrap();
    }
}
