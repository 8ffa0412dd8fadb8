//! `Delegate`: an awaitable with no stepping code of its own.
//!
//! `__await__` may return *any* iterator, not only `self`: returning another
//! awaitable's iterator hands it the whole await. The driver then steps that
//! iterator directly, and this object is never called again: the cheapest way
//! for a Rust type to be awaitable, and how a wrapper adds nothing per step.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};

use crate::support::asyncio::not_awaitable;
use crate::support::depth::{Depth, repr_of};
use crate::support::trashcan::Flat;

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
        // `Delegate(Delegate(...))` asks each level in turn, through C.
        let _depth = Depth::enter(py, c" while calling a Python object")?;
        self.inner.bind(py).call_method0(intern!(py, "__await__"))
    }

    /// The awaitable this one delegates to.
    #[getter]
    fn inner(&self, py: Python<'_>) -> Py<PyAny> {
        self.inner.clone_ref(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Delegate({})", repr_of(self.inner.bind(py))?))
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Delegate>()
}
