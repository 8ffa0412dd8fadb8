//! Walking deep chains without crashing: a guard for every nesting that
//! recurses through C.
//!
//! A coroutine that drives another from inside (nested `await_foo`), a
//! `Delegate(Delegate(...))` awaited, the repr of `Ready(Ready(...))`: each
//! level is a C call, and each costs C stack that a raised
//! `sys.setrecursionlimit` does not make larger. Python's own guard,
//! `Py_EnterRecursiveCall`, counts levels against the recursion limit, and on
//! 3.11 nothing else: with the limit raised, the stack runs out first and the
//! process dies. [`Depth`] counts the level as Python does *and* checks the
//! stack that is really left, so deep nesting raises `RecursionError` on every
//! version. (Freeing deep chains is the other half: see [`crate::support::trashcan`].)
//!
//! A leaf module: it imports no lesson.

use std::ffi::CStr;

use pyo3::exceptions::PyRecursionError;
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// Stack kept free below the deepest level: one more level (our frames, the
/// interpreter's, the callee's own C calls) needs far less. Twice what 3.14's
/// own guard keeps (32 KiB on 64-bit), which checks every call where this
/// checks a level; more would refuse the first level in a small thread (a
/// 256 KiB `threading.stack_size`), where CPython and the C Task run.
const STACK_RESERVE: usize = 64 * 1024;

/// One level of nesting, counted like a Python call while it lives.
pub struct Depth;

impl Depth {
    /// Enter one level; `doing` completes CPython's message ("maximum
    /// recursion depth exceeded" + `doing`), e.g. `c" while driving a coroutine"`.
    pub fn enter(py: Python<'_>, doing: &'static CStr) -> PyResult<Depth> {
        // SAFETY: attached (we hold `py`); the string is NUL-terminated and
        // static. On failure RecursionError is set and the depth is unchanged.
        if unsafe { ffi::Py_EnterRecursiveCall(doing.as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        let depth = Depth;
        Self::check_stack(doing)?;
        Ok(depth)
    }

    /// Check the stack only, for a level whose next step is a Python call,
    /// which counts the level itself: counted twice, a chain would be refused
    /// at half the depth asyncio's C code reaches.
    pub fn check_stack(doing: &'static CStr) -> PyResult<()> {
        if stacker::remaining_stack().is_some_and(|left| left < STACK_RESERVE) {
            return Err(PyRecursionError::new_err(format!(
                "maximum recursion depth exceeded{} (the C stack is nearly used up)",
                doing.to_string_lossy()
            )));
        }
        Ok(())
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        // SAFETY: pairs with the successful `Py_EnterRecursiveCall` in `enter`,
        // on the same thread, still attached (a `Depth` lives within one call).
        unsafe { ffi::Py_LeaveRecursiveCall() }
    }
}

/// `repr(obj)` one level down: a repr that shows a held value nests as deep as
/// the values do (`Ready(Ready(...))`).
pub fn repr_of<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyString>> {
    let _depth = Depth::enter(obj.py(), c" while getting the repr of an object")?;
    obj.repr()
}
