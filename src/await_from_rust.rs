//! Rust drives Python coroutines by hand: what `await` does, one step at a time.
//!
//! # Layout
//!
//! - [`drive`]: the lesson. `await x` from Rust: find the iterator, step it
//!   until it returns, serve what it yields; the classic way (`__next__` and
//!   `StopIteration`, [`await_foo`]) and the fast way (`PyIter_Send`,
//!   [`drive_send`]).
//! - [`stepper`]: the experimenter's tools: [`Stepper`] takes the steps one by
//!   one (with `throw` and `close`), [`trace`] records every step of a run.
//! - [`task`]: the driver that *can* wait: asyncio's Task, in Rust, stepping
//!   the coroutine on a real event loop.
//!
//! A reader would get wrong: a *step* here is one resumption of the coroutine,
//! so a coroutine that yields `k` times takes `k + 1` steps to finish.

use pyo3::prelude::*;

pub mod drive;
pub mod stepper;
pub mod task;

pub use drive::{
    BAD_YIELD, DEFAULT_MAX_STEPS, NEEDS_A_LOOP, NEVER_FINISHES, Step, await_foo, awaitable_iter,
    drive_send, next_step, send_step, throw_step,
};
pub use stepper::{StepRecord, Stepper, Trace, trace};
pub use task::{Task, task_factory};

/// Drive Python coroutines from Rust: by hand with ``await_foo`` (``__next__`` and
/// ``StopIteration``), ``drive_send`` (``PyIter_Send``), ``Stepper`` and ``trace``;
/// on an event loop with ``Task``, asyncio's Task written in Rust.
#[pymodule(submodule)]
pub fn await_from_rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_MAX_STEPS", DEFAULT_MAX_STEPS)?;
    m.add_function(wrap_pyfunction!(await_foo, m)?)?;
    m.add_function(wrap_pyfunction!(drive_send, m)?)?;
    m.add_function(wrap_pyfunction!(trace, m)?)?;
    m.add_class::<Stepper>()?;
    m.add_class::<StepRecord>()?;
    m.add_class::<Trace>()?;
    task::register(m)?;
    Ok(())
}
