//! Rust pyclasses that Python can `await`: the iterator protocol from the other side.
//!
//! `await x` calls `type(x).__await__(x)` and steps the iterator it returns (see
//! `await_from_rust` for the stepping side). A Rust object becomes awaitable by
//! filling that slot with `__await__`, and being (or returning) an iterator whose
//! `__next__` either *yields* (returns a value: the awaiting task is suspended
//! and the value goes to the event loop) or *finishes* (the await's result;
//! [`crate::support::finish`] tells the two ways and what each costs).
//!
//! # Layout
//!
//! One awaitable per file, each growing one lesson on the last:
//!
//! - [`ready`]: `Ready`, finished at the first step, and `ReadySend`, the same
//!   with an `am_send` slot, the C-level way to finish without a `StopIteration`
//!   ([`slots`] explains where CPython uses it, and fills the slot);
//! - [`yield_n`]: `YieldN`, which yields to the event loop `n` times first
//!   (cooperative scheduling);
//! - [`delegate`]: `Delegate`, which hands the whole job to another awaitable's
//!   iterator;
//! - [`future`]: asyncio's future, in Rust, a drop-in for `asyncio.Future`,
//!   with `FutureIter`, the iterator `await future` steps; [`vectorcall`]
//!   makes `Future(loop=l)`, `Ready(v)` and `ReadySend(v)` without an
//!   argument tuple;
//! - [`timer`]: `TimerFuture`, a `Future` finished from a tokio timer thread;
//! - [`rust_future`]: `RustAwaitable`, any Rust `Future` made awaitable, polled
//!   from `__next__`; [`wake`] is how its wake-ups reach the loop from any
//!   thread, [`trio_route`] the same for trio, and [`call_graph`] what its
//!   maker says it waits on (the last link of `coroscope.call_graph`).
//!
//! All are `frozen`, their state atomic or behind a lock: the module declares
//! `gil_used = false`, so no method may rely on the GIL to serialise callers
//! unless a build with a GIL is proven, as `crate::support::state_lock` does for the
//! Future's state.

use pyo3::prelude::*;

pub mod call_graph;
pub mod delegate;
pub mod future;
pub mod ready;
pub mod rust_future;
pub mod slots;
pub mod timer;
pub mod trio_route;
pub mod vectorcall;
pub mod wake;
pub mod yield_n;

pub use delegate::Delegate;
pub use future::{Future, FutureIter};

pub use call_graph::WaitsOn;
pub use ready::{Ready, ReadySend};
pub use rust_future::{RustAwaitable, into_awaitable, into_awaitable_giving, into_awaitable_with};
pub use timer::TimerFuture;
pub use yield_n::YieldN;

/// Rust pyclasses that Python can await: ``Ready``, ``YieldN``, ``Delegate``,
/// ``ReadySend``, ``Future`` (asyncio's future written in Rust), ``TimerFuture``,
/// and ``RustAwaitable`` (Rust futures awaited from Python).
#[pymodule(submodule)]
pub fn awaitable(m: &Bound<'_, PyModule>) -> PyResult<()> {
    ready::register(m)?;
    yield_n::register(m)?;
    delegate::register(m)?;
    future::register(m)?;
    timer::register(m)?;
    rust_future::register(m)?;
    // `Ready[int]` and the like in type hints, as the stubs promise: what a
    // Python class writes, `__class_getitem__ = classmethod(GenericAlias)`.
    // (`Future` has its own: asyncio's Future defines it, so ours overrides it.)
    let py = m.py();
    let generic_alias = py
        .import("builtins")?
        .getattr("classmethod")?
        .call1((py.import("types")?.getattr("GenericAlias")?,))?;
    for generic in ["Ready", "YieldN", "Delegate", "FutureIter", "RustAwaitable"] {
        m.getattr(generic)?
            .setattr("__class_getitem__", &generic_alias)?;
    }
    Ok(())
}
