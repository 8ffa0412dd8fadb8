//! coroscope's own bridge: Rust futures awaited from asyncio without the
//! per-call tax of `future_into_py`.
//!
//! `future_into_py` pays on every call, ready or not: an asyncio future, a
//! done callback, a spawn onto tokio, a thread hop back through
//! `call_soon_threadsafe`, and the waking tokio thread waits for the GIL. Three
//! ideas remove all of it:
//!
//! 1. **Inline first poll.** The awaitable is a [`RustAwaitable`]: its first step
//!    polls the Rust future on the loop's thread, so a ready future finishes
//!    right there (no loop future, no thread hop, no spawn).
//! 2. **One-hop wake.** While pending, the Task sleeps on a waiter future. When
//!    the Rust side wakes, the waiter is finished and its callback (the Task's
//!    wake-up) runs *in the same loop iteration* ([`Future::finish_inline`]),
//!    instead of `set_result` scheduling it for the next one.
//! 3. **Batched, GIL-free cross-thread wakes.** A waking tokio thread pushes the
//!    waiter onto its loop's [`WakeQueue`] and, if the queue was empty, writes
//!    one byte to a socket the loop watches (`loop.add_reader`). No GIL, no
//!    Python call: no tokio worker ever waits for Python. The loop wakes once,
//!    drains every queued wake-up, and finishes each waiter (one loop wake-up per
//!    batch, however many wakes the batch holds).
//!
//! Semantics kept from [`RustAwaitable`]: cancelling drops the Rust future,
//! contextvars are the Task's, panics become `PanicException`. Each loop gets
//! one queue and socket pair, released when the loop is garbage collected; a
//! loop closed with wakes pending just never drains them (nothing is left to
//! resume), and a wake for a cancelled waiter does nothing.
//!
//! Under trio (and anyio on trio) the same awaitables work: the first wait
//! asks `sniffio` which library runs the task and takes the trio route
//! (`wait_task_rescheduled`, woken through the run's token), which is not
//! batched: trio has no `add_reader` for a foreign socket in this design.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

use super::burger::{COOKING, cook_on_tokio, take_order};
use crate::awaitable::wake::{Parked, WaitingTask, WakeRoute, park_on_waiter};
use crate::awaitable::{
    Future, RustAwaitable, WaitsOn, into_awaitable_giving, into_awaitable_with,
};
use crate::support::runtime::SHUT_DOWN;
use crate::support::shapes::{hop, yield_now};
use crate::support::{rust_side, timeline};

/// What a recorded timeline says woke a task through the queue (`coroscope.timeline`).
const WAKE_HINT: &str = "fast bridge: a tokio thread, through the wake queue (1 hop)";

/// Wake-ups delivered through the queues, and drains that delivered any: their
/// ratio is the batching (see [`wake_stats`]).
static WAKES: AtomicU64 = AtomicU64::new(0);
static BATCHES: AtomicU64 = AtomicU64::new(0);

/// One loop's queue of wake-ups, filled from any thread.
pub struct WakeQueue {
    /// Handles, not Python objects: the queue can outlive its loop (closed
    /// with wakes pending) without keeping anything alive. Each with the flow
    /// of its wake in a recording (`rust_side`; 0 when nobody records), for
    /// the step the drain runs.
    pending: Mutex<Vec<(WaitingTask, u64)>>,
    /// The write end of the socket pair whose read end the loop watches.
    poke: UnixStream,
}

impl WakeQueue {
    fn pending(&self) -> MutexGuard<'_, Vec<(WaitingTask, u64)>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// On the loop's thread, when the socket is readable: take every queued
    /// wake-up and finish its waiter, running the Task's wake-up right here.
    fn drain(&self, py: Python<'_>, signal: &UnixStream) -> PyResult<()> {
        // Empty the socket first: a wake queued after this read pokes again.
        let mut bytes = [0u8; 256];
        loop {
            match (&*signal).read(&mut bytes) {
                Ok(0) => break,
                Ok(_) => continue,
                Err(err) if err.kind() == ErrorKind::WouldBlock => break,
                Err(err) if err.kind() == ErrorKind::Interrupted => continue,
                Err(err) => return Err(err.into()),
            }
        }
        let batch = std::mem::take(&mut *self.pending());
        if !batch.is_empty() {
            BATCHES.fetch_add(1, Ordering::Relaxed);
            WAKES.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        timeline::with_hint(WAKE_HINT, || {
            for (waiting, flow) in batch {
                if let Some(waiter) = waiting.take_waiter()
                    && let Ok(waiter) = waiter.bind(py).cast::<Future>()
                {
                    rust_side::with_flow(flow, || Future::finish_inline(waiter))?;
                }
            }
            Ok(())
        })
    }
}

impl WakeRoute for WakeQueue {
    fn wake_name(&self) -> &'static str {
        "wake: the fast bridge's queue"
    }

    fn park(&self, anchor: &Bound<'_, PyAny>, _waiting: WaitingTask) -> PyResult<Parked> {
        park_on_waiter(anchor)
    }

    fn deliver(&self, waiting: WaitingTask) {
        let first = {
            let mut pending = self.pending();
            pending.push((waiting, rust_side::flow_now()));
            pending.len() == 1
        };
        if first {
            // Non-blocking: a full socket already has a poke waiting to be read.
            let _ = (&self.poke).write(&[1]);
        }
    }
}

/// The queue of each live loop, by the loop object's address (an entry is
/// removed when its loop is freed, before the address can be reused).
fn queues() -> MutexGuard<'static, HashMap<usize, Arc<WakeQueue>>> {
    static QUEUES: LazyLock<Mutex<HashMap<usize, Arc<WakeQueue>>>> =
        LazyLock::new(Default::default);
    QUEUES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fast route for `event_loop` (a `RouteFor`): its queue, made and wired
/// to the loop the first time.
pub fn route_for(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<dyn WakeRoute>> {
    let key = event_loop.as_ptr() as usize;
    if let Some(queue) = queues().get(&key) {
        return Ok(queue.clone());
    }
    let py = event_loop.py();
    let (signal, poke) = UnixStream::pair()?;
    signal.set_nonblocking(true)?;
    poke.set_nonblocking(true)?;
    let queue = Arc::new(WakeQueue {
        pending: Mutex::new(Vec::new()),
        poke,
    });
    let fd = signal.as_raw_fd();
    let draining = queue.clone();
    let drain = PyCFunction::new_closure(
        py,
        None,
        None,
        move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| {
            draining.drain(args.py(), &signal)
        },
    )?;
    event_loop.call_method1("add_reader", (fd, drain))?;
    let forget = PyCFunction::new_closure(
        py,
        None,
        None,
        move |_: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| {
            let gone = queues().remove(&key);
            drop(gone);
        },
    )?;
    py.import("weakref")?
        .call_method1("finalize", (event_loop, forget))?;
    queues().insert(key, queue.clone());
    Ok(queue)
}

/// ``await ready_fast(value)``: a ready Rust future through the fast bridge:
/// finished at the first step, with nothing allocated but the awaitable.
#[pyfunction]
pub fn ready_fast(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, RustAwaitable>> {
    into_awaitable_giving(py, value, async { Ok(()) }, route_for, WaitsOn::NOTHING)
}

/// ``await yield_fast(value)``: a Rust future pending once and woken on the
/// loop's thread, through the fast bridge (the wake needs no queue: it is
/// seen at the end of the poll, and the step yields to the loop bare).
#[pyfunction]
pub fn yield_fast(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, RustAwaitable>> {
    let future = async {
        yield_now().await;
        Ok(())
    };
    into_awaitable_giving(py, value, future, route_for, WaitsOn::ITSELF)
}

/// ``await hop_fast(value)``: ``value`` once a task spawned on tokio has
/// finished, the wake-up coming from a tokio worker through the fast bridge's
/// queue. (Like every fast example, the awaitable holds the value it gives, in
/// sight of the collector: see `bridge/awaitable.rs`.)
#[pyfunction]
pub fn hop_fast(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, RustAwaitable>> {
    into_awaitable_giving(py, value, hop(()), route_for, WaitsOn::TOKIO_TASK)
}

/// ``await sleep_fast(seconds, value=None)``: a tokio timer through the fast
/// bridge (tokio's timer ticks every millisecond, as for ``sleep_awaitable``;
/// ``sleep_fast(0)`` makes no timer and finishes at once).
#[pyfunction]
#[pyo3(signature = (seconds, value = None))]
pub fn sleep_fast(
    py: Python<'_>,
    seconds: f64,
    value: Option<Py<PyAny>>,
) -> PyResult<Bound<'_, RustAwaitable>> {
    super::awaitable::sleep_on(py, seconds, value, route_for)
}

/// ``await order_fast(items, *, prep_times=None)``: PyBurger through the fast
/// bridge, with the same contract as ``order``. The kitchen runs on tokio; its
/// completion wakes the awaiting task from a tokio thread, without the GIL.
#[pyfunction]
#[pyo3(signature = (items, *, prep_times = None))]
pub fn order_fast(
    py: Python<'_>,
    items: Vec<String>,
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<Bound<'_, RustAwaitable>> {
    let (items, menu) = take_order(&items, prep_times)?;
    let cooking = cook_on_tokio(items, menu)?;
    into_awaitable_with(
        py,
        cooking,
        route_for,
        WaitsOn::on(COOKING).from_elsewhere(),
    )
}

/// ``wake_stats()``: ``(wakes, batches)`` delivered through the fast bridge's
/// queues so far; ``wakes / batches`` is how many wake-ups each loop wake-up
/// carried.
#[pyfunction]
pub fn wake_stats() -> (u64, u64) {
    (
        WAKES.load(Ordering::Relaxed),
        BATCHES.load(Ordering::Relaxed),
    )
}

/// ``crossing_floor(n)``: ``n`` round trips between this thread and a tokio
/// worker by the fast bridge's own means, with no Python and no event loop in
/// them; returns ``n``. Each trip spawns a task on tokio (waking a worker, as
/// a hop does) that writes one byte to a socket, and this thread waits for the
/// byte with the interpreter let go (where the loop would wait in its
/// selector). It is the floor under every hop: what is left when a bridge
/// costs nothing (the benchmark group ``hop_sequential`` measures each bridge
/// against it).
#[pyfunction]
pub fn crossing_floor(py: Python<'_>, n: i64) -> PyResult<i64> {
    let trips = crate::support::args::count("n", n)?;
    let (mut here, there) = UnixStream::pair()?;
    // A backstop: every trip answers, run or cut (see `Answer`).
    here.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let there = Arc::new(there);
    for done in (0..trips).step_by(1024) {
        py.check_signals()?; // Ctrl-C between batches of trips
        py.detach(|| -> PyResult<()> {
            for _ in done..trips.min(done + 1024) {
                let answer = Answer {
                    there: there.clone(),
                    ran: false,
                };
                drop(crate::support::runtime::spawn(
                    "crossing floor",
                    async move {
                        let mut answer = answer; // the whole guard, not its field alone
                        answer.ran = true;
                    },
                )?);
                let mut byte = [0u8; 1];
                here.read_exact(&mut byte)?;
                if byte[0] == 0 {
                    return Err(PyRuntimeError::new_err(SHUT_DOWN));
                }
            }
            Ok(())
        })?;
    }
    Ok(n)
}

/// A trip's answer, written as the task lets go of it: 1 once the task ran,
/// 0 when a shutdown dropped it unrun, so that the waiting thread learns of
/// the shutdown at once rather than from its read's timeout.
struct Answer {
    there: Arc<UnixStream>,
    ran: bool,
}

impl Drop for Answer {
    fn drop(&mut self) {
        let _ = (&*self.there).write(&[u8::from(self.ran)]);
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ready_fast, m)?)?;
    m.add_function(wrap_pyfunction!(yield_fast, m)?)?;
    m.add_function(wrap_pyfunction!(hop_fast, m)?)?;
    m.add_function(wrap_pyfunction!(sleep_fast, m)?)?;
    m.add_function(wrap_pyfunction!(order_fast, m)?)?;
    m.add_function(wrap_pyfunction!(wake_stats, m)?)?;
    m.add_function(wrap_pyfunction!(crossing_floor, m)?)?;
    Ok(())
}
