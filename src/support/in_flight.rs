//! Work on tokio that ends by reaching into Python, counted until it is done
//! or dropped: what [`super::runtime`]'s `shutdown`, `quiesce` and the exit
//! wait for before they let tokio stop or the interpreter finalize (a thread
//! that attaches after that aborts the process).

use std::sync::atomic::{AtomicUsize, Ordering};

/// Work on tokio that ends by reaching into Python, not yet finished or
/// dropped: pyo3-async-runtimes' tasks and blocking closures (it finishes
/// every `future_into_py` in a closure that holds the loop and the asyncio
/// future), and the Rust timers. `quiesce` waits for it besides tasks;
/// `shutdown` waits for it after cutting the work, so that every cut future
/// has been told before tokio stops.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts one piece of `IN_FLIGHT` work until dropped (run or not). Made
/// before the spawn and moved into the work, so that it counts from the
/// spawn, not from the first poll.
pub struct InFlight(());

impl InFlight {
    /// Count one more, until this is dropped.
    #[allow(clippy::new_without_default)] // a count, not a value to default to
    pub fn new() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How many pieces are in flight now. Sequentially consistent, with the count
/// and the exit's flag: work counts itself, then reads the flag; the exit sets
/// the flag, then reads the count: one of the two sees the other.
pub fn left() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

/// Whether none is.
pub fn none() -> bool {
    left() == 0
}

/// In a fork child: the parent's work did not come along.
pub fn forget_in_child() {
    IN_FLIGHT.store(0, Ordering::Release);
}
