//! What the benches share: one criterion [`config`], and the two ways a bench
//! reaches the Python jobs it times, which are written once, in
//! `python/coroscope/bench/`:
//!
//! - [`workloads`]: `workloads.py` compiled into the bench, for a bench that
//!   calls the crate's Rust functions itself (`drive`): it needs no installed
//!   package.
//! - [`installed`]: a module of the installed package (`make develop`'s release
//!   build), for a bench that times the Python runner's groups as they are
//!   (`groups`, `instructions`).

// Each bench compiles this module for itself and uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

use criterion::Criterion;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Shorter than criterion's defaults (3 s warm-up, 5 s measurement): a full
/// `cargo bench` must stay within about 15 minutes on two cores.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

/// `coroscope.bench.workloads`, from the source tree, as a module of its own.
pub fn workloads(py: Python<'_>) -> Bound<'_, PyModule> {
    const SOURCE: &str = include_str!("../../python/coroscope/bench/workloads.py");
    let code = std::ffi::CString::new(SOURCE).expect("no NUL in workloads.py");
    PyModule::from_code(py, &code, c"workloads.py", c"workloads")
        .expect("workloads.py imports only the standard library")
}

/// A module of the installed package. The embedded interpreter ignores the
/// venv, so its site-packages (`$VIRTUAL_ENV`, else the checkout's `.venv`)
/// are added first.
pub fn installed<'py>(py: Python<'py>, module: &str) -> Bound<'py, PyModule> {
    let globals = PyDict::new(py);
    globals
        .set_item("ROOT", env!("CARGO_MANIFEST_DIR"))
        .unwrap();
    py.run(
        cr#"
import glob, os, site
venv = os.environ.get("VIRTUAL_ENV") or os.path.join(ROOT, ".venv")
for directory in glob.glob(f"{venv}/lib/python3*/site-packages"):
    site.addsitedir(directory)
"#,
        Some(&globals),
        None,
    )
    .unwrap();
    py.import(module)
        .unwrap_or_else(|err| panic!("{module}: {err} (is the extension built? `make develop`)"))
}
