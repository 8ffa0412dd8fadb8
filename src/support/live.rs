//! The live-future counter: how a test proves that a Rust future was dropped.
//!
//! Cancelling a Python task that awaits a Rust future must *drop* the future
//! (that is how a Rust future is cancelled: its destructors release what it
//! held). Nothing in Python can see a drop, so every example future carries an
//! [`Alive`] guard, and [`alive`] (exported once, as `coroscope.alive`) reads
//! the count. Every bridge shares this one counter, so "no future left alive"
//! means the same thing whichever bridge made the future.

use std::sync::atomic::{AtomicUsize, Ordering};

use pyo3::prelude::*;

/// Rust futures alive now: held by a `RustAwaitable` or carrying an [`Alive`].
static ALIVE: AtomicUsize = AtomicUsize::new(0);

/// Counts one live Rust future in [`alive`] from creation to drop: a future
/// holds one (as a field, or a local of its `async` block), so its drop, on
/// completion or cancellation, shows in the count.
pub struct Alive(());

impl Alive {
    /// Count one more live future, until this guard is dropped.
    pub fn new() -> Self {
        ALIVE.fetch_add(1, Ordering::Relaxed);
        Alive(())
    }
}

impl Default for Alive {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        ALIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many Rust futures are alive: held by awaitables, or carrying an ``Alive``
/// guard (the bridge's examples do): made and not yet dropped.
#[pyfunction]
pub fn alive() -> usize {
    ALIVE.load(Ordering::Relaxed)
}
