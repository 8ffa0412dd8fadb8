//! Production bridging between asyncio and Rust's async runtimes.
//!
//! How real libraries cross the boundary today, reproduced as the PyO3 async
//! workshop ("PyBurger") and the pyo3-async-runtimes guide teach it, tested:
//!
//! # Layout
//!
//! - [`burger`]: the PyBurger menu every example shares, and `make_order`, the
//!   pure-Rust kitchen that cooks an order's items concurrently on tokio;
//! - [`runtimes`]: pyo3-async-runtimes on tokio — `future_into_py` (Rust future →
//!   Python awaitable), `into_future`'s hand-off (Python awaitable → Rust future), running a
//!   loop from Rust, and what each does on cancellation, panics and contextvars;
//! - [`async_fn`]: PyO3's own `async fn`, which needs no runtime crate but must
//!   borrow one for timers;
//! - [`kitchen`]: threads and the GIL — cooking on `std::thread`s, and the
//!   shared-pool kitchen whose waiting loop deadlocks unless it detaches;
//! - [`ticks`]: a Rust stream consumed with `async for`;
//! - [`awaitable`]: coroscope's `RustAwaitable` as a way across: polled on the
//!   loop's thread, woken through `call_soon_threadsafe`;
//! - [`fast`]: coroscope's own bridge: Rust futures polled inline, woken in
//!   one loop iteration through a batched, GIL-free wake-up queue;
//! - [`doorbell`]: Python threads waking the loop through Rust, with the lost
//!   wakeup explained (what the thread-stress trial rings).
//!
//! The shortest summary a reader should leave with: a Rust future runs where it
//! is polled. `future_into_py` polls on tokio's threads and finishes an asyncio
//! future through `call_soon_threadsafe`; PyO3's `async fn` (and
//! [`crate::awaitable::RustAwaitable`]) poll on the loop's thread, so anything
//! that needs tokio (timers, I/O) must be spawned onto tokio's runtime.

use pyo3::prelude::*;

pub mod async_fn;
pub mod awaitable;
pub mod burger;
pub mod doorbell;
pub mod fast;
pub mod kitchen;
pub mod runtimes;
pub mod ticks;

/// Production bridging: pyo3-async-runtimes on tokio, PyO3's ``async fn``,
/// threads and the GIL, and Rust streams as async iterators (PyBurger).
#[pymodule(submodule)]
pub fn bridge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtimes::register(m)?;
    async_fn::register(m)?;
    awaitable::register(m)?;
    kitchen::register(m)?;
    ticks::register(m)?;
    fast::register(m)?;
    doorbell::register(m)?;
    Ok(())
}
