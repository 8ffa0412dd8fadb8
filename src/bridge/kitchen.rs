//! Threads and the GIL: the workshop's exercises 3–5.
//!
//! Python objects may only be touched by a thread *attached* to the interpreter
//! (holding the GIL, on a GIL build). Attaching is cheap; what goes wrong is a
//! thread that stays attached while it waits for another thread that needs to
//! attach: neither moves. The rule that prevents it: detach (`py.detach`)
//! around every wait.
//!
//! - [`order_threads`]: items cooked on `std::thread`s; the caller detaches while
//!   it waits for them, so other Python threads keep running.
//! - [`Kitchen`]: cook threads fill item pools that are Python lists (they attach
//!   to append); order threads take from them. `order(..., release=False)` waits
//!   while attached, as a first attempt naturally does: the cooks can never
//!   append again, so it gives up after `timeout` with [`DEADLOCK`], instead of
//!   hanging forever. `release=True` detaches while waiting: orders complete.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::runtimes::seconds;
use super::{Item, Menu, parse_order, take_order};

/// How often a waiting order looks at the pools again.
const POLL: Duration = Duration::from_millis(1);

/// Why an order that waits while attached gives up.
pub const DEADLOCK: &str = "deadlock: this order waited while attached to the interpreter, so \
    the cooks (who must attach to put items in the pools) could not run. Wait detached: \
    order(..., release=True), which uses py.detach around each wait";

/// Why an order that waits detached gives up: not enough cooking in time.
const TOO_SLOW: &str = "the kitchen did not cook the order in time";

/// ``order_threads(items, *, prep_times=None)``: cook each item on its own OS
/// thread and return the names in the order they finished. The caller detaches
/// from the interpreter while it waits, so other Python threads run meanwhile.
#[pyfunction]
#[pyo3(signature = (items, *, prep_times = None))]
pub fn order_threads(
    py: Python<'_>,
    items: Vec<String>,
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<Vec<&'static str>> {
    let (items, menu) = take_order(&items, prep_times)?;
    let (done, finished) = std::sync::mpsc::channel();
    for item in items.iter().copied() {
        let done = done.clone();
        let prep = menu.prep(item);
        std::thread::spawn(move || {
            std::thread::sleep(prep);
            // The receiver lives until every item has arrived.
            let _ = done.send(item.name());
        });
    }
    drop(done);
    Ok(py.detach(move || finished.iter().collect()))
}

/// What the cooks and the kitchen share.
struct Shared {
    /// One Python list per item: what is cooked and not yet served.
    pools: [Py<PyList>; 3],
    cooked: [AtomicU64; 3],
    served: [AtomicU64; 3],
    stop: AtomicBool,
}

/// The shared-pool kitchen: one cook thread per item keeps a pool (a Python
/// list) stocked; ``order`` takes items from the pools.
///
/// ``Kitchen(*, prep_times=None, pool_size=2)``; use it as a context manager
/// (or call ``close()``) so the cooks stop. ``stats()`` shows that the pools
/// balance: for each item, cooked == served + still in the pool.
#[pyclass(frozen, module = "coroscope.bridge")]
pub struct Kitchen {
    shared: Arc<Shared>,
    cooks: Mutex<Vec<JoinHandle<()>>>,
}

#[pymethods]
impl Kitchen {
    #[new]
    #[pyo3(signature = (*, prep_times = None, pool_size = 2))]
    fn new(
        py: Python<'_>,
        prep_times: Option<HashMap<String, f64>>,
        pool_size: usize,
    ) -> PyResult<Self> {
        let menu = Menu::with_times(prep_times)?;
        let shared = Arc::new(Shared {
            pools: Item::ALL.map(|_| PyList::empty(py).unbind()),
            cooked: Default::default(),
            served: Default::default(),
            stop: AtomicBool::new(false),
        });
        let cooks = Item::ALL
            .into_iter()
            .map(|item| {
                let shared = shared.clone();
                let prep = menu.prep(item);
                std::thread::spawn(move || cook(&shared, item, prep, pool_size))
            })
            .collect();
        Ok(Kitchen {
            shared,
            cooks: Mutex::new(cooks),
        })
    }

    /// Take the order's items from the pools, waiting for the cooks as needed,
    /// and return their names.
    ///
    /// ``release=True`` detaches from the interpreter while waiting (correct).
    /// ``release=False`` waits attached, which starves the cooks: once the pools
    /// run dry it can only give up, after ``timeout`` seconds, with
    /// ``TimeoutError`` explaining the deadlock.
    #[pyo3(signature = (items, *, release = true, timeout = 5.0))]
    fn order(
        &self,
        py: Python<'_>,
        items: Vec<String>,
        release: bool,
        timeout: f64,
    ) -> PyResult<Vec<&'static str>> {
        let deadline = Instant::now() + seconds("timeout", timeout)?;
        let mut served = Vec::new();
        for item in parse_order(&items)? {
            let pool = self.shared.pools[item.index()].bind(py);
            while pool.is_empty() {
                if Instant::now() >= deadline {
                    let why = if release { TOO_SLOW } else { DEADLOCK };
                    return Err(PyTimeoutError::new_err(why));
                }
                if release {
                    py.detach(|| std::thread::sleep(POLL));
                } else {
                    std::thread::sleep(POLL); // still attached: no cook can append
                }
            }
            pool.del_item(0)?;
            self.shared.served[item.index()].fetch_add(1, Ordering::Relaxed);
            served.push(item.name());
        }
        Ok(served)
    }

    /// ``{item: {"cooked": n, "served": n, "in_pool": n}}`` for every item.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = PyDict::new(py);
        for item in Item::ALL {
            let i = item.index();
            let row = PyDict::new(py);
            row.set_item("cooked", self.shared.cooked[i].load(Ordering::Relaxed))?;
            row.set_item("served", self.shared.served[i].load(Ordering::Relaxed))?;
            row.set_item("in_pool", self.shared.pools[i].bind(py).len())?;
            stats.set_item(item.name(), row)?;
        }
        Ok(stats)
    }

    /// Stop the cooks and wait for them (detached, since they may be waiting
    /// to attach).
    fn close(&self, py: Python<'_>) {
        self.shared.stop.store(true, Ordering::Release);
        let cooks = std::mem::take(&mut *self.cooks.lock().unwrap_or_else(PoisonError::into_inner));
        py.detach(|| {
            for cook in cooks {
                let _ = cook.join();
            }
        });
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Bound<'_, PyAny>,
        _exc: Bound<'_, PyAny>,
        _tb: Bound<'_, PyAny>,
    ) {
        self.close(py);
    }
}

impl Drop for Kitchen {
    fn drop(&mut self) {
        // Not joined here: this runs attached, and a cook may be waiting to attach.
        self.shared.stop.store(true, Ordering::Release);
    }
}

/// One cook: cook an item, attach to put it in the pool if there is room, repeat
/// until told to stop (or the interpreter is shutting down).
fn cook(shared: &Shared, item: Item, prep: Duration, pool_size: usize) {
    let pool = &shared.pools[item.index()];
    while !shared.stop.load(Ordering::Acquire) {
        std::thread::sleep(prep);
        let stocked = Python::try_attach(|py| {
            let pool = pool.bind(py);
            if pool.len() < pool_size && pool.append(item.name()).is_ok() {
                shared.cooked[item.index()].fetch_add(1, Ordering::Relaxed);
            }
        });
        if stocked.is_none() {
            return;
        }
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(order_threads, m)?)?;
    m.add_class::<Kitchen>()?;
    Ok(())
}
