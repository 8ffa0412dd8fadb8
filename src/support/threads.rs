//! The kit's own threads (a `Kitchen`'s cooks): woken at once when stopped,
//! counted so that shutdown can wait for them, refused in `threading`'s words;
//! and the trial that asks the OS for the runtime's threads before it starts
//! ([`try_threads`]), with the quiet catch of the panic tokio raises when it is
//! refused one ([`quietly`]); and the kit's blocking waits that let Ctrl-C in
//! ([`wait_attentively`]).
//!
//! A cook must never be left sleeping when its kitchen closes or the
//! interpreter exits: it would wake later into an interpreter that is gone. So
//! it waits on a [`Stop`] instead of sleeping, and [`stop_all`] (what shutdown
//! calls) stops every one and refuses new ones, under one lock, so that a
//! kitchen opened during a shutdown cannot slip between the two.

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once, PoisonError, Weak};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

/// `threading`'s words when the OS refuses a thread.
pub const CANT_START: &str = "can't start new thread";

/// The `RuntimeError` `threading.Thread.start()` raises when the OS refuses a
/// thread, with the reason (the OS's, or what the kit saw refused).
pub fn thread_refused(why: impl std::fmt::Display) -> PyErr {
    PyRuntimeError::new_err(format!("{CANT_START} ({why})"))
}

/// A stop signal a thread of ours waits on instead of sleeping, so that its
/// owner (`Kitchen.close()`) or [`stop_all`] wakes it at once. It also carries
/// "something changed" notifications (an item served) to its waiters.
pub struct Stop {
    /// `(stopped, changes)`: the change counter lets a waiter that read it
    /// before looking at shared state notice a change made in between.
    state: Mutex<(bool, u64)>,
    changed: Condvar,
}

/// Every live [`Stop`], so that [`stop_all`] can stop them all; `None` once
/// it has.
static STOPS: Mutex<Option<Vec<Weak<Stop>>>> = Mutex::new(Some(Vec::new()));

fn stops() -> MutexGuard<'static, Option<Vec<Weak<Stop>>>> {
    // Held across a fork (see `hold_for_fork`): never waited for attached.
    super::fork_gate::lock(&STOPS)
}

impl Stop {
    /// A new signal, registered for [`stop_all`]; `None` once that has run.
    pub fn new() -> Option<Arc<Self>> {
        let stop = Arc::new(Stop {
            state: Mutex::new((false, 0)),
            changed: Condvar::new(),
        });
        let mut stops = stops();
        let live = stops.as_mut()?;
        live.retain(|live| live.strong_count() > 0);
        live.push(Arc::downgrade(&stop));
        Some(stop)
    }

    fn state(&self) -> MutexGuard<'_, (bool, u64)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stop, and wake every waiter.
    pub fn stop(&self) {
        self.state().0 = true;
        self.changed.notify_all();
    }

    /// Whether [`Stop::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.state().0
    }

    /// Something changed: wake the waiters so they look again.
    pub fn notify(&self) {
        self.state().1 += 1;
        self.changed.notify_all();
    }

    /// How many changes so far: read it, look at what you wait for, then
    /// [`Stop::wait_for_change`] with it.
    pub fn changes(&self) -> u64 {
        self.state().1
    }

    /// Sleep for `duration`, unless stopped first; `false` if stopped.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut state = self.state();
        while !state.0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    /// Wait until a change after `seen` ([`Stop::changes`]) or a stop; `false`
    /// if stopped.
    pub fn wait_for_change(&self, seen: u64) -> bool {
        let state = self
            .changed
            .wait_while(self.state(), |(stopped, changes)| {
                !*stopped && *changes == seen
            })
            .unwrap_or_else(PoisonError::into_inner);
        !state.0
    }
}

/// The kit's threads still running, and a condition to wait for none.
static THREADS: Mutex<usize> = Mutex::new(0);
static THREADS_CHANGED: Condvar = Condvar::new();

/// Counts one running thread until dropped (on return or panic).
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        *super::fork_gate::lock(&THREADS) -= 1;
        THREADS_CHANGED.notify_all();
    }
}

/// Start a thread that [`wait_for_all`] waits for. `work` must return soon after
/// its [`Stop`] is stopped (wait on it rather than sleeping). `RuntimeError`,
/// as from `threading`, if the OS refuses the thread.
pub fn spawn_thread(work: impl FnOnce() + Send + 'static) -> PyResult<std::thread::JoinHandle<()>> {
    *super::fork_gate::lock(&THREADS) += 1;
    // Dropped with the closure when the thread cannot start: the count is
    // right either way.
    let running = Running;
    std::thread::Builder::new()
        .spawn(move || {
            let _running = running;
            work();
        })
        .map_err(|err| thread_refused(&err))
}

/// Stop every [`Stop`] and refuse new ones (shutdown, from any thread).
pub fn stop_all() {
    let Some(live) = stops().take() else {
        return;
    };
    for stop in live.iter().filter_map(Weak::upgrade) {
        stop.stop();
    }
}

/// Wait (detached, the caller sees to it) until every thread of ours has
/// ended, or `deadline` passes.
pub fn wait_for_all(deadline: Instant) {
    let threads = super::fork_gate::lock(&THREADS);
    let left = deadline.saturating_duration_since(Instant::now());
    let _ = THREADS_CHANGED.wait_timeout_while(threads, left, |running| *running > 0);
}

/// This module's locks, held by the forking thread across a `fork()` (see
/// [`super::fork_gate`]): a cook ending at that instant would otherwise leave
/// the count locked in the child for ever.
pub struct HeldForFork {
    threads: MutexGuard<'static, usize>,
    stops: MutexGuard<'static, Option<Vec<Weak<Stop>>>>,
}

/// Take the locks before a fork (attached: no holder waits for the interpreter).
pub fn hold_for_fork() -> HeldForFork {
    HeldForFork {
        threads: super::fork_gate::lock(&THREADS),
        stops: stops(),
    }
}

impl HeldForFork {
    /// In a fork child: the threads stayed in the parent. Start counting
    /// afresh, and take kitchens again.
    pub fn forget_in_child(mut self) {
        *self.threads = 0;
        *self.stops = Some(Vec::new());
    }
}

/// Start `count` threads that wait until all have started (or one was
/// refused), then end; `RuntimeError` if the OS refused one.
pub fn try_threads(count: usize) -> PyResult<()> {
    let before = threads_now();
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut started = Vec::with_capacity(count);
    let mut refused = None;
    for _ in 0..count {
        let gate = gate.clone();
        let spawned = std::thread::Builder::new()
            .name("coroscope-trial".into())
            .spawn(move || {
                let (open, opened) = &*gate;
                let open = open.lock().unwrap_or_else(PoisonError::into_inner);
                drop(opened.wait_while(open, |open| !*open));
            });
        match spawned {
            Ok(thread) => started.push(thread),
            Err(err) => {
                refused = Some(err);
                break;
            }
        }
    }
    *gate.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
    gate.1.notify_all();
    for thread in started {
        let _ = thread.join();
    }
    // `join` returns as a thread exits, before the kernel releases it and its
    // place under the limit: wait (briefly) until the trial threads are gone,
    // or the runtime's own threads could be refused the room they left.
    if let Some(before) = before {
        let until = Instant::now() + Duration::from_millis(200);
        while threads_now().is_some_and(|now| now > before) && Instant::now() < until {
            std::thread::sleep(Duration::from_micros(100));
        }
    }
    match refused {
        Some(err) => Err(thread_refused(&err)),
        None => Ok(()),
    }
}

/// This process's threads the kernel still counts (Linux's
/// `/proc/self/status`); `None` where that cannot be read.
fn threads_now() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

thread_local! {
    /// Set while [`quietly`] runs: a panic then is caught there, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// `f()`, a panic in it caught and not printed (the panic hook prints before
/// any `catch_unwind` sees the panic). The quiet hook wraps the one in place
/// the first time it is needed, and passes every other panic on to it.
pub fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    static WRAPPED: Once = Once::new();
    WRAPPED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // `try_with`: a panic in a thread's last moments finds no flag.
            if !QUIET.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
    });
    QUIET.set(true);
    let out = std::panic::catch_unwind(AssertUnwindSafe(f));
    QUIET.set(false);
    out
}

// --- waits that let Ctrl-C in ------------------------------------------------

/// How often a blocking wait of the kit's attaches to let Ctrl-C raise (a
/// signal handler runs only when the main thread attaches and checks).
pub const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Poll `done` every 200 µs until it holds or `until` passes; whether it held.
pub fn wait_until(until: Instant, done: impl Fn() -> bool) -> bool {
    while !done() && Instant::now() < until {
        std::thread::sleep(Duration::from_micros(200));
    }
    done()
}

/// Wait, detached, until `done` holds (`Ok(true)`) or `deadline` passes
/// (`Ok(false)`), attaching every [`SIGNAL_CHECK`] to let Ctrl-C raise (a
/// signal handler runs only when the main thread attaches and checks).
pub fn wait_attentively(
    py: Python<'_>,
    deadline: Option<Instant>,
    done: impl Fn() -> bool + Send + Sync,
) -> PyResult<bool> {
    loop {
        let next = Instant::now() + SIGNAL_CHECK;
        let until = deadline.map_or(next, |deadline| deadline.min(next));
        if py.detach(|| wait_until(until, &done)) {
            return Ok(true);
        }
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            return Ok(false);
        }
        py.check_signals()?;
    }
}
