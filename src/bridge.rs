//! Production bridging between asyncio and Rust's async runtimes.
//!
//! How real libraries cross the boundary today, reproduced as the PyO3 async
//! workshop ("PyBurger") and the pyo3-async-runtimes guide teach it, tested:
//!
//! # Layout
//!
//! - this file: the PyBurger menu every example shares ([`Item`], [`Menu`],
//!   [`parse_order`]) and [`make_order`], the pure-Rust kitchen that cooks an
//!   order's items concurrently on tokio;
//! - [`runtimes`]: pyo3-async-runtimes on tokio — `future_into_py` (Rust future →
//!   Python awaitable), `into_future` (Python awaitable → Rust future), running a
//!   loop from Rust, and what each does on cancellation, panics and contextvars;
//! - [`native`]: PyO3's own `async fn`, which needs no runtime crate but must
//!   borrow one for timers;
//! - [`kitchen`]: threads and the GIL — cooking on `std::thread`s, and the
//!   shared-pool kitchen whose waiting loop deadlocks unless it detaches;
//! - [`ticks`]: a Rust stream consumed with `async for`;
//! - [`fast`]: coroscope's own bridge: Rust futures polled inline, woken in
//!   one loop iteration through a batched, GIL-free wake-up queue;
//! - [`doorbell`]: Python threads waking the loop through Rust, with the lost
//!   wakeup explained (what the thread-stress trial rings).
//!
//! The shortest summary a reader should leave with: a Rust future runs where it
//! is polled. `future_into_py` polls on tokio's threads and finishes an asyncio
//! future through `call_soon_threadsafe`; PyO3's `async fn` (and
//! [`crate::awaitable::RustAwaitable`]) poll on the loop's thread, so anything
//! that needs tokio (timers, I/O) must be spawned onto tokio's runtime.

use std::collections::HashMap;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tokio::task::{AbortHandle, JoinSet};

use crate::awaitable::Alive;

pub mod doorbell;
pub mod fast;
pub mod kitchen;
pub mod native;
pub mod runtimes;
pub mod ticks;

/// One thing PyBurger cooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// The slowest item.
    Burger,
    /// Quicker.
    Fries,
    /// Poured, not cooked: the quickest.
    Soda,
}

impl Item {
    /// Every item, in menu order.
    pub const ALL: [Item; 3] = [Item::Burger, Item::Fries, Item::Soda];

    /// The name customers order it by (and that a finished order lists).
    pub fn name(self) -> &'static str {
        match self {
            Item::Burger => "burger",
            Item::Fries => "fries",
            Item::Soda => "soda",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a customer can type: the items, and the meal that is three of them.
const VALUE_MEAL: &str = "value_meal";

/// Turn an order as typed (`["burger", "value_meal"]`) into the items to cook.
/// An unknown name raises `ValueError` naming it and listing the menu.
pub fn parse_order(items: &[String]) -> PyResult<Vec<Item>> {
    let mut parsed = Vec::with_capacity(items.len());
    for name in items {
        match name.as_str() {
            VALUE_MEAL => parsed.extend([Item::Burger, Item::Soda, Item::Fries]),
            other => parsed.push(
                Item::ALL
                    .into_iter()
                    .find(|item| item.name() == other)
                    .ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "unknown item '{other}': the menu is burger, fries, soda, {VALUE_MEAL}"
                        ))
                    })?,
            ),
        }
    }
    Ok(parsed)
}

/// What every PyBurger entry point does first: the items to cook and how long
/// each takes, from what Python passed (`ValueError` for anything unknown).
pub fn take_order(
    items: &[String],
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<(Vec<Item>, Menu)> {
    Ok((parse_order(items)?, Menu::with_times(prep_times)?))
}

/// How long each item takes. Tests pass milliseconds; the defaults are short
/// enough for a notebook yet long enough to see concurrency.
#[derive(Clone, Copy, Debug)]
pub struct Menu {
    prep: [Duration; 3],
}

impl Default for Menu {
    fn default() -> Self {
        Menu {
            prep: [
                Duration::from_millis(300),
                Duration::from_millis(200),
                Duration::from_millis(100),
            ],
        }
    }
}

impl Menu {
    /// The defaults with some items' times replaced, from Python's
    /// `prep_times={"burger": 0.01}` (seconds).
    pub fn with_times(prep_times: Option<HashMap<String, f64>>) -> PyResult<Self> {
        let mut menu = Menu::default();
        for (name, seconds) in prep_times.unwrap_or_default() {
            let item = *parse_order(std::slice::from_ref(&name))?
                .first()
                .filter(|_| name != VALUE_MEAL)
                .ok_or_else(|| PyValueError::new_err("prep_times are per item, not per meal"))?;
            menu.prep[item.index()] =
                crate::args::seconds(&format!("prep time of {name}"), seconds)?;
        }
        Ok(menu)
    }

    /// How long `item` takes to prepare.
    pub fn prep(&self, item: Item) -> Duration {
        self.prep[item.index()]
    }
}

/// Cook every item concurrently on tokio and list them as they finish: the
/// workshop's `make_order`, in plain Rust (no Python in it).
///
/// Must run inside tokio (it spawns). Dropping the future aborts the cooking:
/// a [`JoinSet`] cancels its tasks when dropped.
pub async fn make_order(items: Vec<Item>, menu: Menu) -> Vec<&'static str> {
    let _alive = Alive::new();
    let mut cooking = JoinSet::new();
    for item in items {
        let prep = menu.prep(item);
        cooking.spawn(async move {
            // Zero means ready at once: tokio's timer would still wait for its
            // next millisecond tick.
            if !prep.is_zero() {
                tokio::time::sleep(prep).await;
            }
            item.name()
        });
    }
    let mut done = Vec::with_capacity(cooking.len());
    while let Some(cooked) = cooking.join_next().await {
        done.push(cooked.expect("cooking an item neither panics nor is aborted"));
    }
    done
}

/// Aborts a spawned tokio task when dropped (when whatever awaits it is
/// cancelled or closed): a spawned task outlives its `JoinHandle` otherwise.
/// Aborting a finished task does nothing.
pub struct AbortOnDrop(pub AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Production bridging: pyo3-async-runtimes on tokio, PyO3's ``async fn``,
/// threads and the GIL, and Rust streams as async iterators (PyBurger).
#[pymodule(submodule)]
pub fn bridge(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtimes::register(m)?;
    native::register(m)?;
    kitchen::register(m)?;
    ticks::register(m)?;
    fast::register(m)?;
    doorbell::register(m)?;
    m.add_function(wrap_pyfunction!(crate::awaitable::rust_future::alive, m)?)?;
    Ok(())
}
