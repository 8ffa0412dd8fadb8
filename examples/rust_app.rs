//! A Rust *application* that owns the runtime and awaits Python.
//!
//! Everywhere else in the kit, Python is in charge: it imports the extension and
//! runs the event loop. Here it is the other way round, as in a Rust service
//! that embeds Python: `#[pyo3_async_runtimes::tokio::main]` starts the
//! interpreter, runs an asyncio loop on the main thread, and runs this `main` on
//! tokio. `into_future` turns each Python coroutine into a Rust future that tokio
//! awaits like any other. (One edge it does not hold: a coroutine that raises
//! PyO3's `PanicException` leaves that Rust future pending for ever;
//! `src/bridge/runtimes.rs`'s `task_future` says why, and is what the kit uses.)
//!
//! Run it with `cargo run --example rust_app` (`make test` does, and checks its
//! output): the Python orders take 300, 200 and 100 ms and are awaited concurrently
//! from Rust, so they finish in reverse order, in about 300 ms in all (the gaps
//! are wide so that a busy machine cannot swap two of them).

use std::ffi::CString;
use std::time::Instant;

use pyo3::prelude::*;

/// The workshop's PyBurger kitchen, in Python: what the Rust side awaits.
const KITCHEN: &str = r#"
import asyncio

async def cook(item, seconds):
    await asyncio.sleep(seconds)
    return item
"#;

#[pyo3_async_runtimes::tokio::main]
async fn main() -> PyResult<()> {
    let started = Instant::now();
    // Each Python coroutine becomes a Rust future, scheduled on the asyncio loop
    // the macro runs; making it needs the GIL, awaiting it does not.
    let orders = Python::attach(|py| -> PyResult<Vec<_>> {
        let code = CString::new(KITCHEN).expect("no NUL in the kitchen");
        let kitchen = PyModule::from_code(py, &code, c"kitchen.py", c"kitchen")?;
        [("burger", 0.3), ("fries", 0.2), ("soda", 0.1)]
            .into_iter()
            .map(|(item, seconds)| {
                let coroutine = kitchen.getattr("cook")?.call1((item, seconds))?;
                pyo3_async_runtimes::tokio::into_future(coroutine)
            })
            .collect()
    })?;
    // Await them concurrently on tokio, each reporting as it is served.
    let mut served = tokio::task::JoinSet::new();
    for order in orders {
        served.spawn(order);
    }
    while let Some(done) = served.join_next().await {
        let item = done.expect("an order neither panics nor is aborted")?;
        let name: String = Python::attach(|py| item.extract(py))?;
        println!("served {name}");
    }
    println!("all served in {} ms", started.elapsed().as_millis());
    Ok(())
}
