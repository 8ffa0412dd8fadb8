//! What this build is: profile and versions, baked in at compile time by
//! `build.rs`. Benchmarks record it beside every number and refuse debug builds,
//! because a debug build of PyO3 code can be ten times slower and proves nothing.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `"release"` or `"debug"`: whether this crate was compiled with optimisations.
/// `debug_assertions` is what a debug profile turns on, so it is the honest test
/// of what the code in this binary is, whatever the profile was called.
pub const PROFILE: &str = if cfg!(debug_assertions) {
    "debug"
} else {
    "release"
};

/// Describe this build of coroscope.
///
/// Returns a dict with:
///
/// - ``profile``: ``"release"`` or ``"debug"`` (benchmarks refuse ``"debug"``);
/// - ``coroscope``, ``pyo3``, ``pyo3_async_runtimes``, ``tokio``: crate versions;
/// - ``rustc``: the compiler's ``--version`` line;
/// - ``python``: the interpreter the extension was built for, e.g. ``"CPython 3.11"``.
#[pyfunction]
pub fn build_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let info = PyDict::new(py);
    info.set_item("profile", PROFILE)?;
    info.set_item("coroscope", env!("CARGO_PKG_VERSION"))?;
    info.set_item("pyo3", env!("COROSCOPE_PYO3_VERSION"))?;
    info.set_item(
        "pyo3_async_runtimes",
        env!("COROSCOPE_PYO3_ASYNC_RUNTIMES_VERSION"),
    )?;
    info.set_item("tokio", env!("COROSCOPE_TOKIO_VERSION"))?;
    info.set_item("rustc", env!("COROSCOPE_RUSTC_VERSION"))?;
    info.set_item("python", env!("COROSCOPE_PYTHON_BUILT_FOR"))?;
    Ok(info)
}
