//! A Rust stream as a Python async iterator: `async for tick in ticks(n, s)`.
//!
//! Neither pyo3-async-runtimes nor PyO3 turns a Rust stream into an async
//! iterator, but the protocol is small: `__aiter__` returns the iterator and
//! `__anext__` returns an awaitable of the next item, whose end is raising
//! `StopAsyncIteration`. Here a producer task on tokio sends ticks into a
//! channel of one slot (so it runs at most one tick ahead of the consumer), and
//! each `__anext__` is a [`RustAwaitable`] receiving from it.
//!
//! Stopping is dropping: when the consumer stops (finishes, breaks, or its task
//! is cancelled) the `Ticks` object is freed, which aborts the producer; a
//! producer never outlives the last reference to its iterator.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use tokio::sync::{Mutex, mpsc};
use tokio::task::AbortHandle;

use crate::awaitable::wake::ThreadsafeRoute;
use crate::awaitable::{RustAwaitable, WaitsOn, into_awaitable_with};
use crate::support::args::seconds;
use crate::support::live::Alive;

/// An async iterator over ticks ``0, 1, ..., n - 1``, one every ``interval``
/// seconds, produced by a tokio task. Made by ``ticks(n, interval)``.
#[pyclass(frozen, module = "coroscope.bridge")]
pub struct Ticks {
    /// Shared with each pending `__anext__`; a tokio mutex because a receive is
    /// held across awaits.
    receiver: Arc<Mutex<mpsc::Receiver<u64>>>,
    producer: AbortHandle,
    /// Set by `aclose`: the producer may have put a tick in the channel before
    /// it was aborted, and an async generator gives nothing after `aclose`.
    closed: Arc<AtomicBool>,
}

/// ``async for tick in ticks(n, interval)``: ``n`` ticks, ``interval`` seconds
/// apart, from a Rust stream. Stopping early (break, cancel) stops the producer.
#[pyfunction]
pub fn ticks(n: i64, interval: f64) -> PyResult<Ticks> {
    let n = crate::support::args::count("n", n)?;
    let interval = seconds("interval", interval)?;
    let (sender, receiver) = mpsc::channel(1);
    let producer = crate::support::runtime::spawn("ticks: the producer", async move {
        let _alive = Alive::new();
        // tokio's interval refuses a zero period: zero means "as fast as the
        // consumer takes them", which the one-slot channel already paces.
        let mut clock = (!interval.is_zero()).then(|| tokio::time::interval(interval));
        for tick in 0..n {
            if let Some(clock) = &mut clock {
                clock.tick().await;
            }
            if sender.send(tick).await.is_err() {
                return; // the iterator is gone
            }
        }
    })?;
    Ok(Ticks {
        receiver: Arc::new(Mutex::new(receiver)),
        producer: producer.abort_handle(),
        closed: Arc::new(AtomicBool::new(false)),
    })
}

#[pymethods]
impl Ticks {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next tick's awaitable. It keeps its iterator alive, as an async
    /// generator's ``__anext__`` does: ``await anext(ticks(3, 0))`` must not
    /// free the iterator (and so stop its producer) before the tick arrives.
    fn __anext__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, RustAwaitable>> {
        let receiver = slf.get().receiver.clone();
        let closed = slf.get().closed.clone();
        let iterator = slf.clone().unbind();
        let next = async move {
            let _iterator = iterator;
            let received = if closed.load(Ordering::Acquire) {
                None
            } else {
                receiver.lock().await.recv().await
            };
            match received {
                Some(tick) if !closed.load(Ordering::Acquire) => Ok(tick),
                _ => Err(PyStopAsyncIteration::new_err(())),
            }
        };
        let waits_on =
            WaitsOn::on("the next tick, from a tokio task through a channel").from_elsewhere();
        into_awaitable_with(slf.py(), next, ThreadsafeRoute::for_loop, waits_on)
    }

    /// Stop the producer now (what ``async for`` ending early leads to).
    async fn aclose(&self) {
        self.closed.store(true, Ordering::Release);
        self.producer.abort();
    }
}

impl Drop for Ticks {
    fn drop(&mut self) {
        self.producer.abort();
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ticks, m)?)?;
    m.add_class::<Ticks>()?;
    Ok(())
}
