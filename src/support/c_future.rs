//! `CFuture`: asyncio's C `Future` as the base class of a Rust class (PEP 697).
//!
//! asyncio tells its own futures from look-alikes with
//! `isinstance(x, asyncio.Future)`, and `asyncio.Future` is the C class in
//! `_asyncio`. Duck typing (`_asyncio_future_blocking`) is enough for `await`,
//! `gather` and Tasks, but not for 3.14's call graph: `capture_call_graph`
//! refuses what fails that check, and `future_add_to_awaited_by` (who awaits
//! whom) writes into a field of the C struct. A Rust future passes both only by
//! really being a subclass of the C one.
//!
//! The C struct is private to CPython: its size is not known when this crate
//! compiles, so the usual Rust-after-C layout (`extends = PyDict`) cannot be
//! written. PEP 697 (3.12+) solves exactly that: a class asks for "my data,
//! after whatever my base needs" with a negative `basicsize`, and finds it
//! with `PyObject_GetTypeData`. PyO3 has that layout (`PyVariableClassObject`);
//! the impls below tell it that `_asyncio.Future` is a base it may extend so.
//!
//! What a subclass gets from the C part: `isinstance`, the awaited-by field
//! (`_asyncio_awaited_by`, filled by asyncio's C bookkeeping), an instance
//! dict (any attribute can be set, as on asyncio's own futures) and weak
//! references. Everything else the subclass must define itself: the C part is
//! what `tp_new` left, zeroed, a future with no loop that nobody reads but the
//! awaited-by bookkeeping. `tests/test_c_future.py` holds the Rust `Future`
//! to that: no name of asyncio's Future reaches the C part.
//!
//! What a reader would get wrong: who frees the object. On a heap type the
//! base's `tp_dealloc` frees the memory *and* drops the instance's reference
//! to its type (CPython's `subtype_dealloc` relies on that and does not do it
//! again). PyO3's generic base dealloc drops the type reference itself too,
//! which with this base would free the class while instances live.
//! [`CFutureBase::tp_dealloc`] therefore calls the C dealloc and nothing more.
//!
//! Built from 3.14 only, where asyncio's call graph asks for it. PEP 697 is
//! 3.12's, but the C part has a price: a bigger object to allocate and zero,
//! and PyO3 finding the Rust part through `PyObject_GetTypeData` at every
//! access. Measured on 3.14 (the benchmark groups, one run each): the Rust
//! future's round trip 1.42x the C one's without the base and 1.56x with it,
//! a gather tree of Rust tasks 1.17x and 1.32x. On 3.12 and 3.13, where no
//! asyncio code needs the real subclass, the Rust `Future` stays a plain
//! object (with a dict and weak references of its own) at its old speed.

use pyo3::ffi;
use pyo3::impl_::pycell::{PyClassObjectBaseLayout, PyVariableClassObject};
use pyo3::impl_::pyclass::{PyClassBaseType, PyClassImpl};
use pyo3::impl_::pyclass_init::PyNativeTypeInitializer;
use pyo3::prelude::*;
use pyo3::pycell::PyBorrowError;
use pyo3::sync::PyOnceLock;
use pyo3::type_object::PyLayout;
use pyo3::types::PyType;

/// `_asyncio.Future`, the C class `asyncio.Future` names.
#[repr(transparent)]
pub struct CFuture(PyAny);

/// The C class, imported once.
///
/// Panics if `_asyncio` cannot be imported: CPython builds it in, and every
/// route to a `CFuture` subclass has already imported asyncio.
fn c_future_type(py: Python<'_>) -> *mut ffi::PyTypeObject {
    static TYPE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    TYPE.import(py, "_asyncio", "Future")
        .expect("CPython's _asyncio module")
        .as_type_ptr()
}

pyo3::pyobject_native_type_core!(
    CFuture,
    c_future_type,
    "asyncio",
    "Future",
    #module = Some("_asyncio")
);

impl PyClassBaseType for CFuture {
    type LayoutAsBase = CFutureBase;
    type BaseNativeType = Self;
    // `tp_new` of the C class (`PyType_GenericNew`): a zeroed C part. Its
    // `__init__` (which would look for an event loop) never runs: every
    // subclass defines its own.
    type Initializer = PyNativeTypeInitializer<Self>;
    type PyClassMutability = <PyAny as PyClassBaseType>::PyClassMutability;
    type Layout<T: PyClassImpl> = PyVariableClassObject<T>;
}

/// The C part of a `CFuture` subclass, as PyO3 sees it: an object header of a
/// size known only at run time (the rest is found through PEP 697).
#[repr(C)]
pub struct CFutureBase {
    ob_base: ffi::PyVarObject,
}

// SAFETY: every object of a `CFuture` subclass starts with an object header
// (the C struct begins with `PyObject_HEAD`); nothing here reads past it.
unsafe impl PyLayout<CFuture> for CFutureBase {}

impl PyClassObjectBaseLayout<CFuture> for CFutureBase {
    fn ensure_threadsafe(&self) {}
    fn check_threadsafe(&self) -> Result<(), PyBorrowError> {
        Ok(())
    }

    /// Free the object as CPython frees a subclass of a heap type: the C
    /// class's own dealloc frees the memory and drops the type reference (see
    /// the module doc). PyO3 has already dropped the Rust parts.
    unsafe fn tp_dealloc(py: Python<'_>, slf: *mut ffi::PyObject) {
        let base = c_future_type(py);
        // SAFETY: `base` is the live C Future type (kept by the `PyOnceLock`);
        // a heap type since 3.12 (this layout is built for 3.14+).
        // Its dealloc takes an instance of itself or of a subclass, which
        // `slf` is; Python calls us only when no reference to `slf` remains.
        unsafe {
            debug_assert!(ffi::PyType_HasFeature(base, ffi::Py_TPFLAGS_HEAPTYPE) != 0);
            let dealloc = (*base).tp_dealloc.expect("the C Future has a tp_dealloc");
            // It calls the finalizer, which must not look for Rust parts.
            crate::support::finalize::rust_parts_gone(|| dealloc(slf));
        }
    }
}
