//! PyBurger on async-std instead of tokio: the same bridge, another runtime.
//!
//! pyo3-async-runtimes is written over a small runtime trait, with tokio and
//! async-std behind features; the PyO3 workshop shows both. Here the kitchen
//! cooks on async-std's executor and `async_std::future_into_py` hands the order
//! to Python as an asyncio future, exactly as `order_future_into_py` does on
//! tokio in `src/bridge/runtimes.rs`.
//!
//! A word on async-std today: its maintainers discontinued it in 2025 and point
//! to `smol`; it still builds and works, and pyo3-async-runtimes still ships its
//! feature, but new code should pick tokio (what the rest of this kit uses).
//!
//! Run it with `cargo run --example async_std_burger` (`make test` does, and
//! checks its output).

use std::ffi::CString;
use std::time::Duration;

use pyo3::prelude::*;

/// One order: each item cooked concurrently, served as it finishes.
async fn make_order(items: Vec<(&'static str, f64)>) -> Vec<&'static str> {
    let (done, finished) = async_std::channel::unbounded();
    let count = items.len();
    for (item, seconds) in items {
        let done = done.clone();
        async_std::task::spawn(async move {
            async_std::task::sleep(Duration::from_secs_f64(seconds)).await;
            // The receiver lives until every item is served.
            let _ = done.send(item).await;
        });
    }
    let mut served = Vec::with_capacity(count);
    while served.len() < count {
        served.push(finished.recv().await.expect("every cook sends once"));
    }
    served
}

/// ``order()``: the order as an asyncio future, cooked on async-std.
#[pyfunction]
fn order(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    pyo3_async_runtimes::async_std::future_into_py(py, async move {
        Ok(make_order(vec![("burger", 0.3), ("fries", 0.2), ("soda", 0.1)]).await)
    })
}

/// The Python side: awaits the Rust order on asyncio, while Python keeps working.
const MAIN: &str = r#"
import asyncio

async def main(order):
    ticks = 0
    async def count():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.001)
            ticks += 1
    counter = asyncio.ensure_future(count())
    served = await order()
    counter.cancel()
    return served, ticks
"#;

#[pyo3_async_runtimes::async_std::main]
async fn main() -> PyResult<()> {
    let waiting = Python::attach(|py| -> PyResult<_> {
        let code = CString::new(MAIN).expect("no NUL in the script");
        let script = PyModule::from_code(py, &code, c"script.py", c"script")?;
        let order = wrap_pyfunction!(order, py)?;
        pyo3_async_runtimes::async_std::into_future(script.getattr("main")?.call1((order,))?)
    })?;
    let result = waiting.await?;
    let (served, ticks): (Vec<String>, u32) = Python::attach(|py| result.extract(py))?;
    println!("served {}", served.join(", "));
    println!("asyncio ran other work meanwhile: {}", ticks > 0);
    Ok(())
}
