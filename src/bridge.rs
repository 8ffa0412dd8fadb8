//! Production bridging between asyncio and Rust's async runtimes.
//!
//! How real libraries cross the boundary today: pyo3-async-runtimes
//! (`future_into_py`, `into_future`) on tokio, PyO3's own `async fn`, threads and
//! the GIL, and coroscope's own faster bridge. This module grows one idea at a time.

use pyo3::prelude::*;

/// Production bridging between asyncio and tokio.
#[pymodule(submodule)]
pub fn bridge(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
