//! `Doorbell`: Python threads wake the loop through Rust, and no ring is lost.
//!
//! The *lost wakeup* is the classic bug of anything that sleeps until woken:
//! the waiter checks "anything for me?", finds nothing, and before it has
//! registered to be woken another thread rings; the ring reaches nobody, and
//! the waiter sleeps forever. The window is between the check and the
//! registration, and it is a few instructions wide, which is why it survives
//! casual testing and shows under load.
//!
//! Here a ring is a permit of a tokio [`Semaphore`]: kept until a waiter takes
//! it, and `acquire` checks for a permit and registers its waker under one
//! lock, which closes the window on the Rust side. What is left to get right is
//! ours: the waker, called on the ringing thread, must reach a task parked on
//! the loop's thread, whether it parked just before the ring or is parking
//! during it (see `wait_for_wake` in [`crate::awaitable::rust_future`]). The
//! reliability suite rings from 8 threads, 100,000 times each, with the GIL's
//! switch interval lowered so that threads interleave at every few bytecodes,
//! and counts that every ring was answered.

use std::sync::Arc;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tokio::sync::Semaphore;

use super::fast::route_for;
use crate::awaitable::wake::{RouteFor, ThreadsafeRoute};
use crate::awaitable::{RustAwaitable, WaitsOn, into_awaitable_with};
use crate::support::runtime::{SHUT_DOWN, is_shut_down, unless_shut_down};

/// A bell any thread may ring and the loop may await: ``await bell.wait()``
/// returns once per ``ring()``, however the two interleave.
///
/// ``Doorbell(*, fast=False)``: waits are ``RustAwaitable``s woken on the
/// classic route (``loop.call_soon_threadsafe`` from the ringing thread) or,
/// with ``fast=True``, on the fast bridge's wake queue. Rings made while
/// nobody waits are kept, and each answers one later ``wait()``.
#[pyclass(frozen, module = "coroscope.bridge")]
pub struct Doorbell {
    /// One permit per ring not yet answered.
    rings: Arc<Semaphore>,
    /// Waits are woken on the fast bridge's route, not the classic one.
    fast: bool,
}

#[pymethods]
impl Doorbell {
    #[new]
    #[pyo3(signature = (*, fast = false))]
    fn new(fast: bool) -> Self {
        Doorbell {
            rings: Arc::new(Semaphore::new(0)),
            fast,
        }
    }

    /// Ring ``n`` times (from any thread): wakes the waiter, if one waits.
    #[pyo3(signature = (n = 1))]
    fn ring(&self, n: i64) -> PyResult<()> {
        let n = usize::try_from(crate::support::args::count("n", n)?).unwrap_or(usize::MAX);
        if n > Semaphore::MAX_PERMITS - self.rings.available_permits() {
            return Err(PyValueError::new_err(format!(
                "too many rings unanswered: at most {} may wait",
                Semaphore::MAX_PERMITS
            )));
        }
        self.rings.add_permits(n);
        Ok(())
    }

    /// ``await bell.wait()``: returns ``None`` once a ring is there for it.
    fn wait<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, RustAwaitable>> {
        if is_shut_down() {
            return Err(PyRuntimeError::new_err(SHUT_DOWN));
        }
        let rings = self.rings.clone();
        let answer = async move {
            // Nothing but a ring ends this wait, so a shutdown must cut it, as
            // it cuts every other wait of the kit's.
            match unless_shut_down(rings.acquire_owned()).await {
                // The semaphore is never closed, so `acquire` cannot fail.
                Some(Ok(permit)) => permit.forget(),
                Some(Err(_)) => {}
                None => return Err(PyRuntimeError::new_err(SHUT_DOWN)),
            }
            Ok(None::<()>)
        };
        let route: RouteFor = if self.fast {
            route_for
        } else {
            ThreadsafeRoute::for_loop
        };
        into_awaitable_with(py, answer, route, WaitsOn::on("a ring of its Doorbell"))
    }

    /// Rings made and not answered yet.
    #[getter]
    fn unanswered(&self) -> usize {
        self.rings.available_permits()
    }

    fn __repr__(&self) -> String {
        let route = if self.fast { "fast" } else { "classic" };
        format!("<Doorbell {route}, {} unanswered>", self.unanswered())
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Doorbell>()
}
