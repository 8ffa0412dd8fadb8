//! `fanout`: N concurrent 1 ms timers, gathered, per mechanism (N = 1k, 10k, 100k).
//!
//! Variants, named as in the Python runner's `fanout_10ms_timers`:
//! `asyncio_sleep` (asyncio's timer heap; the baseline), `timer_future`
//! (coroscope's asyncio-compatible `Future`, finished by a tokio timer), and the
//! *sleep* shape through each bridge that has it (`<shape>_<bridge>`):
//! `future_into_py` (`sleep_future_into_py`), `awaitable` (`sleep_awaitable`: a
//! tokio timer in a `RustAwaitable`, woken through `call_soon_threadsafe`) and
//! `fast` (`sleep_fast`: the fast bridge's batched wake queue). Groups are
//! `fanout_<N>`.
//!
//! Measured: wall time from the first timer made to the last one awaited,
//! on asyncio's selector loop: making each awaitable, the Task `gather` makes
//! for it, the wait itself (1 ms, which dominates only at small N: tokio's
//! wheel ticks every millisecond, so its timers wait up to one tick longer),
//! and each wake-up. Not measured: uvloop (the Python runner has it), memory
//! per pending timer (the Python runner's `pending_memory`), and
//! `future_into_py` at 100k: one run takes ~23 s there (every timer's tokio
//! worker queues for the GIL), and criterion's ten runs would be half of the
//! whole suite's budget; the Python runner's `fanout_10ms_timers` measures it
//! at 100k. Throughput counts timers.

mod support;

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use pyo3::prelude::*;
use support::LoopBench;

/// `(variant, awaitable)`: every one gives `None` after 1 ms.
const VARIANTS: [(&str, &str); 5] = [
    ("asyncio_sleep", "asyncio.sleep(0.001)"),
    ("timer_future", "awaitable.TimerFuture(None, 0.001)"),
    ("future_into_py", "bridge.sleep_future_into_py(0.001)"),
    ("awaitable", "awaitable.sleep_awaitable(0.001)"),
    ("fast", "bridge.sleep_fast(0.001)"),
];

fn fanout(c: &mut Criterion) {
    Python::initialize();
    Python::attach(|py| {
        let bench = LoopBench::new(py);
        for timers in [1_000u64, 10_000, 100_000] {
            let mut group = c.benchmark_group(format!("fanout_{timers}"));
            group.throughput(Throughput::Elements(timers));
            // One iteration is 1k-100k timers (up to about a second): few,
            // equal-sized samples.
            group.sampling_mode(SamplingMode::Flat);
            group.sample_size(10);
            if timers == 100_000 {
                group.measurement_time(Duration::from_secs(10));
            }
            for (variant, awaitable) in VARIANTS {
                if timers == 100_000 && variant == "future_into_py" {
                    continue; // see the header
                }
                let workload =
                    bench.eval(&format!("w.gathered(lambda: {awaitable}, None, {timers})"));
                bench.check_and_time(&mut group, variant, &workload, timers);
            }
            group.finish();
        }
    });
}

criterion_group! {
    name = benches;
    config = support::config();
    targets = fanout
}
criterion_main!(benches);
