//! How an await ends: the two ways a Rust `__next__` finishes, and the words
//! for a second await.
//!
//! An awaitable's iterator finishes by returning from `__next__` with nothing
//! left to yield. PyO3 offers two ways, and a reader is most often surprised
//! here:
//!
//! - return `None` from a `__next__` declared `-> Option<T>`: CPython sees
//!   "exhausted, no exception" and the await's result is `None`. Nothing is
//!   allocated: this is the cheap path, and the only way to finish with `None`
//!   for free;
//! - return `Err(PyStopIteration::new_err((value,)))`: the result is `value`,
//!   carried by a `StopIteration` exception that the awaiting frame creates,
//!   raises and catches. The 1-tuple matters: `StopIteration(value)` keeps
//!   `value` as `.value` even when `value` is itself a tuple. [`finish`] makes
//!   the exception itself instead (`StopIteration(value)`, one object), which
//!   saves PyO3's boxed closure and tuple, about a tenth of a ready await.
//!
//! The C-level third way, an `am_send` slot that returns the value with a flag,
//! is in `awaitable/slots.rs`.

use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;

/// Raised when an awaitable that is its own iterator is awaited a second time,
/// worded as Python words it for a coroutine.
pub const REUSED: &str = "cannot reuse already awaited";

/// Finish an await with `value`: the cheap path for `None`, `StopIteration` otherwise.
pub fn finish(py: Python<'_>, value: &Py<PyAny>) -> PyResult<Option<Py<PyAny>>> {
    if value.is_none(py) {
        return Ok(None);
    }
    // The exception is made here, whole: `PyStopIteration::new_err((value,))`
    // would box a closure and a 1-tuple, for CPython to make the same
    // instance from them when the awaiting frame catches it.
    let stop = py
        .get_type::<PyStopIteration>()
        .call1((value.clone_ref(py),))?;
    Err(PyErr::from_value(stop))
}
