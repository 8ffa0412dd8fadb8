//! `Ready` and `ReadySend`: an await that finishes at its first step.
//!
//! The smallest awaitable there is: `__await__` returns the object itself,
//! and its first `__next__` finishes (see [`crate::support::finish`] for the two ways
//! to finish, and what each costs). `ReadySend` is the same class with the C
//! `am_send` slot filled ([`super::slots`]), the way to hand a value back
//! without any `StopIteration`.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};

use super::slots::{AmSend, Sent};
use super::vectorcall::{Call, Construct};
use crate::support::depth::repr_of;
use crate::support::finish::{REUSED, finish};
use crate::support::trashcan::Flat;

/// An awaitable that is ready at once: ``await Ready(v)`` gives ``v`` without
/// ever suspending.
///
/// ``__await__`` returns the object itself, and its first ``__next__`` finishes.
/// ``Ready(None)`` finishes by returning nothing (no exception at all); any other
/// value travels in a ``StopIteration``, which costs an exception per await.
/// Like a coroutine, a ``Ready`` can be awaited once.
#[pyclass(frozen, subclass, module = "coroscope.awaitable")]
pub struct Ready {
    /// Released flat: a chain of `Ready`s is freed without deep recursion.
    value: Flat,
    /// Set by the first step: the iterator is exhausted from then on.
    awaited: AtomicBool,
}

#[pymethods]
impl Ready {
    /// Rust callers build one with `Bound::new(py, Ready::new(value))`.
    #[new]
    pub fn new(value: Py<PyAny>) -> Self {
        Self {
            value: Flat::new(value),
            awaited: AtomicBool::new(false),
        }
    }

    /// Every class here that holds Python objects shows them to the cycle
    /// collector: a value can refer back to its awaitable (a frame that holds
    /// both, say), and a cycle through an object the collector cannot see
    /// through is never freed.
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
        finish(py, &self.take(py)?)
    }

    /// The value the await gives.
    #[getter]
    fn value(&self, py: Python<'_>) -> Py<PyAny> {
        self.value.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Ready({})", repr_of(self.value.bind(py))?))
    }
}

impl Ready {
    /// The one step: the value, or an error if it was already taken.
    fn take(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        if self.awaited.swap(true, Ordering::AcqRel) {
            return Err(PyRuntimeError::new_err(format!("{REUSED} Ready")));
        }
        Ok(self.value.clone_ref(py))
    }
}

/// ``Ready`` whose type also has an ``am_send`` slot: the await finishes with a
/// flag instead of a ``StopIteration``, even for a value other than ``None``.
///
/// Same class, one C slot more (PyO3 cannot fill it; ``slots.rs`` does, by
/// hand). CPython 3.11 uses the slot for every ``await``; from 3.12 only
/// C callers of ``PyIter_Send`` (such as ``drive_send``) do, and ``await`` falls
/// back to ``__next__``.
#[pyclass(frozen, extends = Ready, module = "coroscope.awaitable")]
pub struct ReadySend;

#[pymethods]
impl ReadySend {
    #[new]
    fn new(value: Py<PyAny>) -> PyClassInitializer<Self> {
        PyClassInitializer::from(Ready::new(value)).add_subclass(ReadySend)
    }
}

/// `Ready(v)` made without `type_call`'s tuple and PyO3's `__new__` (see
/// [`super::vectorcall`]): an await's object is made per await, so making it
/// is a large share of the await. (A Python subclass of `Ready` does not
/// inherit the slot and is made the ordinary way.)
impl Construct for Ready {
    fn construct<'py>(call: &Call<'_, 'py>) -> Option<PyResult<Bound<'py, PyAny>>> {
        let value = call.only_arg()?.to_owned().unbind();
        Some(Bound::new(call.py(), Ready::new(value)).map(Bound::into_any))
    }
}

/// `ReadySend(v)`, made the same way.
impl Construct for ReadySend {
    fn construct<'py>(call: &Call<'_, 'py>) -> Option<PyResult<Bound<'py, PyAny>>> {
        let value = call.only_arg()?.to_owned().unbind();
        Some(Bound::new(call.py(), ReadySend::new(value)).map(Bound::into_any))
    }
}

impl AmSend for ReadySend {
    fn am_send<'py>(slf: &Bound<'py, Self>, _value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        let py = slf.py();
        let value = slf.as_super().get().take(py)?;
        Ok(Sent::Return(value.into_bound(py)))
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Ready>()?;
    m.add_class::<ReadySend>()?;
    super::slots::install_am_send::<ReadySend>(m.py())?;
    super::vectorcall::install_vectorcall::<Ready>(m.py());
    super::vectorcall::install_vectorcall::<ReadySend>(m.py());
    Ok(())
}
