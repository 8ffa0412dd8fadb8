//! `YieldN`: an await that gives way to the event loop `n` times first.
//!
//! A bare `None` yield is asyncio's "let the others run": the Task answers it
//! with `loop.call_soon(step)`, so every other ready task runs before this
//! one resumes. It is what `await asyncio.sleep(0)` does, and the whole of
//! cooperative scheduling: nothing else ever takes the loop from a task.

use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::exceptions::{PyOverflowError, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};

use crate::support::depth::repr_of;
use crate::support::finish::{REUSED, finish};
use crate::support::trashcan::Flat;

/// An awaitable that yields ``None`` to the event loop ``n`` times, then gives
/// ``value``: cooperative scheduling made visible.
///
/// A bare ``None`` yield tells asyncio's Task "reschedule me with
/// ``loop.call_soon``", so every other ready task runs before this one resumes,
/// as with ``await asyncio.sleep(0)``. Each yield costs one loop iteration.
#[pyclass(frozen, module = "coroscope.awaitable")]
pub struct YieldN {
    value: Flat,
    /// Yields still to make; [`YieldN::DONE`] once finished.
    remaining: AtomicU64,
}

impl YieldN {
    /// `remaining` after the await has finished.
    const DONE: u64 = u64::MAX;
}

#[pymethods]
impl YieldN {
    #[new]
    #[pyo3(signature = (n, value = None))]
    fn new(py: Python<'_>, n: i64, value: Option<Py<PyAny>>) -> PyResult<Self> {
        let n = crate::support::args::count("n", n)?;
        if n == Self::DONE {
            return Err(PyOverflowError::new_err("n is too large"));
        }
        Ok(Self {
            value: Flat::new(value.unwrap_or_else(|| py.None())),
            remaining: AtomicU64::new(n),
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.value)
    }

    fn __await__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        // One atomic step from "n left" to "n - 1 left" (or to DONE): two threads
        // stepping the same object can never both take the last yield.
        let before = self
            .remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| match left {
                Self::DONE => None,
                0 => Some(Self::DONE),
                n => Some(n - 1),
            })
            .map_err(|_| PyRuntimeError::new_err(format!("{REUSED} YieldN")))?;
        if before == 0 {
            finish(py, &self.value)
        } else {
            Ok(Some(py.None()))
        }
    }

    /// How many yields are left (0 once finished).
    #[getter]
    fn remaining(&self) -> u64 {
        match self.remaining.load(Ordering::Acquire) {
            Self::DONE => 0,
            n => n,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "YieldN(remaining={}, value={})",
            self.remaining(),
            repr_of(self.value.bind(py))?
        ))
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<YieldN>()
}
