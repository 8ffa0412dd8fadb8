//! `am_send`: the type slot that lets `await` finish without a `StopIteration`,
//! filled by hand because PyO3's `#[pymethods]` have no dunder for it.
//!
//! A Python type is a C struct of function pointers ("slots"). `__next__` fills
//! `tp_iternext`, whose only way to say "finished with value v" is to raise
//! `StopIteration(v)`: an exception object made, raised and caught per await.
//! Python 3.10 added `am_send(iter, arg, &result)`, which answers with a flag
//! instead: `PYGEN_NEXT` (yielded `result`), `PYGEN_RETURN` (returned `result`)
//! or `PYGEN_ERROR`. Where CPython uses it (a reader would guess "always"):
//!
//! - 3.11 (as 3.10): `await`'s `SEND` opcode calls `PyIter_Send`, which calls
//!   `am_send` when the type has one. This is `make test`'s default version.
//! - 3.12 to 3.14: `SEND` calls `tp_iternext` (or `.send`) for anything that is
//!   not a generator, so the slot helps only C callers of `PyIter_Send` (such as
//!   [`crate::await_from_rust::drive_send`]).
//! - 3.15: `await` reaches the slot again. Measured, not read in CPython's
//!   source: `ReadySend` is back near a trivial coroutine (1.1x) while `Ready`,
//!   the same class without the slot, stays at 2.1x (`make bench-versions`).
//!
//! [`install_am_send`] writes the slot once, at module init, into the type PyO3
//! created. That is allowed because a class made by `PyType_FromSpec` is a
//! *heap type*: it owns its `PyAsyncMethods` struct (embedded in
//! `PyHeapTypeObject`), and `PyType_Modified` then drops cached lookups.
//! Python subclasses copy the slot when they are created.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::exceptions::PyStopIteration;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::{PyClass, ffi};

/// `Py_TPFLAGS_HAVE_AM_SEND` (3.10+, `object.h`), which pyo3-ffi leaves out:
/// the flag that declares "this type fills `am_send`".
const HAVE_AM_SEND: std::ffi::c_ulong = 1 << 21;

/// What one `send` into an awaitable's iterator gives back.
pub enum Sent<'py> {
    /// Suspend the awaiting coroutine and hand this to its driver.
    Yield(Bound<'py, PyAny>),
    /// The await is over and this is its result.
    Return(Bound<'py, PyAny>),
}

impl Sent<'_> {
    /// The step as `__next__` reports it: the value yielded, or the end.
    pub fn into_next(self) -> PyResult<Option<Py<PyAny>>> {
        match self {
            Sent::Yield(value) => Ok(Some(value.unbind())),
            Sent::Return(value) => crate::support::finish::finish(value.py(), &value.unbind()),
        }
    }

    /// The step as a `send` *method* reports it. `__next__`'s `None` means
    /// "finished with None" to CPython, but a method returning `None` would be
    /// a yield of `None`, so a method always ends with `StopIteration`.
    pub fn into_send(self) -> PyResult<Py<PyAny>> {
        match self {
            Sent::Yield(value) => Ok(value.unbind()),
            Sent::Return(value) => Err(PyStopIteration::new_err((value.unbind(),))),
        }
    }
}

/// An iterator pyclass that can be stepped through `am_send`.
pub trait AmSend: PyClass {
    /// One step, with `value` sent in (`None` for `__next__`).
    fn am_send<'py>(slf: &Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>>;
}

/// Give `T`'s type an `am_send` slot that calls [`AmSend::am_send`].
pub fn install_am_send<T: AmSend>(py: Python<'_>) -> PyResult<Bound<'_, PyType>> {
    let ty = py.get_type::<T>();
    let raw = ty.as_type_ptr();
    // SAFETY: `raw` is a live heap type (PyO3 creates every pyclass with
    // `PyType_FromSpec`), so `tp_as_async` points into its own
    // `PyHeapTypeObject` and is writable; we are attached, so no other thread
    // runs Python code that could read the slot while it changes (and module
    // init runs before any instance exists). `PyType_Modified` is the documented
    // way to announce a change to a type's slots.
    unsafe {
        let as_async = (*raw).tp_as_async;
        if as_async.is_null() {
            return Err(pyo3::exceptions::PyTypeError::new_err(
                "am_send needs a heap type with async methods",
            ));
        }
        (*as_async).am_send = Some(am_send_slot::<T>);
        (*raw).tp_flags |= HAVE_AM_SEND;
        ffi::PyType_Modified(raw);
    }
    Ok(ty)
}

/// The C entry point CPython calls. A panic must not unwind into C (that
/// aborts the process), so it is caught and raised as `PanicException`.
unsafe extern "C" fn am_send_slot<T: AmSend>(
    iter: *mut ffi::PyObject,
    arg: *mut ffi::PyObject,
    result: *mut *mut ffi::PyObject,
) -> ffi::PySendResult {
    // SAFETY: CPython calls a type's `am_send` attached to the interpreter, with
    // `iter` an instance of that type (or a subclass, which copied the slot) and
    // `arg` a borrowed non-NULL object, both alive for the call.
    let (py, iter, arg) = unsafe {
        let py = Python::assume_attached();
        (
            py,
            pyo3::Borrowed::from_ptr(py, iter),
            pyo3::Borrowed::from_ptr(py, arg),
        )
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let slf = iter.cast::<T>()?;
        T::am_send(&slf, &arg)
    }))
    .unwrap_or_else(|payload| Err(panic_error(payload)));
    let (status, value) = match outcome {
        Ok(Sent::Yield(value)) => (ffi::PySendResult::PYGEN_NEXT, value.into_ptr()),
        Ok(Sent::Return(value)) => (ffi::PySendResult::PYGEN_RETURN, value.into_ptr()),
        Err(err) => {
            err.restore(py);
            (ffi::PySendResult::PYGEN_ERROR, std::ptr::null_mut())
        }
    };
    // SAFETY: CPython passes a valid out-pointer; it takes the new reference we
    // store there (or NULL for an error, with the exception set above).
    unsafe { *result = value };
    status
}

/// A panic's payload as the `PanicException` PyO3 raises for panics in methods.
pub fn panic_error(payload: Box<dyn Any + Send>) -> PyErr {
    let message = if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else {
        "panic from Rust code".to_owned()
    };
    PanicException::new_err(message)
}
