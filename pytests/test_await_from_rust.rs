//! Rust code drives Python coroutines through coroscope's public Rust API,
//! exactly as benches and other modules do. Each test is a short story.

use coroscope::await_from_rust::{
    DEFAULT_MAX_STEPS, NEEDS_A_LOOP, Step, await_foo, awaitable_iter, drive_send, send_step,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyNone;

/// The Python side of the stories.
const STORIES: &std::ffi::CStr = cr#"
import asyncio, types

async def answer():
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return 42

async def fails():
    await asyncio.sleep(0)
    raise ValueError("from Python", 7)

class Pending:
    """The smallest future: `asyncio.isfuture` is true, and it never completes."""
    _asyncio_future_blocking = False
    def __await__(self):
        self._asyncio_future_blocking = True
        yield self

async def waits_for_a_loop():
    await Pending()

@types.coroutine
def bare_yields(n):
    for _ in range(n):
        yield
    return n
"#;

fn stories(py: Python<'_>) -> PyResult<Bound<'_, PyModule>> {
    PyModule::from_code(py, STORIES, c"stories.py", c"stories")
}

#[pyo3_async_runtimes::tokio::test]
fn both_drivers_return_what_the_coroutine_returns() -> PyResult<()> {
    Python::attach(|py| {
        let stories = stories(py)?;
        let classic = await_foo(&stories.getattr("answer")?.call0()?, DEFAULT_MAX_STEPS)?;
        let fast = drive_send(&stories.getattr("answer")?.call0()?, DEFAULT_MAX_STEPS)?;
        assert_eq!(classic.extract::<i64>()?, 42);
        assert_eq!(fast.extract::<i64>()?, 42);
        Ok(())
    })
}

#[pyo3_async_runtimes::tokio::test]
fn a_python_exception_reaches_rust_unchanged() -> PyResult<()> {
    Python::attach(|py| {
        let coro = stories(py)?.getattr("fails")?.call0()?;
        let err = drive_send(&coro, DEFAULT_MAX_STEPS).unwrap_err();
        assert!(err.is_instance_of::<PyValueError>(py));
        assert_eq!(
            err.value(py).getattr("args")?.extract::<(String, i64)>()?,
            ("from Python".into(), 7)
        );
        Ok(())
    })
}

#[pyo3_async_runtimes::tokio::test]
fn stepping_by_hand_counts_one_step_per_resumption() -> PyResult<()> {
    Python::attach(|py| {
        let coro = stories(py)?.getattr("bare_yields")?.call1((3,))?;
        let iter = awaitable_iter(&coro)?;
        let none = PyNone::get(py).to_owned().into_any();
        let mut steps = 0;
        let result = loop {
            steps += 1;
            match send_step(&iter, &none)? {
                Step::Yield(yielded) => assert!(yielded.is_none()),
                Step::Return(value) => break value,
            }
        };
        assert_eq!(result.extract::<i64>()?, 3);
        assert_eq!(steps, 4, "three yields, then the return");
        Ok(())
    })
}

#[pyo3_async_runtimes::tokio::test]
fn a_pending_future_stops_the_driver_with_a_clear_error() -> PyResult<()> {
    Python::attach(|py| {
        let coro = stories(py)?.getattr("waits_for_a_loop")?.call0()?;
        let err = drive_send(&coro, DEFAULT_MAX_STEPS).unwrap_err();
        assert!(err.is_instance_of::<PyRuntimeError>(py));
        assert!(err.to_string().contains(NEEDS_A_LOOP), "{err}");
        Ok(())
    })
}

#[pyo3_async_runtimes::tokio::test]
async fn a_coroutine_driven_inside_a_tokio_task() -> PyResult<()> {
    // The drivers need no event loop: any Rust thread attached to Python can run
    // a coroutine that only makes bare yields.
    let value = tokio::task::spawn_blocking(|| {
        Python::attach(|py| -> PyResult<i64> {
            let coro = stories(py)?.getattr("bare_yields")?.call1((10,))?;
            drive_send(&coro, DEFAULT_MAX_STEPS)?.extract()
        })
    })
    .await
    .expect("the blocking task ran")?;
    assert_eq!(value, 10);
    Ok(())
}
