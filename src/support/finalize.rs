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
//! no `tp_finalize`, so [`install`] writes the slot itself, and wraps the
//! class's `tp_dealloc` so that an object freed by reference counting (which
//! never meets the collector) is finalized first too, as CPython's own classes
//! do: either way the report names the real object, so an exception handler
//! gets the task itself (its name, its subclass, its own `repr`). The classes
//! also have a `__del__` method calling the same code: a Python subclass's
//! finalizer calls it (or the subclass's own `__del__` replaces it, as in
//! asyncio). Each report is made once; `Drop` makes none.
//!
//! A leaf module: it imports no lesson.

use std::cell::Cell;
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::{PyClass, PyTypeInfo};

/// A class's `tp_dealloc`.
pub type Dealloc = unsafe extern "C" fn(*mut ffi::PyObject);

/// A Rust class with a `__del__`.
pub trait Finalize: PyClass + PyTypeInfo {
    /// Make the reports asyncio's `__del__` makes. The object is alive and
    /// whole; the current exception is the caller's to keep (set it aside).
    fn finalize(slf: &Bound<'_, Self>);

    /// Where [`install`] keeps the class's own `tp_dealloc` (a `static` of
    /// the class's impl: Rust has no generic statics).
    fn own_dealloc() -> &'static OnceLock<Dealloc>;
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

/// `T`'s `tp_dealloc`: finalize first, as `subtype_dealloc` does for a class
/// written in Python (once: the collector may have done it already).
unsafe extern "C" fn dealloc<T: Finalize>(object: *mut ffi::PyObject) {
    // SAFETY: called by CPython with a dead object of `T` or a subclass; the
    // call resurrects it for the finalizer and says whether it stayed alive.
    if unsafe { ffi::PyObject_CallFinalizerFromDealloc(object) } < 0 {
        return;
    }
    let own = T::own_dealloc().get().expect("set before the slot is");
    // SAFETY: the class's own dealloc, for the object it was made for.
    unsafe { own(object) }
}

/// Put `object` (a task's coroutine) behind everything the collector tracks
/// now, the task just made among them. In a garbage cycle the collector calls
/// the finalizers in the order of its list, and a coroutine finalized before
/// its task is closed there (`GeneratorExit` at its `await`): the task's
/// "destroyed but it is pending" report then said `coro=<... done>` instead of
/// the line it waits at. The coroutine is usually made just before its task,
/// so it sits in front; objects keep their order as the generations age, so
/// behind stays behind. (The C Task gets either order, by chance.)
pub fn finalized_after_its_task(object: &Bound<'_, PyAny>) {
    let object = object.as_ptr();
    // SAFETY: `object` is live (borrowed), and no collection can start between
    // the two calls (nothing allocates); a tracked object untracked and
    // tracked again is linked at the end of the youngest generation.
    unsafe {
        if ffi::PyObject_GC_IsTracked(object) == 1 {
            ffi::PyObject_GC_UnTrack(object.cast());
            ffi::PyObject_GC_Track(object.cast());
        }
    }
}

/// Give `T` (and the Python subclasses made after this) its `__del__`.
pub fn install<T: Finalize>(py: Python<'_>) {
    let ty = T::type_object(py).as_type_ptr();
    // SAFETY: `ty` is a live heap type (PyO3 makes its classes with
    // `PyType_FromSpec`), whose slots may be written before any instance
    // exists; the flag makes subclasses inherit the finalizer.
    unsafe {
        let own = (*ty).tp_dealloc.expect("a class has a tp_dealloc");
        if T::own_dealloc().set(own).is_err() {
            return; // installed already
        }
        (*ty).tp_dealloc = Some(dealloc::<T>);
        (*ty).tp_finalize = Some(finalize::<T>);
        (*ty).tp_flags |= ffi::Py_TPFLAGS_HAVE_FINALIZE;
    }
}
