//! PyBurger, the workshop's example domain: the menu every bridge serves, and
//! the pure-Rust kitchen that cooks an order.
//!
//! The PyO3 async workshop teaches bridging with one story: an order of
//! burgers, fries and sodas, each item taking its own time, cooked
//! concurrently. Every bridge in this module serves the same order, so what
//! differs between them is the bridge alone. Nothing here touches Python
//! beyond parsing the order: [`make_order`] is plain tokio, which is the point
//! (the seeds' "the Rust side should not know it is called from Python").

use std::collections::HashMap;
use std::time::Duration;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tokio::task::JoinSet;

use crate::support::live::Alive;
use crate::support::runtime::{AbortOnDrop, SHUT_DOWN, is_shut_down};

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

    /// Its place in [`Item::ALL`], for per-item tables.
    pub fn index(self) -> usize {
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
                crate::support::args::seconds(&format!("prep time of {name}"), seconds)?;
        }
        Ok(menu)
    }

    /// How long `item` takes to prepare.
    pub fn prep(&self, item: Item) -> Duration {
        self.prep[item.index()]
    }
}

/// What an awaitable of [`cook_on_tokio`] waits on, in the call graph's words.
pub const COOKING: &str = "a PyBurger order cooking on tokio";

/// [`make_order`] spawned on the kit's runtime, for a bridge that polls its
/// future outside tokio (on the loop's thread): `make_order` needs tokio's
/// timers. A spawned task outlives its handle, so the future returned aborts
/// the cooking when it is dropped (its awaiting task cancelled).
pub fn cook_on_tokio(
    items: Vec<Item>,
    menu: Menu,
) -> PyResult<impl Future<Output = PyResult<Vec<&'static str>>> + Send + 'static> {
    let cooking = crate::support::runtime::spawn("PyBurger: cooking", make_order(items, menu))?;
    let abort_if_dropped = AbortOnDrop(cooking.abort_handle());
    Ok(async move {
        let _abort_if_dropped = abort_if_dropped;
        cooking.await.map_err(|err| {
            // Cancelled because the runtime stopped under it: say so, in the
            // words every cut await gives.
            if err.is_cancelled() && is_shut_down() {
                PyRuntimeError::new_err(SHUT_DOWN)
            } else {
                PyRuntimeError::new_err(format!("the kitchen failed: {err}"))
            }
        })
    })
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
        match cooked {
            Ok(item) => done.push(item),
            // Nothing here aborts a cook: only the runtime shutting down (at
            // exit, with a loop closed on a pending order) cancels them, and
            // the order is abandoned with it. Panicking here would print a
            // panic at every such exit.
            Err(err) if err.is_cancelled() => break,
            Err(err) => std::panic::resume_unwind(err.into_panic()),
        }
    }
    done
}
