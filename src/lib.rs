//! # coroscope — a study kit for coroutine interop between Rust and Python
//!
//! Python's `await` and Rust's `.await` are two different machines: a Python
//! coroutine is an iterator that is *stepped* by whoever awaits it, a Rust future
//! is a state machine that is *polled* and asks to be woken. This crate shows, one
//! mechanism per file, every way of making the two meet, and measures each.
//!
//! # Layout
//!
//! - [`await_from_rust`]: Rust drives Python coroutines by hand — `__await__`, then
//!   `__next__` until `StopIteration` (the classic way) or `PyIter_Send` (the fast
//!   way). Read it to learn what `await` really does, step by step.
//! - [`awaitable`]: Rust pyclasses that Python can `await`. Read it to learn the
//!   iterator protocol from the other side, and what an asyncio future must do.
//! - [`bridge`]: production bridging between asyncio and tokio. Read it to learn
//!   what pyo3-async-runtimes and PyO3's `async fn` cost, and how to go faster.
//! - [`support`]: what the lessons share and none of them teaches: the tokio
//!   runtime the kit owns, asyncio's vocabulary, argument checks, the guards for
//!   deep chains, the finalizers, the timeline's hooks. Its own map lists them.
//!   A support file imports no lesson.
//!
//! Each lesson module is importable from Python as `coroscope.<name>`; this file only
//! wires them into the `coroscope._native` extension module.

pub mod await_from_rust;
pub mod awaitable;
pub mod bridge;
pub mod support;

use pyo3::prelude::*;

/// Native core of coroscope. Import the public modules instead:
/// `coroscope.await_from_rust`, `coroscope.awaitable`, `coroscope.bridge`.
#[pymodule]
#[pyo3(name = "_native")]
mod native {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::await_from_rust::await_from_rust;
    #[pymodule_export]
    use crate::awaitable::awaitable;
    #[pymodule_export]
    use crate::bridge::bridge;
    #[pymodule_export]
    use crate::support::build_info::build_info;
    #[pymodule_export]
    use crate::support::live::alive;
    #[pymodule_export]
    use crate::support::rust_side::{_current_flow, _rust_side_start, _rust_side_stop};
    #[pymodule_export]
    use crate::support::shapes::{_hold_a_lock_on_tokio, _lock_on_tokio_is_free};
    #[pymodule_export]
    use crate::support::timeline::{unwatch_steps, watch_steps};

    /// The submodules above, by the name they are exported under.
    const SUBMODULES: [&str; 3] = ["await_from_rust", "awaitable", "bridge"];

    /// `import coroscope._native.awaitable` looks the dotted name up in
    /// `sys.modules` before it looks for a file, and an extension module has no
    /// files for its submodules: registering them here is what makes the import
    /// (and so the thin `python/coroscope/<name>.py` re-exports) work.
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::support::runtime::register(m)?;
        let sys_modules = m.py().import("sys")?.getattr("modules")?;
        for name in SUBMODULES {
            let submodule = m.getattr(name)?;
            let dotted = format!("coroscope._native.{name}");
            submodule.setattr("__name__", &dotted)?;
            sys_modules.set_item(dotted, submodule)?;
        }
        Ok(())
    }
}
