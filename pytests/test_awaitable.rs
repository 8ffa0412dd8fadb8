//! Rust-side checks of the awaitables' protocol, at the level Python cannot see.

use coroscope::awaitable::slots::install_am_send;
use coroscope::awaitable::{FutureIter, Ready, ReadySend, RustAwaitable, into_awaitable};
use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

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

/// Whether the type's `am_send` slot is filled.
fn has_am_send(ty: &Bound<'_, PyType>) -> bool {
    // SAFETY: `ty` is a live type object; `tp_as_async` is either null or points
    // to the type's async methods, which live as long as the type.
    unsafe {
        let as_async = (*ty.as_type_ptr()).tp_as_async;
        !as_async.is_null() && (*as_async).am_send.is_some()
    }
}

#[pyo3_async_runtimes::tokio::test]
fn am_send_is_installed_on_exactly_the_types_that_ask_for_it() -> PyResult<()> {
    Python::attach(|py| {
        let ready_send = install_am_send::<ReadySend>(py)?;
        let future_iter = install_am_send::<FutureIter>(py)?;
        let rust_awaitable = install_am_send::<RustAwaitable>(py)?;
        assert!(has_am_send(&ready_send));
        assert!(has_am_send(&future_iter));
        assert!(has_am_send(&rust_awaitable));
        assert!(
            !has_am_send(&py.get_type::<Ready>()),
            "Ready keeps the plain __next__ path"
        );
        Ok(())
    })
}

#[pyo3_async_runtimes::tokio::test]
fn a_rust_future_handed_to_python_is_awaited_on_an_asyncio_loop() -> PyResult<()> {
    Python::attach(|py| {
        let awaitable = into_awaitable(py, async {
            tokio::task::yield_now().await;
            Ok("made in Rust")
        })?;
        // `wait_for` wraps any awaitable in a Task: the Rust future runs on a
        // real asyncio loop, stepped by a real Task.
        let asyncio = py.import("asyncio")?;
        let waited = asyncio.call_method1("wait_for", (awaitable, 5.0))?;
        let result: String = asyncio.call_method1("run", (waited,))?.extract()?;
        assert_eq!(result, "made in Rust");
        Ok(())
    })
}
