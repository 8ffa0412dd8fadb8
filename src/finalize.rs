//! asyncio's `__del__`, for Rust classes: reports made before the cycle
//! collector clears anything.
//!
//! A future whose exception nobody retrieved, a task destroyed while pending:
//! asyncio reports both from `__del__`, which is `tp_finalize`. The collector
//! calls the finalizer of every object in a garbage cycle *before* it clears
//! any of them, so the report still finds the loop whole. A Rust `Drop` runs
//! in `tp_dealloc`, after the clearing: a task and its loop freed together
//! (as at interpreter exit, when `__main__` lets go of both) would find the
//! loop's `__dict__` already emptied, and the report would be lost. PyO3 has
//! no `__del__`, so [`install`] writes the slot itself; Python subclasses
//! inherit it. `Drop` still reports what no finalizer saw (an object freed by
//! reference counting never meets the collector; each report is made once).
//!
//! A leaf module: it imports no lesson.

use std::cell::Cell;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::{PyClass, PyTypeInfo};

/// A Rust class with a `__del__`.
pub trait Finalize: PyClass + PyTypeInfo {
    /// Make the reports asyncio's `__del__` makes. The object is alive and
    /// whole; the current exception is the caller's to keep (set it aside).
    fn finalize(slf: &Bound<'_, Self>);
}

thread_local! {
    /// How many base deallocations run on this thread after PyO3 has dropped
    /// the Rust parts (see [`rust_parts_gone`]).
    static PARTS_GONE: Cell<usize> = const { Cell::new(0) };
}

/// Run a base class's `tp_dealloc` once the Rust parts are dropped: asyncio's
/// C Future (the base on 3.14+) calls the finalizer from its dealloc, which
/// must then do nothing (there is nothing left to report from).
pub fn rust_parts_gone<R>(dealloc: impl FnOnce() -> R) -> R {
    PARTS_GONE.with(|gone| gone.set(gone.get() + 1));
    let result = dealloc();
    PARTS_GONE.with(|gone| gone.set(gone.get() - 1));
    result
}

/// The `tp_finalize` of every [`Finalize`] class.
unsafe extern "C" fn finalize<T: Finalize>(object: *mut ffi::PyObject) {
    if PARTS_GONE.try_with(Cell::get).unwrap_or(1) > 0 {
        return;
    }
    // SAFETY: CPython calls a finalizer attached.
    let py = unsafe { Python::assume_attached() };
    // SAFETY: the object is live (the finalizer runs before any clearing or
    // freeing) and we take a new reference to it.
    let object = unsafe { Bound::from_borrowed_ptr(py, object) };
    if let Ok(object) = object.cast::<T>() {
        T::finalize(object);
    }
}

/// Give `T` (and the Python subclasses made after this) its `__del__`.
pub fn install<T: Finalize>(py: Python<'_>) {
    let ty = T::type_object(py);
    // SAFETY: `ty` is a live heap type (PyO3 makes its classes with
    // `PyType_FromSpec`), whose slots may be written; the collector reads
    // `tp_finalize` when it finalizes, so the slot is in use from now on.
    unsafe { (*ty.as_type_ptr()).tp_finalize = Some(finalize::<T>) };
}
