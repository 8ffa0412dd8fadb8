//! Rust drives Python coroutines by hand: what `await` does, one step at a time.
//!
//! # Layout
//!
//! - [`drive`]: the lesson. `await x` from Rust: find the iterator, step it
//!   until it returns, serve what it yields; the classic way (`__next__` and
//!   `StopIteration`, [`await_foo`]) and the fast way (`PyIter_Send`,
//!   [`drive_send`]).
//! - [`records`]: the experimenter's record: [`trace()`] runs a coroutine and
//!   keeps every step ([`StepRecord`]s in a [`Trace`]), shown as a table.
//! - [`stepper`]: the experimenter's hands: [`Stepper`] takes the steps one by
//!   one (with `throw` and `close`), recorded the same way.
//! - [`task`]: the driver that *can* wait: asyncio's Task, in Rust, stepping
//!   the coroutine on a real event loop.
//!
//! A reader would get wrong: a *step* here is one resumption of the coroutine,
//! so a coroutine that yields `k` times takes `k + 1` steps to finish.

use pyo3::prelude::*;

pub mod drive;
pub mod records;
pub mod stepper;
pub mod task;

pub use drive::{
    BAD_YIELD, DEFAULT_MAX_STEPS, NEEDS_A_LOOP, NEVER_FINISHES, Step, await_foo, awaitable_iter,
    drive_send, next_step, send_step, throw_step,
};
pub use records::{StepRecord, Trace, trace};
pub use stepper::Stepper;
pub use task::{Task, task_factory};

/// Drive Python coroutines from Rust: by hand with ``await_foo`` (``__next__`` and
/// ``StopIteration``), ``drive_send`` (``PyIter_Send``), ``Stepper`` and ``trace``;
/// on an event loop with ``Task``, asyncio's Task written in Rust.
#[pymodule(submodule)]
pub fn await_from_rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    drive::register(m)?;
    records::register(m)?;
    stepper::register(m)?;
    task::register(m)?;
    Ok(())
}
