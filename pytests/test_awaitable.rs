//! Rust-side checks of the awaitables' protocol, at the level Python cannot see.

use coroscope::awaitable::Ready;
use pyo3::ffi;
use pyo3::prelude::*;

/// Call the type's `tp_iternext` slot the way CPython's `await` machinery does,
/// and report (result is null, an exception is set).
fn iternext_raw(obj: &Bound<'_, PyAny>) -> (bool, bool) {
    // SAFETY: `obj` is live and attached; `tp_iternext` is set for an iterator
    // type (checked), returns a new reference or null, and we release what it returns.
    unsafe {
        let next = (*ffi::Py_TYPE(obj.as_ptr()))
            .tp_iternext
            .expect("an iterator");
        let result = next(obj.as_ptr());
        let is_null = result.is_null();
        if !is_null {
            ffi::Py_DecRef(result);
        }
        let raised = !ffi::PyErr_Occurred().is_null();
        ffi::PyErr_Clear();
        (is_null, raised)
    }
}

#[pyo3_async_runtimes::tokio::test]
fn ready_none_finishes_without_any_exception() -> PyResult<()> {
    Python::attach(|py| {
        let ready = Bound::new(py, Ready::new(py.None()))?.into_any();
        assert_eq!(
            iternext_raw(&ready),
            (true, false),
            "exhausted, and no StopIteration made"
        );
        Ok(())
    })
}

#[pyo3_async_runtimes::tokio::test]
fn ready_with_a_value_finishes_through_stop_iteration() -> PyResult<()> {
    Python::attach(|py| {
        let ready = Bound::new(py, Ready::new(42i64.into_pyobject(py)?.into_any().unbind()))?;
        assert_eq!(
            iternext_raw(ready.as_any()),
            (true, true),
            "the value rides a StopIteration"
        );
        Ok(())
    })
}
