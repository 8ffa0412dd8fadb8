//! Rust pyclasses that Python can `await`: the iterator protocol from the other side.
//!
//! `await x` calls `type(x).__await__(x)` and steps the iterator it returns (see
//! `await_from_rust` for the stepping side). A Rust object becomes awaitable by
//! filling that slot with `__await__`, and being (or returning) an iterator whose
//! `__next__` either *yields* (returns a value: the awaiting task is suspended
//! and the value goes to the event loop) or *finishes* (the await's result).
//!
//! Finishing is where a reader is most often surprised. PyO3 offers two ways:
//!
//! - return `None` from a `__next__` declared `-> Option<T>`: CPython sees
//!   "exhausted, no exception" and the await's result is `None`. Nothing is
//!   allocated: this is the cheap path, and the only way to finish with `None`
//!   for free;
//! - return `Err(PyStopIteration::new_err((value,)))`: the result is `value`,
//!   carried by a `StopIteration` exception that the awaiting frame creates,
//!   raises and catches. The 1-tuple matters: `StopIteration(value)` keeps
//!   `value` as `.value` even when `value` is itself a tuple.
//!
//! The classes grow one lesson at a time:
//!
//! - [`Ready`]: finished at the first step;
//! - [`YieldN`]: yields to the event loop `n` times first (cooperative scheduling);
//! - [`Delegate`]: hands the whole job to another awaitable's iterator;
//! - [`ReadySend`]: `Ready` plus an `am_send` slot, the C-level way to finish
//!   without a `StopIteration` ([`slots`] explains where CPython uses it);
//! - [`Future`]: asyncio's future, in Rust, a drop-in for `asyncio.Future`
//!   ([`future`]);
//! - [`TimerFuture`]: a `Future` finished from a tokio timer thread ([`timer`]);
//! - [`RustAwaitable`]: any Rust `Future` made awaitable, polled from
//!   `__next__` and woken through the loop ([`rust_future`]).
//!
//! All are `frozen` with atomic state: the module runs without the GIL's help
//! (`gil_used = false`), so no method may rely on it to serialise callers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pyo3::exceptions::{PyOverflowError, PyRuntimeError, PyStopIteration};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};

use crate::asyncio::not_awaitable;
use crate::trashcan::Flat;

pub mod future;
pub mod rust_future;
pub mod slots;
pub mod timer;

pub use future::{Future, FutureIter};
pub use rust_future::{Alive, RustAwaitable, into_awaitable, into_awaitable_with};
use slots::{AmSend, Sent, install_am_send};
pub use timer::TimerFuture;

/// Raised when an awaitable that is its own iterator is awaited a second time,
/// worded as Python words it for a coroutine.
pub const REUSED: &str = "cannot reuse already awaited";

/// Finish an await with `value`: the cheap path for `None`, `StopIteration` otherwise.
pub(crate) fn finish(py: Python<'_>, value: &Py<PyAny>) -> PyResult<Option<Py<PyAny>>> {
    if value.is_none(py) {
        Ok(None)
    } else {
        Err(PyStopIteration::new_err((value.clone_ref(py),)))
    }
}

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
        Ok(format!("Ready({})", self.value.bind(py).repr()?))
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
/// hand). CPython 3.10 and 3.11 use the slot for every ``await``; from 3.12 only
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

impl AmSend for ReadySend {
    fn am_send<'py>(slf: &Bound<'py, Self>, _value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        let py = slf.py();
        let value = slf.as_super().get().take(py)?;
        Ok(Sent::Return(value.into_bound(py)))
    }
}

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
        let n = crate::args::count("n", n)?;
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
            self.value.bind(py).repr()?
        ))
    }
}

/// An awaitable that hands the work to another one: ``__await__`` returns the
/// wrapped awaitable's own iterator, so ``await Delegate(x)`` is ``await x``.
///
/// Nothing of this object runs while the await is in progress: the driver steps
/// the inner iterator directly. This is how a Rust type can be awaitable without
/// writing any stepping code of its own.
#[pyclass(frozen, module = "coroscope.awaitable")]
pub struct Delegate {
    inner: Flat,
}

#[pymethods]
impl Delegate {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.inner)
    }

    #[new]
    fn new(awaitable: Bound<'_, PyAny>) -> PyResult<Self> {
        // Only an object whose type has `__await__` has an iterator to hand over
        // (a `types.coroutine` generator is awaitable, but is its own iterator).
        if !awaitable
            .get_type()
            .hasattr(intern!(awaitable.py(), "__await__"))?
        {
            return Err(not_awaitable(&awaitable));
        }
        Ok(Self {
            inner: Flat::new(awaitable.unbind()),
        })
    }

    fn __await__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.inner.bind(py).call_method0(intern!(py, "__await__"))
    }

    /// The awaitable this one delegates to.
    #[getter]
    fn inner(&self, py: Python<'_>) -> Py<PyAny> {
        self.inner.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Delegate({})", self.inner.bind(py).repr()?))
    }
}

/// Rust pyclasses that Python can await: ``Ready``, ``YieldN``, ``Delegate``,
/// ``ReadySend``, ``Future`` (asyncio's future written in Rust), ``TimerFuture``,
/// and ``RustAwaitable`` (Rust futures awaited from Python).
#[pymodule(submodule)]
pub fn awaitable(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Ready>()?;
    m.add_class::<YieldN>()?;
    m.add_class::<Delegate>()?;
    m.add_class::<ReadySend>()?;
    m.add_class::<Future>()?;
    m.add_class::<FutureIter>()?;
    m.add_class::<TimerFuture>()?;
    m.add_class::<RustAwaitable>()?;
    m.add_function(wrap_pyfunction!(rust_future::alive, m)?)?;
    m.add_function(wrap_pyfunction!(rust_future::ready_rust, m)?)?;
    m.add_function(wrap_pyfunction!(rust_future::yield_rust, m)?)?;
    m.add_function(wrap_pyfunction!(rust_future::hop_rust, m)?)?;
    m.add_function(wrap_pyfunction!(rust_future::sleep_rust, m)?)?;
    m.add_function(wrap_pyfunction!(rust_future::compute, m)?)?;
    m.add_function(wrap_pyfunction!(rust_future::panicking, m)?)?;
    install_am_send::<ReadySend>(m.py())?;
    install_am_send::<FutureIter>(m.py())?;
    install_am_send::<RustAwaitable>(m.py())?;
    Ok(())
}
