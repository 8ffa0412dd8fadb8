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
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use super::burger::{Item, Menu, parse_order, take_order};
use crate::support::args::seconds;
use crate::support::exit::{park_if_exiting, wait_out_exit};
use crate::support::runtime::{SHUT_DOWN, is_shut_down};
use crate::support::threads::{SIGNAL_CHECK, Stop, spawn_thread};
use crate::support::{fork_gate, rust_side};

/// How often a waiting order looks at the pools again.
const POLL: Duration = Duration::from_millis(1);

/// Why an order that waits while attached gives up.
pub const DEADLOCK: &str = "deadlock: this order waited while attached to the interpreter, so \
    the cooks (who must attach to put items in the pools) could not run. Wait detached: \
    order(..., release=True), which uses py.detach around each wait";

/// Why an order that waits detached gives up: not enough cooking in time.
const TOO_SLOW: &str = "the kitchen did not cook the order in time";

/// Why a closed kitchen takes no order, in `ThreadPoolExecutor`'s words.
const CLOSED: &str = "cannot take new orders after the kitchen is closed";

/// Why an order that was waiting when its kitchen closed gives up.
const CLOSED_WHILE_WAITING: &str = "the kitchen closed before the order was ready";

/// Why a kitchen inherited through `fork()` takes no order.
const FORKED: &str = "this Kitchen's cooks stayed in the parent process: after fork(), \
    make a new Kitchen in the child";

/// ``order_threads(items, *, prep_times=None)``: cook each item on its own OS
/// thread and return the names in the order they finished. The caller detaches
/// from the interpreter while it waits, so other Python threads run meanwhile,
/// and attaches every few milliseconds to let Ctrl-C raise ``KeyboardInterrupt``.
#[pyfunction]
#[pyo3(signature = (items, *, prep_times = None))]
pub fn order_threads(
    py: Python<'_>,
    items: Vec<String>,
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<Vec<&'static str>> {
    let (items, menu) = take_order(&items, prep_times)?;
    // Its threads need no runtime, but the kit's promise is one: no new Rust
    // work after `shutdown()`, whichever way across it takes. `Stop::new` is
    // `None` once shutdown has stopped the kit's threads.
    let stop = match Stop::new() {
        Some(stop) if !is_shut_down() => StopCooks(stop),
        _ => return Err(PyRuntimeError::new_err(SHUT_DOWN)),
    };
    let (done, finished) = std::sync::mpsc::channel();
    for item in items.iter().copied() {
        let (done, stop) = (done.clone(), stop.0.clone());
        let prep = menu.prep(item);
        // These threads never touch Python, so exit cannot catch them in it.
        // A cook stopped first sends nothing (the receiver may be gone too).
        spawn_thread(move || {
            if stop.sleep(prep) {
                let _ = done.send(item.name());
            }
        })?;
    }
    drop(done);
    // In a mutex only so the detached closure may borrow it (a receiver is Send, not Sync).
    let finished = Mutex::new(finished);
    let mut served = Vec::with_capacity(items.len());
    while served.len() < items.len() {
        let next = py.detach(|| {
            let finished = finished.lock().unwrap_or_else(PoisonError::into_inner);
            let next = finished.recv_timeout(SIGNAL_CHECK);
            park_if_exiting();
            next
        });
        match next {
            Ok(name) => served.push(name),
            Err(RecvTimeoutError::Timeout) if !is_shut_down() => py.check_signals()?,
            // Shutdown stopped the cooks (all gone: disconnected) or is under
            // way: answered as a shutdown answers every other route's waits.
            // Once the exit has begun, a daemon thread parks instead, silent.
            Err(_) => {
                wait_out_exit(py);
                return Err(PyRuntimeError::new_err(SHUT_DOWN));
            }
        }
    }
    Ok(served)
}

/// Stops an order's cooks when the order ends, however it ends (Ctrl-C, a
/// cook the OS refused): none sleeps on, and none keeps a fork child alive
/// once the kit stops there (README, "Fork").
struct StopCooks(Arc<Stop>);

impl Drop for StopCooks {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// What the cooks and the kitchen share.
struct Shared {
    /// One Python list per item: what is cooked and not yet served.
    pools: [Py<PyList>; 3],
    cooked: [AtomicU64; 3],
    served: [AtomicU64; 3],
    /// Stops the cooks (on `close()`, or at interpreter exit), and tells a
    /// cook waiting at a full pool that an item was served.
    stop: Arc<Stop>,
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
    /// The process that started the cooks: a fork child has none of them.
    pid: u32,
}

#[pymethods]
impl Kitchen {
    #[new]
    #[pyo3(signature = (*, prep_times = None, pool_size = 2))]
    fn new(
        py: Python<'_>,
        prep_times: Option<HashMap<String, f64>>,
        pool_size: i64,
    ) -> PyResult<Self> {
        let menu = Menu::with_times(prep_times)?;
        // What ThreadPoolExecutor(max_workers=0) says: a kitchen whose pools
        // hold nothing could only time out.
        let pool_size = usize::try_from(pool_size)
            .ok()
            .filter(|&size| size > 0)
            .ok_or_else(|| PyValueError::new_err("pool_size must be greater than 0"))?;
        let shared = Arc::new(Shared {
            pools: Item::ALL.map(|_| PyList::empty(py).unbind()),
            cooked: Default::default(),
            served: Default::default(),
            stop: Stop::new().ok_or_else(|| PyRuntimeError::new_err(SHUT_DOWN))?,
        });
        let mut cooks = Vec::with_capacity(Item::ALL.len());
        for item in Item::ALL {
            let cook_shared = shared.clone();
            let prep = menu.prep(item);
            let cook_once = move || {
                cook(&cook_shared, item, prep, pool_size);
                // The last reference may be this one (the Kitchen dropped):
                // its pools are let go of detached, inside the fork gate.
                fork_gate::inside(|| drop(cook_shared));
            };
            match spawn_thread(cook_once) {
                Ok(cook) => cooks.push(cook),
                // All cooks or none: the ones started go home.
                Err(refused) => {
                    shared.stop.stop();
                    py.detach(|| cooks.into_iter().for_each(|cook| drop(cook.join())));
                    return Err(refused);
                }
            }
        }
        Ok(Kitchen {
            shared,
            cooks: Mutex::new(cooks),
            pid: std::process::id(),
        })
    }

    /// Take the order's items from the pools, waiting for the cooks as needed,
    /// and return their names.
    ///
    /// ``release=True`` detaches from the interpreter while waiting (correct).
    /// ``release=False`` waits attached, which starves the cooks: once the pools
    /// run dry it can only give up, after ``timeout`` seconds, with
    /// ``TimeoutError`` explaining the deadlock. Either way Ctrl-C interrupts
    /// the wait. A closed kitchen raises ``RuntimeError``.
    #[pyo3(signature = (items, *, release = true, timeout = 5.0))]
    fn order(
        &self,
        py: Python<'_>,
        items: Vec<String>,
        release: bool,
        timeout: f64,
    ) -> PyResult<Vec<&'static str>> {
        self.ensure_serving(CLOSED)?;
        // A timeout too long to add to now is no deadline at all.
        let deadline = Instant::now().checked_add(seconds("timeout", timeout)?);
        let mut served = Vec::new();
        for item in parse_order(&items)? {
            let pool = self.shared.pools[item.index()].bind(py);
            while pool.is_empty() {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    let why = if release { TOO_SLOW } else { DEADLOCK };
                    return Err(PyTimeoutError::new_err(why));
                }
                if release {
                    py.detach(|| {
                        std::thread::sleep(POLL);
                        park_if_exiting();
                    });
                } else {
                    std::thread::sleep(POLL); // still attached: no cook can append
                }
                wait_out_exit(py);
                py.check_signals()?;
                self.ensure_serving(CLOSED_WHILE_WAITING)?;
            }
            pool.del_item(0)?;
            self.shared.served[item.index()].fetch_add(1, Ordering::Relaxed);
            self.shared.stop.notify();
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

    /// Stop the cooks and wait for them (detached, since one may be waiting to
    /// attach). Prompt: a cook waits on the kitchen's stop signal, not a sleep.
    fn close(&self, py: Python<'_>) {
        if self.pid != std::process::id() {
            // A fork child: the cooks stayed in the parent, and so may the
            // stop signal's lock, held by one of them at the fork.
            return;
        }
        self.shared.stop.stop();
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

    // Positional only, as the stub and `typing.ContextManager` have it.
    #[pyo3(signature = (_exc_type, _exc, _tb, /))]
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

impl Kitchen {
    /// `RuntimeError` unless the cooks are at work: closed (by `close()` or at
    /// interpreter exit: `closed` says why), or left behind in the parent by a
    /// `fork()`.
    fn ensure_serving(&self, closed: &'static str) -> PyResult<()> {
        if self.pid != std::process::id() {
            Err(PyRuntimeError::new_err(FORKED))
        } else if self.shared.stop.is_stopped() {
            // Closed by a shutdown: in the words every cut wait gives.
            let why = if is_shut_down() { SHUT_DOWN } else { closed };
            Err(PyRuntimeError::new_err(why))
        } else {
            Ok(())
        }
    }
}

impl Drop for Kitchen {
    fn drop(&mut self) {
        // Not joined here: this runs attached, and a cook may be waiting to attach.
        if self.pid == std::process::id() {
            self.shared.stop.stop();
        }
    }
}

/// One cook: cook an item, attach to put it in the pool if there is room, and
/// when the pool is full wait for an item to be served rather than cook in
/// vain; until told to stop. Every wait is on the stop signal, so stopping is
/// immediate, and an idle cook sleeps (a zero prep time does not spin).
fn cook(shared: &Shared, item: Item, prep: Duration, pool_size: usize) {
    let pool = &shared.pools[item.index()];
    loop {
        if !shared.stop.sleep(prep) {
            return;
        }
        loop {
            // Read before looking at the pool: a serve in between is noticed.
            let seen = shared.stop.changes();
            let stocked = rust_side::try_attach("Kitchen: a cook stocks its pool", |py| {
                let pool = pool.bind(py);
                let room = pool.len() < pool_size;
                if room && pool.append(item.name()).is_ok() {
                    shared.cooked[item.index()].fetch_add(1, Ordering::Relaxed);
                }
                room
            });
            match stocked {
                None => return, // the interpreter is going away
                Some(true) => break,
                Some(false) if !shared.stop.wait_for_change(seen) => return,
                Some(false) => {}
            }
        }
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(order_threads, m)?)?;
    m.add_class::<Kitchen>()?;
    Ok(())
}
