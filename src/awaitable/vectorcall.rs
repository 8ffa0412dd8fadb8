//! `tp_vectorcall`: calling a class without the argument tuple, filled by hand
//! because PyO3's `#[pyclass]` has no option for it.
//!
//! Calling a class goes, by default, through `type.__call__` (`type_call`):
//! CPython packs the arguments into a tuple (and the keywords into a dict),
//! calls `tp_new`, then `tp_init` with the same tuple and dict. For a PyO3
//! class each of those is a trampoline that parses the arguments again, so
//! `Future(loop=loop)` makes a tuple, a dict, and parses twice. Since 3.9 a
//! type can fill `tp_vectorcall`: CPython then calls it with the arguments as a
//! C array, as it calls a function (3.11's specialising interpreter calls it
//! straight from the `CALL` instruction). C classes such as `range` and `list`
//! are made this way.
//!
//! [`install_vectorcall`] writes the slot once, at module init, as
//! [`super::slots`] writes `am_send`. Two things a reader would get wrong:
//!
//! - Subclasses do not get the slot (`tp_vectorcall` is never inherited), so a
//!   Python subclass of `Future` is made the ordinary way, with its own
//!   `__init__`; [`Construct::construct`] is only ever asked for the exact class.
//! - The slot must accept every call the class accepts. `construct` handles
//!   the common shapes (`Ready(v)`, `Future()`, `Future(loop=l)`) and
//!   answers `None` for the rest, which then go through `type_call` with the
//!   tuple and dict they would have had, errors included.

use std::panic::{AssertUnwindSafe, catch_unwind};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use pyo3::{Borrowed, PyClass, ffi};

use super::slots::panic_error;

/// The arguments of one call, as CPython hands them to `tp_vectorcall`.
pub struct Call<'a, 'py> {
    py: Python<'py>,
    /// The positional arguments, then one value per keyword name.
    args: &'a [*mut ffi::PyObject],
    nargs: usize,
    /// The keywords' names, a tuple (NULL when there are none).
    kwnames: *mut ffi::PyObject,
}

impl<'a, 'py> Call<'a, 'py> {
    /// The interpreter the call runs in.
    pub fn py(&self) -> Python<'py> {
        self.py
    }

    /// How many positional arguments.
    pub fn positional(&self) -> usize {
        self.nargs
    }

    /// Positional argument `i` (panics past [`Call::positional`]).
    pub fn arg(&self, i: usize) -> Borrowed<'a, 'py, PyAny> {
        assert!(i < self.nargs, "positional argument {i} of {}", self.nargs);
        // SAFETY: every pointer in `args` is a borrowed, live object (see `new`).
        unsafe { Borrowed::from_ptr(self.py, self.args[i]) }
    }

    /// The one argument of a call with exactly one, positional (`Ready(v)`).
    pub fn only_arg(&self) -> Option<Borrowed<'a, 'py, PyAny>> {
        (self.nargs == 1 && self.args.len() == 1).then(|| self.arg(0))
    }

    /// The keyword arguments, (name, value), in the call's order.
    pub fn keywords(
        &self,
    ) -> impl Iterator<Item = (Borrowed<'a, 'py, PyAny>, Borrowed<'a, 'py, PyAny>)> + use<'a, 'py>
    {
        let (py, args, nargs, kwnames) = (self.py, self.args, self.nargs, self.kwnames);
        (0..args.len() - nargs).map(move |k| {
            // SAFETY: `kwnames` is a tuple of `args.len() - nargs` names (see
            // `vectorcall_slot`), each value's pointer is in `args` after the
            // positional ones; all borrowed and alive for the call.
            unsafe {
                (
                    Borrowed::from_ptr(py, ffi::PyTuple_GET_ITEM(kwnames, k as ffi::Py_ssize_t)),
                    Borrowed::from_ptr(py, args[nargs + k]),
                )
            }
        })
    }
}

/// A pyclass that can be built straight from a vectorcall's arguments.
pub trait Construct: PyClass {
    /// A new instance, or `None` for a call of another shape (it then takes
    /// the ordinary route, `__new__` and `__init__`).
    fn construct<'py>(call: &Call<'_, 'py>) -> Option<PyResult<Bound<'py, PyAny>>>;
}

/// Give `T`'s type a `tp_vectorcall` that calls [`Construct::construct`].
pub fn install_vectorcall<T: Construct>(py: Python<'_>) {
    let raw = T::type_object_raw(py);
    // SAFETY: `raw` is a live heap type PyO3 made with `PyType_FromSpec`; its
    // `tp_vectorcall` field is ours to set (CPython reads it through `type`'s
    // `tp_vectorcall_offset` on each call). We are attached and at module init,
    // before the class can be called. `PyType_Modified` announces the change.
    unsafe {
        (*raw).tp_vectorcall = Some(vectorcall_slot::<T>);
        ffi::PyType_Modified(raw);
    }
}

/// The C entry point. A panic must not unwind into C, so it is caught and
/// raised as `PanicException`, as PyO3 does for methods.
unsafe extern "C" fn vectorcall_slot<T: Construct>(
    callable: *mut ffi::PyObject,
    args: *const *mut ffi::PyObject,
    nargsf: usize,
    kwnames: *mut ffi::PyObject,
) -> *mut ffi::PyObject {
    // SAFETY: CPython calls `tp_vectorcall` attached, with `callable` the class,
    // `args` holding `PyVectorcall_NARGS(nargsf)` positional arguments followed
    // by one value per name in `kwnames` (a tuple, or NULL for none), all
    // borrowed and alive for the call. With no arguments at all `args` may be
    // NULL, so no slice is made from it then.
    let (py, class, call) = unsafe {
        let py = Python::assume_attached();
        let nargs = ffi::PyVectorcall_NARGS(nargsf) as usize;
        let keywords = if kwnames.is_null() {
            0
        } else {
            ffi::PyTuple_GET_SIZE(kwnames) as usize
        };
        let total = nargs + keywords;
        let args = if total == 0 {
            &[][..]
        } else {
            std::slice::from_raw_parts(args, total)
        };
        let call = Call {
            py,
            args,
            nargs,
            kwnames,
        };
        (py, Borrowed::from_ptr(py, callable), call)
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // `tp_vectorcall` is not inherited, but C code could copy a type's
        // slots: only the exact class is constructed here.
        let exact = class.as_ptr() == T::type_object_raw(py).cast();
        match exact.then(|| T::construct(&call)).flatten() {
            Some(made) => made,
            None => ordinary(class, &call),
        }
    }))
    .unwrap_or_else(|payload| Err(panic_error(payload)));
    match outcome {
        Ok(made) => made.into_ptr(),
        Err(err) => {
            err.restore(py);
            std::ptr::null_mut()
        }
    }
}

/// What calling the class does without the slot: `type_call` with a tuple and
/// a dict (its `__new__`, then its `__init__`).
fn ordinary<'py>(
    class: Borrowed<'_, 'py, PyAny>,
    call: &Call<'_, 'py>,
) -> PyResult<Bound<'py, PyAny>> {
    let py = call.py;
    let args = PyTuple::new(py, (0..call.positional()).map(|i| call.arg(i)))?;
    let kwargs = if call.kwnames.is_null() {
        None
    } else {
        let kwargs = PyDict::new(py);
        for (name, value) in call.keywords() {
            kwargs.set_item(name, value)?;
        }
        Some(kwargs)
    };
    let kwargs_ptr = kwargs.as_ref().map_or(std::ptr::null_mut(), |k| k.as_ptr());
    // SAFETY: `type`'s `tp_call` is `type_call`, always set; it takes the class,
    // a tuple and a dict or NULL (all borrowed) and returns a new reference or
    // NULL with an exception set, which `from_owned_ptr_or_err` turns into `Err`.
    unsafe {
        let type_call = (*std::ptr::addr_of!(ffi::PyType_Type))
            .tp_call
            .expect("type has tp_call");
        Bound::from_owned_ptr_or_err(py, type_call(class.as_ptr(), args.as_ptr(), kwargs_ptr))
    }
}
