//! The interpreter's exit as the kit's work sees it: the flag the kit's
//! `atexit` handler raises ([`super::runtime`] has the handler), and what a
//! wait of the kit's does once it is up.
//!
//! What a reader would get wrong: "every thread still in a kit call at exit
//! is a daemon thread". Up to 3.14 it is: `threading` joins every non-daemon
//! thread before the `atexit` handlers run, so a thread still waiting in the
//! kit then waits on for good, as a daemon thread blocked in `Event.wait`
//! does, and the process ends around it. From 3.15, CPython joins again after
//! the handlers: a non-daemon thread that an earlier handler started (one
//! registered after importing coroscope runs before the kit's) is joined
//! *then*, and the exit never ends if its kit call waits on. The kit's
//! handler joins such threads first, for a while, and then answers what they
//! still wait for, as `coroscope.shutdown()` does.
//!
//! A wait the kit cannot make park by itself (a loop of the user's, which
//! runs whatever its own timers say) is registered to be woken by the exit
//! ([`wake_at_exit`]): the handler wakes each one once the exit has begun,
//! and the wait parks then.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use super::fork_gate;
use super::in_flight::{self, InFlight};

/// Set by the kit's `atexit` handler, before its shutdown.
static EXITING: AtomicBool = AtomicBool::new(false);

/// The exit has begun: from now on nothing new starts.
pub fn begin() {
    EXITING.store(true, Ordering::SeqCst); // see `in_flight::left`
}

/// Whether the interpreter is exiting (the `atexit` shutdown has begun). A
/// wake-up then reaches no one: no loop will run again, and queuing it on a
/// loop (a handle holding the woken task) would only keep the task alive past
/// the point where its "destroyed but pending" report can still be made.
pub fn exiting() -> bool {
    EXITING.load(Ordering::SeqCst)
}

/// Leave to attach from another thread: counted in flight, so that the exit
/// waits for it, or `None` once the exit has begun (a thread that attaches
/// while Python finalizes aborts the process). Counted first, then the flag
/// read: both sequentially consistent, the exit sees the count or this sees
/// the flag.
pub fn in_flight_unless_exiting() -> Option<InFlight> {
    let in_flight = in_flight::InFlight::new();
    (!exiting()).then_some(in_flight)
}

/// Called by a blocking wait of the kit's, detached, each time it would
/// attach again: once the interpreter is exiting, never return, unless the
/// interpreter will join this thread (3.15+, see the top). Otherwise this is
/// a daemon thread still waiting (in `Kitchen.order`, say): it waits on for
/// good, and the process ends around it. Going on would attach while the
/// interpreter finalizes (3.11 to 3.13 end such a thread with a forced unwind
/// that Rust frames turn into an abort), or raise "kitchen closed" into a
/// traceback that exit cuts short.
pub fn park_if_exiting() {
    if parks_now() {
        while exiting() {
            std::thread::park();
        }
    }
}

/// Whether a wait of this thread's parks now (see [`park_if_exiting`]).
pub fn parks_now() -> bool {
    exiting() && !joined_after_atexit()
}

/// [`park_if_exiting`] for a wait that is attached: it detaches to park.
pub fn wait_out_exit(py: Python<'_>) {
    if exiting() {
        py.detach(park_if_exiting);
    }
}

/// Joins, for at most `within`, the threads the interpreter would join after
/// the `atexit` handlers (3.15+: the non-daemon threads still alive, which an
/// earlier handler started), while the kit still runs for them: whether any
/// is left. Joined first, their kit calls end as they would have; only what
/// outlasts the wait is answered by a shutdown, which answers the daemon
/// threads' waits too.
pub fn outlast_joined_threads(py: Python<'_>, within: Duration) -> PyResult<bool> {
    if cfg!(not(Py_3_15)) {
        return Ok(false);
    }
    let deadline = Instant::now() + within;
    let threading = py.import("threading")?;
    let current = threading.call_method0("current_thread")?;
    let mut left = false;
    for thread in threading.call_method0("enumerate")?.try_iter()? {
        let thread = thread?;
        if thread.is(&current) || thread.getattr("daemon")?.is_truthy()? {
            continue;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        thread.call_method1("join", (remaining.as_secs_f64(),))?;
        left |= thread.call_method0("is_alive")?.is_truthy()?;
    }
    Ok(left)
}

/// How the exit wakes a wait: called attached, by the `atexit` handler.
type Wake = Arc<dyn Fn(Python<'_>) + Send + Sync>;

/// The waits registered by [`wake_at_exit`], with the process that registered
/// each: a fork child has its parent's list but not its threads.
static TO_WAKE: Mutex<Vec<(u64, u32, Wake)>> = Mutex::new(Vec::new());

static NEXT_TO_WAKE: AtomicU64 = AtomicU64::new(0);

/// A wait registered to be woken at exit, until this is dropped.
pub struct WokenAtExit(u64);

/// Registers `wake`, which [`wake_all`] calls once the exit has begun, until
/// the returned guard drops. Inside the fork gate: a fork never copies the
/// list's lock held.
pub fn wake_at_exit(wake: impl Fn(Python<'_>) + Send + Sync + 'static) -> WokenAtExit {
    let id = NEXT_TO_WAKE.fetch_add(1, Ordering::Relaxed);
    let entry = (id, std::process::id(), Arc::new(wake) as Wake);
    fork_gate::inside(|| fork_gate::lock(&TO_WAKE).push(entry));
    WokenAtExit(id)
}

impl Drop for WokenAtExit {
    fn drop(&mut self) {
        let gone = fork_gate::inside(|| {
            let mut to_wake = fork_gate::lock(&TO_WAKE);
            let at = to_wake.iter().position(|(id, _, _)| *id == self.0);
            at.map(|at| to_wake.swap_remove(at))
        });
        // Dropped out of the lock: what `wake` holds may run Python as it goes.
        drop(gone);
    }
}

/// Wakes every wait this process registered ([`wake_at_exit`]): called by the
/// `atexit` handler once the exit has begun.
pub fn wake_all(py: Python<'_>) {
    let pid = std::process::id();
    let wakes: Vec<Wake> = fork_gate::inside(|| {
        let to_wake = fork_gate::lock(&TO_WAKE);
        let ours = to_wake.iter().filter(|(_, of, _)| *of == pid);
        ours.map(|(_, _, wake)| wake.clone()).collect()
    });
    wakes.iter().for_each(|wake| wake(py));
}

/// Whether the interpreter joins this (detached) thread after `atexit`.
/// Asked only from 3.15, where attaching is safe even as the interpreter
/// finalizes (a thread attaching then is held there for good, as parked).
fn joined_after_atexit() -> bool {
    if cfg!(not(Py_3_15)) {
        return false;
    }
    Python::attach(|py| {
        let thread = py.import("threading")?.call_method0("current_thread")?;
        PyResult::Ok(!thread.getattr("daemon")?.is_truthy()?)
    })
    .unwrap_or(false)
}
