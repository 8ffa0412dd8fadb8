//! The `awaitable` bridge: a Rust future in a [`RustAwaitable`], polled on the
//! loop's thread and woken through `loop.call_soon_threadsafe`.
//!
//! How the awaitable works is the lesson of `src/awaitable/rust_future.rs`;
//! this file is that awaitable as one of the four ways across, one function per
//! shape of wait (`src/support/shapes.rs`), named `<shape>_awaitable` as the
//! catalogue's rule asks. Beside the fast bridge (`fast.rs`), which is the same
//! awaitable on a batched wake queue, it shows what the queue saves: here a
//! wake from another thread takes the GIL and schedules the waiter's callback
//! for the next loop iteration. It has no `order`: a PyBurger order is served
//! through `future_into_py`, PyO3's `async fn` and the fast bridge.
//!
//! The value each example gives is held by the awaitable, not captured in the
//! Rust future (`into_awaitable_giving`): the collector cannot see into a
//! future, so a value that refers back to its awaitable would make a cycle it
//! never frees. The futures wait; the awaitable gives.

use pyo3::prelude::*;

use crate::awaitable::wake::{RouteFor, ThreadsafeRoute};
use crate::awaitable::{RustAwaitable, WaitsOn, into_awaitable_giving};
use crate::support::shapes::{self, hop, yield_now};

/// ``await ready_awaitable(value)`` gives ``value`` from a Rust future that is ready
/// at its first poll: the whole cost of crossing, with nothing to wait for.
#[pyfunction]
pub fn ready_awaitable(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, RustAwaitable>> {
    let future = async { Ok(()) };
    into_awaitable_giving(
        py,
        value,
        future,
        ThreadsafeRoute::for_loop,
        WaitsOn::NOTHING,
    )
}

/// ``await yield_awaitable(value)`` gives ``value`` from a Rust future that is
/// pending once and wakes itself on the loop's thread: one bare yield to the
/// loop, no other thread.
#[pyfunction]
pub fn yield_awaitable(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, RustAwaitable>> {
    let future = async {
        yield_now().await;
        Ok(())
    };
    into_awaitable_giving(
        py,
        value,
        future,
        ThreadsafeRoute::for_loop,
        WaitsOn::ITSELF,
    )
}

/// ``await hop_awaitable(value)`` gives ``value`` once a task spawned on tokio at
/// the first poll has finished: the awaiting task is woken from a tokio worker
/// thread (one cross-thread wake-up).
#[pyfunction]
pub fn hop_awaitable(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, RustAwaitable>> {
    let future = hop(());
    into_awaitable_giving(
        py,
        value,
        future,
        ThreadsafeRoute::for_loop,
        WaitsOn::TOKIO_TASK,
    )
}

/// ``await sleep_awaitable(seconds, value=None)`` gives ``value`` after a tokio
/// timer of ``seconds``: the waker is called from a tokio thread. tokio's timer
/// ticks every millisecond, so a sleep shorter than that lasts up to 1 ms;
/// ``sleep_awaitable(0)`` makes no timer and finishes at once.
#[pyfunction]
#[pyo3(signature = (seconds, value = None))]
pub fn sleep_awaitable(
    py: Python<'_>,
    seconds: f64,
    value: Option<Py<PyAny>>,
) -> PyResult<Bound<'_, RustAwaitable>> {
    sleep_on(py, seconds, value, ThreadsafeRoute::for_loop)
}

/// The *sleep* shape as a [`RustAwaitable`] whose wake-ups take the route
/// `route_for` makes: `sleep_awaitable` here, `sleep_fast` on the fast bridge.
pub(crate) fn sleep_on(
    py: Python<'_>,
    seconds: f64,
    value: Option<Py<PyAny>>,
    route_for: RouteFor,
) -> PyResult<Bound<'_, RustAwaitable>> {
    let value = value.unwrap_or_else(|| py.None());
    let future = shapes::sleep(seconds, ())?;
    into_awaitable_giving(py, value, future, route_for, WaitsOn::timer(seconds))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ready_awaitable, m)?)?;
    m.add_function(wrap_pyfunction!(yield_awaitable, m)?)?;
    m.add_function(wrap_pyfunction!(hop_awaitable, m)?)?;
    m.add_function(wrap_pyfunction!(sleep_awaitable, m)?)?;
    Ok(())
}
