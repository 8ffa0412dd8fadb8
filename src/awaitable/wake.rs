//! Wake routes: how a Rust future's wake-up, from any thread, resumes the
//! Python task waiting on it.
//!
//! A `Waker` is all a Rust future knows of whoever waits for it, and it may be
//! called from any thread, with or without the GIL. The Python side waits in
//! its own scheduler's way: an asyncio Task sleeps on a future, a trio task
//! parks in `wait_task_rescheduled`. A [`WakeRoute`] joins the two halves:
//!
//! - **park** (on the loop's thread, at a pending poll): suspend the awaiting
//!   task and say what to yield to its scheduler ([`Parked`]);
//! - **deliver** (on the waking thread): get the parked task resumed.
//!
//! [`LoopWaker`] is the `Waker` itself: it records "woken" and, if a task is
//! parked, hands a [`WaitingTask`] to the route. [`ThreadsafeRoute`] is
//! asyncio's classic route; trio's is in [`super::trio_route`], the fast
//! bridge's in [`crate::bridge::fast`]. A reader would get wrong: a wake-up can
//! come *before* the task is parked (during the poll itself, or between the
//! poll and the park). `woken` covers the first, and the parking code checks
//! it again after installing the waiter to cover the second: no wake-up is
//! lost in either window.

use std::cell::Cell;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::Wake;

use pyo3::prelude::*;

use super::future::Future;
use crate::support::asyncio::set_result_threadsafe;
use crate::support::{fork_gate, rust_side};

/// What the waker and the stepping code share about the current wait.
pub(super) struct Waiting {
    /// Set by a wake that came before a waiter was installed.
    pub(super) woken: bool,
    /// Set by a wake the future made itself, during its own poll on the
    /// polling thread (a bare yield): the one wake that is no race, so the
    /// only one that may spare the step a loop (see `wait_for_wake`).
    pub(super) woken_in_poll: bool,
    /// What a wake-up must finish to resume the waiting task: the asyncio
    /// future its Task sleeps on, or the trio task itself.
    pub(super) waiter: Option<Py<PyAny>>,
    /// Under trio: the `wait_task_rescheduled` coroutine we are suspended in,
    /// which the outcome trio sends back must go through.
    pub(super) trap: Option<Py<PyAny>>,
}

/// How a route suspends the awaiting task (see [`WakeRoute::park`]).
pub struct Parked {
    /// Kept until a wake-up takes it ([`WaitingTask::take_waiter`]).
    pub waiter: Py<PyAny>,
    /// What the awaitable yields to the task's scheduler.
    pub yielded: Py<PyAny>,
    /// The coroutine to resume with what the scheduler sends back, if any.
    pub trap: Option<Py<PyAny>>,
}

/// Park an asyncio Task on a fresh waiter future: the Task sees a future with
/// `_asyncio_future_blocking` set and waits for it, as for `await future`.
pub fn park_on_waiter(event_loop: &Bound<'_, PyAny>) -> PyResult<Parked> {
    let waiter = Future::waiter(event_loop)?.into_any().unbind();
    Ok(Parked {
        waiter: waiter.clone_ref(event_loop.py()),
        yielded: waiter,
        trap: None,
    })
}

/// Where a wake-up goes: how the task waiting on a Rust future is suspended,
/// and resumed from whatever thread the Rust side wakes on. [`ThreadsafeRoute`]
/// is asyncio's classic one, `TrioRoute` trio's; the fast bridge
/// ([`crate::bridge::fast`]) has its own.
pub trait WakeRoute: Send + Sync {
    /// Suspend the awaiting task, on the loop's thread. `anchor` is what the
    /// route was made for (the asyncio loop, or trio's token).
    fn park(&self, anchor: &Bound<'_, PyAny>, waiting: WaitingTask) -> PyResult<Parked>;

    /// The future woke while a task waits: get it resumed soon. Called from
    /// any thread, attached or not.
    fn deliver(&self, waiting: WaitingTask);

    /// Whether a bare `None` yield means "step me again soon" to this
    /// scheduler (asyncio's Task: yes; trio: no).
    fn bare_yield_ok(&self) -> bool {
        true
    }

    /// What a wake taking this route is called in a recording
    /// (`crate::support::rust_side`).
    fn wake_name(&self) -> &'static str;
}

/// Makes the route for the asyncio loop an awaitable first waits on.
pub type RouteFor = fn(&Bound<'_, PyAny>) -> PyResult<Arc<dyn WakeRoute>>;

/// A handle on a waiting task's waiter, for a route to take when it is ready
/// to resume it. It holds no Python object (only a weak link to the waker),
/// so a route may keep it anywhere, on any thread, without creating a
/// reference cycle the garbage collector cannot see.
pub struct WaitingTask(Weak<LoopWaker>);

impl WaitingTask {
    /// The handle on `waker`'s waiting task.
    pub(super) fn of(waker: &Arc<LoopWaker>) -> Self {
        WaitingTask(Arc::downgrade(waker))
    }

    /// The waiter, if the awaitable still has one (it may have finished, or
    /// been cancelled, meanwhile). Taking it makes this wake-up the one that
    /// resumes the task.
    pub fn take_waiter(&self) -> Option<Py<PyAny>> {
        self.0.upgrade()?.waiting().waiter.take()
    }
}

/// The classic route: attach, then `loop.call_soon_threadsafe` a `set_result`
/// on the waiter, which schedules the Task's wake-up: two loop iterations, and
/// a waking thread that waits for the GIL.
pub struct ThreadsafeRoute {
    event_loop: Py<PyAny>,
}

impl ThreadsafeRoute {
    /// The route for `event_loop` (a [`RouteFor`]).
    pub fn for_loop(event_loop: &Bound<'_, PyAny>) -> PyResult<Arc<dyn WakeRoute>> {
        Ok(Arc::new(ThreadsafeRoute {
            event_loop: event_loop.clone().unbind(),
        }))
    }
}

impl WakeRoute for ThreadsafeRoute {
    fn wake_name(&self) -> &'static str {
        "wake: call_soon_threadsafe"
    }

    fn park(&self, anchor: &Bound<'_, PyAny>, _waiting: WaitingTask) -> PyResult<Parked> {
        park_on_waiter(anchor)
    }

    fn deliver(&self, waiting: WaitingTask) {
        // At exit tokio's timers all fire as the runtime stops (see `exiting`).
        if crate::support::exit::exiting() {
            return;
        }
        if let Some(waiter) = waiting.take_waiter() {
            set_result_threadsafe(&self.event_loop, waiter, None);
        }
    }
}

/// The `Waker` behind every poll: reaches the loop from any thread.
pub struct LoopWaker {
    /// The loop and the route to it, set the first time the future is
    /// pending: a future that is ready at its first poll never needs a loop
    /// (nor pays for finding one).
    pub(super) route: OnceLock<(Py<PyAny>, Arc<dyn WakeRoute>)>,
    pub(super) waiting: Mutex<Waiting>,
}

impl LoopWaker {
    /// A waker not yet woken, with no task parked.
    pub(super) fn new() -> Self {
        LoopWaker {
            route: OnceLock::new(),
            waiting: Mutex::new(Waiting {
                woken: false,
                woken_in_poll: false,
                waiter: None,
                trap: None,
            }),
        }
    }

    pub(super) fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Run `poll` (one poll of the future this waker serves) with this thread
    /// marked as polling it, so that a wake it makes of itself is told apart
    /// from one another thread makes meanwhile (`woken_in_poll`).
    pub(super) fn polling<R>(self: &Arc<Self>, poll: impl FnOnce() -> R) -> R {
        /// Puts back the waker polled before (a poll inside a poll), even on unwind.
        struct Restore(*const LoopWaker);
        impl Drop for Restore {
            fn drop(&mut self) {
                POLLING.set(self.0);
            }
        }
        let _restore = Restore(POLLING.replace(Arc::as_ptr(self)));
        poll()
    }
}

thread_local! {
    /// The waker whose future this thread is polling (compared, never read through).
    static POLLING: Cell<*const LoopWaker> = const { Cell::new(std::ptr::null()) };
}

impl Drop for LoopWaker {
    fn drop(&mut self) {
        // The last reference may go on a tokio worker (a timer that held the
        // waker), letting go of the loop and the waiter detached: inside the
        // fork gate, like every other piece of the kit's work there.
        let waiting = self
            .waiting
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let held = (
            self.route.take(),
            waiting.waiter.take(),
            waiting.trap.take(),
        );
        fork_gate::inside(|| drop(held));
    }
}

impl Wake for LoopWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let has_waiter = {
            let mut waiting = self.waiting();
            waiting.woken = true;
            waiting.woken_in_poll |= POLLING.get() == Arc::as_ptr(self);
            waiting.waiter.is_some()
        };
        // A waiter exists only once the route is known (see `wait_for_wake`).
        if let (true, Some((_, route))) = (has_waiter, self.route.get()) {
            // Recorded, the wake gets a flow number that the route carries to
            // the step it causes.
            let flow = rust_side::wake(route.wake_name());
            rust_side::with_flow(flow, || route.deliver(WaitingTask::of(self)));
        }
    }
}
