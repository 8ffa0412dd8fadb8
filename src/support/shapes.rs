//! The example shapes every bridge is measured on, written once as plain Rust
//! futures.
//!
//! Each bridge (`RustAwaitable`, `future_into_py`, PyO3's `async fn`, the fast
//! bridge) wraps the same few futures, so that a difference in the benchmarks
//! is the bridge's, never the example's:
//!
//! - *ready*: `async { Ok(value) }`, written inline by each bridge;
//! - *yield*: [`yield_now`], pending once and woken on the polling thread;
//! - *hop*: [`hop`], woken from a tokio worker;
//! - *sleep*: [`sleep`], woken by tokio's timer;
//! - *panic*: [`explode`], a panic inside the future.
//!
//! And one shape for the fork gate's stories: a task holding a lock on a
//! worker ([`_hold_a_lock_on_tokio`]), the hazard a fork must wait out.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// Pending once, woken at once from inside its own poll, on the polling
/// thread: like `tokio::task::yield_now`, but needing no runtime. What each
/// bridge does with a future that waits without any other thread involved.
pub fn yield_now() -> impl Future<Output = ()> + Send {
    YieldNow(false)
}

/// The future behind [`yield_now`]; `true` once it has been pending.
struct YieldNow(bool);

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if std::mem::replace(&mut self.0, true) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// A future that hands `value` to a tokio worker and waits to get it back:
/// spawned at the first poll, so the wake-up comes from the worker thread.
/// (`()` for a bridge that keeps the Python value on its own side.)
pub async fn hop<T: Send + 'static>(value: T) -> PyResult<T> {
    crate::support::runtime::spawn("hop: a tokio task", async move { value })?
        .await
        .map_err(|err| PyRuntimeError::new_err(format!("the tokio task failed: {err}")))
}

/// Gives `value` after a tokio timer of `seconds` (checked as every duration
/// is: finite, not negative). The timer is made now, inside the
/// kit's runtime: a tokio timer finds its runtime when it is made, so polling
/// it later from the loop's thread (outside tokio) is then fine.
///
/// Resolution, which a reader would get wrong: tokio's timers fire on a
/// 1 ms tick, so a sleep shorter than a millisecond lasts until the next tick
/// (up to 1 ms), and even an already-expired timer waits for it. A zero sleep
/// therefore makes no timer at all: it is ready at its first poll, finishing
/// at once (as `asyncio.sleep(0)` finishes within one loop iteration) instead
/// of a millisecond later.
pub fn sleep<T: Send + 'static>(
    seconds: f64,
    value: T,
) -> PyResult<impl Future<Output = PyResult<T>> + Send + 'static> {
    let delay = crate::support::args::seconds("seconds", seconds)?;
    let timer = if delay.is_zero() {
        None
    } else {
        let _runtime = crate::support::runtime::handle()?.enter();
        Some(tokio::time::sleep(delay))
    };
    Ok(async move {
        if let Some(timer) = timer {
            timer.await;
        }
        Ok(value)
    })
}

/// Panics with `message`; typed as a result so the future's output type is known.
pub fn explode(message: &str) -> PyResult<()> {
    panic!("{message}")
}

// --- the fork hazard, on demand (see `fork_gate`) ---------------------------------

/// Held by [`_hold_a_lock_on_tokio`]'s task, as PyO3's decref list is held
/// for an instant by a worker dropping a Python object.
static HELD_ON_TOKIO: Mutex<()> = Mutex::new(());

/// ``_hold_a_lock_on_tokio(seconds)``: make the fork hazard last ``seconds``.
/// A task on tokio takes a lock and keeps it (blocking its worker, inside one
/// poll) for that long; this returns once the lock is taken. ``os.fork()``
/// now waits for the task's poll to end, so the child finds the lock free
/// (``_lock_on_tokio_is_free()``). For the tests and to see the gate work.
#[pyfunction]
pub fn _hold_a_lock_on_tokio(py: Python<'_>, seconds: f64) -> PyResult<()> {
    let hold = super::args::seconds("seconds", seconds)?;
    let (taken, is_taken) = std::sync::mpsc::channel();
    drop(super::runtime::spawn("a test's lock", async move {
        let _held = HELD_ON_TOKIO.lock();
        let _ = taken.send(());
        std::thread::sleep(hold);
    })?);
    py.detach(move || is_taken.recv())
        .map_err(|_| PyRuntimeError::new_err("the task did not run"))
}

/// ``_lock_on_tokio_is_free()``: whether the lock ``_hold_a_lock_on_tokio``
/// holds is free now (in a fork child: whether the fork waited for it).
#[pyfunction]
pub fn _lock_on_tokio_is_free() -> bool {
    HELD_ON_TOKIO.try_lock().is_ok()
}
