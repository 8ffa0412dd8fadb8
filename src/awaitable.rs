//! Rust pyclasses that Python can `await`: the iterator protocol from the other side.
//!
//! `await x` calls `type(x).__await__(x)` and steps the iterator it returns (see
//! `await_from_rust` for the stepping side). A Rust object becomes awaitable by
//! filling that slot. This module grows, one lesson per class, from a value that
//! is ready at once up to an asyncio-compatible future.

use pyo3::prelude::*;

/// Rust pyclasses that Python can await.
#[pymodule(submodule)]
pub fn awaitable(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
