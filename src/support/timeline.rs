//! Watching the Rust Task step: the hooks behind `coroscope.timeline.record()`.
//!
//! A recorder (the Python object `record()` makes) asks to watch one event
//! loop. Every Rust [`Task`](crate::await_from_rust::Task) made on that loop
//! while it watches calls `recorder.begin(task, hint)` before each step and
//! `recorder.end(task)` after it; the recorder takes the times and reads what
//! the task then waits on. Tasks made while no recorder watches their loop hold
//! no recorder and pay one atomic load at creation, nothing per step.
//!
//! The *hint* is what only Rust knows about a wake-up: the fast bridge finishes
//! a task's waiter inline while draining its wake queue (no loop callback in
//! between, so nothing Python could wrap sees it). It marks the drain with
//! [`with_hint`], and the task's next step passes the hint on.
//!
//! A leaf: it imports no lesson; the Task and the fast bridge both use it.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use pyo3::prelude::*;

/// How many loops are watched now: zero is the fast path every task creation takes.
static WATCHING: AtomicUsize = AtomicUsize::new(0);

/// (loop identity, its recorder). Identity as an address: the recorder's
/// `async with` block holds the loop, and unwatches before it ends.
static WATCHED: Mutex<Vec<(usize, Py<PyAny>)>> = Mutex::new(Vec::new());

fn watched() -> MutexGuard<'static, Vec<(usize, Py<PyAny>)>> {
    WATCHED.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// Set while Rust wakes tasks without a loop callback (see [`with_hint`]).
    static HINT: Cell<Option<&'static str>> = const { Cell::new(None) };
}

/// The recorder watching `event_loop`, if any.
pub fn recorder_for(event_loop: &Bound<'_, PyAny>) -> Option<Py<PyAny>> {
    if WATCHING.load(Ordering::Acquire) == 0 {
        return None;
    }
    let key = event_loop.as_ptr() as usize;
    watched()
        .iter()
        .find(|(watched, _)| *watched == key)
        .map(|(_, recorder)| recorder.clone_ref(event_loop.py()))
}

/// Run `wake` with `hint` describing the wake-ups it makes (for the steps
/// those wake-ups run, inline or scheduled from inside it).
pub fn with_hint<T>(hint: &'static str, wake: impl FnOnce() -> T) -> T {
    let previous = HINT.with(|cell| cell.replace(Some(hint)));
    let out = wake();
    HINT.with(|cell| cell.set(previous));
    out
}

/// The hint in force on this thread now.
pub fn hint() -> Option<&'static str> {
    HINT.with(Cell::get)
}

/// Make every Rust Task created on ``loop`` from now on report its steps to
/// ``recorder`` (``recorder.begin(task, hint)`` and ``recorder.end(task)``).
/// Use ``coroscope.timeline.record()`` rather than this.
#[pyfunction]
#[pyo3(signature = (r#loop, recorder))]
pub fn watch_steps(r#loop: &Bound<'_, PyAny>, recorder: Py<PyAny>) {
    let key = r#loop.as_ptr() as usize;
    let mut watched = watched();
    if let Some(entry) = watched.iter_mut().find(|(watched, _)| *watched == key) {
        entry.1 = recorder;
    } else {
        watched.push((key, recorder));
        WATCHING.fetch_add(1, Ordering::Release);
    }
}

/// Stop watching ``loop``: tasks created from now on hold no recorder (tasks
/// made while it watched keep reporting to it until they finish).
#[pyfunction]
#[pyo3(signature = (r#loop))]
pub fn unwatch_steps(r#loop: &Bound<'_, PyAny>) {
    let key = r#loop.as_ptr() as usize;
    let (removed, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut *watched())
        .into_iter()
        .partition(|(watched, _)| *watched == key);
    // Put back before dropping: a recorder's last reference may run Python code.
    watched().extend(kept);
    WATCHING.fetch_sub(removed.len(), Ordering::Release);
    drop(removed);
}
