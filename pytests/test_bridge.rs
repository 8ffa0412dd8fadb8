//! The PyBurger kitchen from Rust, as the workshop's exercise 2 tests it:
//! `make_order` is plain Rust on tokio, and Rust awaits Python with `into_future`.

use std::collections::HashMap;

use coroscope::bridge::burger::{Menu, make_order, parse_order};
use coroscope::support::live::alive;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

fn fast_menu() -> PyResult<Menu> {
    Menu::with_times(Some(HashMap::from([
        ("burger".to_owned(), 0.06),
        ("fries".to_owned(), 0.03),
        ("soda".to_owned(), 0.0),
    ])))
}

#[pyo3_async_runtimes::tokio::test]
async fn a_value_meal_is_served_as_its_items_finish() -> PyResult<()> {
    let items = parse_order(&["value_meal".to_owned()])?;
    assert_eq!(
        make_order(items, fast_menu()?).await,
        ["soda", "fries", "burger"]
    );
    Ok(())
}

#[pyo3_async_runtimes::tokio::test]
async fn an_unknown_item_is_a_value_error_naming_it() -> PyResult<()> {
    let err = parse_order(&["soda".to_owned(), "pizza".to_owned()]).unwrap_err();
    Python::attach(|py| {
        assert!(err.is_instance_of::<PyValueError>(py));
        assert!(err.to_string().contains("'pizza'"));
    });
    Ok(())
}

#[pyo3_async_runtimes::tokio::test]
async fn dropping_an_order_stops_counting_it_alive() -> PyResult<()> {
    let before = alive();
    let slow = Menu::with_times(Some(HashMap::from([("burger".to_owned(), 60.0)])))?;
    let order = make_order(parse_order(&["burger".to_owned()])?, slow);
    let mut order = Box::pin(order);
    // One poll starts the cooking; then the customer walks away.
    assert!(poll_once(order.as_mut()).await.is_none());
    assert_eq!(alive(), before + 1);
    drop(order);
    assert_eq!(alive(), before);
    Ok(())
}

/// Poll a future once: `Some(output)` if it finished, `None` if still pending.
async fn poll_once<F: std::future::Future + Unpin>(mut future: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
            std::task::Poll::Ready(output) => Some(output),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[pyo3_async_runtimes::tokio::test]
async fn rust_awaits_a_python_coroutine_with_into_future() -> PyResult<()> {
    let result = Python::attach(|py| {
        let module = PyModule::from_code(
            py,
            c"import asyncio\nasync def double(x):\n    await asyncio.sleep(0)\n    return 2 * x\n",
            c"double.py",
            c"double",
        )?;
        pyo3_async_runtimes::tokio::into_future(module.getattr("double")?.call1((21,))?)
    })?
    .await?;
    Python::attach(|py| assert_eq!(result.extract::<i64>(py).unwrap(), 42));
    Ok(())
}
