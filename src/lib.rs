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
//! - [`asyncio`]: asyncio's own exception types and loop rules, looked up once,
//!   so every module speaks asyncio's vocabulary.
//! - `c_future` (3.14+): asyncio's C `Future` as the base of the Rust one
//!   (PEP 697), so `isinstance(fut, asyncio.Future)` holds and asyncio's call
//!   graph sees the kit's futures and tasks.
//! - [`runtime`]: the tokio runtime and threads the kit owns: started on first
//!   use, shut down at interpreter exit (the exit crash it prevents is told
//!   there), started afresh in a fork child.
//! - [`live`]: the one counter of Rust futures alive, which proves a drop.
//! - [`shapes`]: the example futures (yield, hop, sleep, panic) every bridge
//!   wraps, written once, so benchmarks compare bridges, not examples.
//! - [`finalize`]: asyncio's `__del__` for the Rust Future and Task, so their
//!   lost-exception and destroyed-pending reports are made before the cycle
//!   collector clears the loop they go to.
//! - [`finish`]: the two ways an await finishes, and their costs.
//! - [`args`]: argument checks every entry point shares.
//! - [`state_lock`]: the lock around the Future's and the Task's state, which
//!   on a build with a GIL is the GIL itself (no atomic instruction per access).
//! - [`trashcan`] and [`depth`]: deep chains (`Ready(Ready(...))` sixty
//!   thousand deep) freed without deep recursion, and walked (awaited, driven,
//!   printed) with a guard that raises `RecursionError` before the C stack ends.
//! - [`timeline`]: the hooks that let `coroscope.timeline.record()` watch every
//!   step of the Rust Task (and hear which wake-ups only Rust sees).
//! - [`build_info`]: what this build is (profile, versions), so that benchmark
//!   numbers always say what produced them.
//!
//! Each submodule is importable from Python as `coroscope.<name>`; this file only
//! wires them into the `coroscope._native` extension module.

pub mod args;
pub mod asyncio;
pub mod await_from_rust;
pub mod awaitable;
pub mod bridge;
pub mod build_info;
#[cfg(Py_3_14)]
pub mod c_future;
pub mod depth;
pub mod finalize;
pub mod finish;
pub mod live;
pub mod runtime;
pub mod shapes;
pub mod state_lock;
pub mod timeline;
pub mod trashcan;

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
    use crate::build_info::build_info;
    #[pymodule_export]
    use crate::live::alive;
    #[pymodule_export]
    use crate::timeline::{unwatch_steps, watch_steps};

    /// The submodules above, by the name they are exported under.
    const SUBMODULES: [&str; 3] = ["await_from_rust", "awaitable", "bridge"];

    /// `import coroscope._native.awaitable` looks the dotted name up in
    /// `sys.modules` before it looks for a file, and an extension module has no
    /// files for its submodules: registering them here is what makes the import
    /// (and so the thin `python/coroscope/<name>.py` re-exports) work.
    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        crate::runtime::register(m)?;
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
