//! `TimerFuture`: a future finished by another thread, the guide's first future.
//!
//! The Rust async book teaches futures with a `TimerFuture` that a thread
//! completes after a delay, waking the task through its `Waker`. The Python
//! version of that story: an asyncio future (our [`Future`]) that a tokio timer
//! finishes, waking the awaiting task through `loop.call_soon_threadsafe`.
//!
//! What a reader would get wrong is the thread count. A thread per timer (the
//! book's version) makes 1,000 concurrent timers cost 1,000 OS threads. Here all
//! timers share tokio's timer wheel on the runtime pyo3-async-runtimes already
//! runs: one spawned task per timer (a few hundred bytes), no thread of its own.
//!
//! The second thing: a cancelled timer must not live on. Its task holds the
//! future, the loop and the value; left to fire, 100,000 cancelled 60 s timers
//! would hold them all for a minute. Whatever finishes the future first
//! (`cancel()`, or a `set_result` / `set_exception` of its own) aborts the task.

use std::sync::{Mutex, OnceLock, PoisonError};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use tokio::task::AbortHandle;

use super::future::Future;
use crate::support::asyncio::{set_exception_threadsafe, set_result_threadsafe};
use crate::support::finalize::{Dealloc, Finalize};
use crate::support::in_flight::InFlight;
use crate::support::live::Alive;
use crate::support::runtime::{SHUT_DOWN, unless_shut_down};
use crate::support::rust_side;

/// A future that finishes with ``value`` after ``delay`` seconds, set from a
/// tokio timer thread through ``loop.call_soon_threadsafe``.
///
/// ``TimerFuture(value, delay, *, loop=None)`` is an ``asyncio``-compatible
/// future (a ``Future`` subclass): await it, gather it, cancel it. The timer
/// starts at once and all timers share one tokio runtime, so 1,000 of them
/// gathered finish together after about one ``delay``. Cancelling it (or
/// finishing it by hand) stops the timer. tokio's timers tick each
/// millisecond (a shorter delay lasts up to 1 ms); a zero delay makes no
/// timer: the future is done as soon as it is made.
#[pyclass(frozen, extends = Future, module = "coroscope.awaitable")]
pub struct TimerFuture {
    /// The timer's tokio task, set by `__init__`, aborted by whatever finishes
    /// the future before it fires.
    timer: Mutex<Option<AbortHandle>>,
}

/// A `Future`'s `__del__`, for the class the report names.
impl Finalize for TimerFuture {
    fn finalize(slf: &Bound<'_, Self>) {
        Future::finalize(slf.as_super());
    }

    fn own_dealloc() -> &'static OnceLock<Dealloc> {
        static OWN: OnceLock<Dealloc> = OnceLock::new();
        &OWN
    }
}

#[pymethods]
impl TimerFuture {
    #[new]
    #[pyo3(signature = (*_args, **_kwargs), text_signature = "(value, delay, *, loop=None)")]
    fn __new__(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyClassInitializer<Self> {
        PyClassInitializer::from(Future::shell()).add_subclass(TimerFuture {
            timer: Mutex::new(None),
        })
    }

    #[pyo3(signature = (value, delay, *, r#loop = None))]
    fn __init__(
        slf: &Bound<'_, Self>,
        value: Py<PyAny>,
        delay: f64,
        r#loop: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let delay = crate::support::args::seconds("delay", delay)?;
        let future = slf.as_super();
        Future::__init__(future, r#loop)?;
        if delay.is_zero() {
            // No timer: tokio's would fire on its next 1 ms tick, not now. The
            // future is finished here; its callbacks still run on the next loop
            // iteration, as for `asyncio.sleep(0)`.
            if let Some(previous) = slf.get().timer().take() {
                previous.abort();
            }
            return Future::set_result(future, value);
        }
        let event_loop = future.get().get_loop(py)?.unbind();
        let future = future.clone().into_any().unbind();
        let in_flight = InFlight::new();
        let timer = crate::support::runtime::spawn("TimerFuture: its timer", async move {
            let _alive = Alive::new();
            let _in_flight = in_flight;
            match unless_shut_down(tokio::time::sleep(delay)).await {
                Some(()) => {
                    let flow = rust_side::wake("TimerFuture fires");
                    rust_side::with_flow(flow, || {
                        set_result_threadsafe(&event_loop, future, Some(value))
                    })
                }
                None => set_exception_threadsafe(&event_loop, future, |_| {
                    PyRuntimeError::new_err(SHUT_DOWN)
                }),
            }
        })?;
        let previous = slf.get().timer().replace(timer.abort_handle());
        // `__init__` called again: the first timer must not finish the future.
        if let Some(previous) = previous {
            previous.abort();
        }
        Ok(())
    }

    /// Cancel the future (see ``Future.cancel``) and stop its timer.
    #[pyo3(signature = (msg = None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        let cancelled = Future::cancel(slf.as_super(), msg)?;
        if cancelled {
            slf.get().stop_timer();
        }
        Ok(cancelled)
    }

    /// Finish the future before its timer (see ``Future.set_result``).
    fn set_result(slf: &Bound<'_, Self>, result: Py<PyAny>) -> PyResult<()> {
        Future::set_result(slf.as_super(), result)?;
        slf.get().stop_timer();
        Ok(())
    }

    /// Fail the future before its timer (see ``Future.set_exception``).
    fn set_exception(slf: &Bound<'_, Self>, exception: Bound<'_, PyAny>) -> PyResult<()> {
        Future::set_exception(slf.as_super(), exception)?;
        slf.get().stop_timer();
        Ok(())
    }
}

impl TimerFuture {
    /// Abort the timer's task, if it has not fired yet: it holds the future,
    /// its loop and its value until it is dropped.
    fn stop_timer(&self) {
        if let Some(timer) = self.timer().take() {
            timer.abort();
        }
    }

    fn timer(&self) -> std::sync::MutexGuard<'_, Option<AbortHandle>> {
        self.timer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<TimerFuture>()?;
    crate::support::finalize::install::<TimerFuture>(m.py());
    Ok(())
}
