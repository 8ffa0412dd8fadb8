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

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use super::future::Future;
use crate::asyncio::set_result_threadsafe;

/// A future that finishes with ``value`` after ``delay`` seconds, set from a
/// tokio timer thread through ``loop.call_soon_threadsafe``.
///
/// ``TimerFuture(value, delay, *, loop=None)`` is an ``asyncio``-compatible
/// future (a ``Future`` subclass): await it, gather it, cancel it. The timer
/// starts at once and all timers share one tokio runtime, so 1,000 of them
/// gathered finish together after about one ``delay``. Cancelling it does not
/// stop the timer: when it fires, it finds the future cancelled and does
/// nothing.
#[pyclass(frozen, extends = Future, module = "coroscope.awaitable")]
pub struct TimerFuture;

#[pymethods]
impl TimerFuture {
    #[new]
    #[pyo3(signature = (*args, **kwargs), text_signature = "(value, delay, *, loop=None)")]
    fn __new__(
        args: &Bound<'_, PyTuple>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyClassInitializer<Self> {
        PyClassInitializer::from(Future::__new__(args, kwargs)).add_subclass(TimerFuture)
    }

    #[pyo3(signature = (value, delay, *, r#loop = None))]
    fn __init__(
        slf: &Bound<'_, Self>,
        value: Py<PyAny>,
        delay: f64,
        r#loop: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let delay = Duration::try_from_secs_f64(delay).map_err(|_| {
            PyValueError::new_err(format!(
                "delay must be a finite, non-negative number of seconds, not {delay}"
            ))
        })?;
        let future = slf.as_super();
        future.get().__init__(py, r#loop)?;
        let event_loop = future.get().get_loop(py)?.unbind();
        let future = future.clone().into_any().unbind();
        pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
            tokio::time::sleep(delay).await;
            set_result_threadsafe(&event_loop, future, value);
        });
        Ok(())
    }
}
