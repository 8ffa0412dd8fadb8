//! No thread of the kit is in the middle of its work at the instant the
//! process forks.
//!
//! `fork()` copies the whole memory but only the thread that forks. A lock
//! another thread held at that instant stays held in the child for ever, by a
//! thread that is not there. The lock that bit is PyO3's: a tokio worker that
//! drops a Python object while detached (pyo3-async-runtimes' task ending,
//! dropping its loop and future) pushes it on PyO3's list of decrefs to make
//! later, under a mutex. Forked at that instant, the child's first call into
//! the kit waits for that mutex for ever, with the GIL held: the child hangs
//! and nothing gets it back (now and then, on a loaded machine).
//!
//! So the kit's work on its own threads runs *inside* a gate: every poll of a
//! task the kit spawns on tokio ([`Gated`]), every blocking closure, the end
//! of a cook. A fork (`os.register_at_fork`'s `before`, which
//! [`super::runtime`] wires) [`close`]s the gate and waits, detached, until
//! no thread is inside; threads that arrive meanwhile wait at the gate until
//! it [`open`]s again, after the fork, in the parent and (with nobody left
//! inside) in the child.
//!
//! What a reader would get wrong: the gate is not a lock around the kit's
//! data; entering it is two atomic operations, and a thread waits only while
//! a fork is under way. And the fork's wait is bounded ([`FORK_WAIT`]): a
//! fork made while a poll runs a long computation goes ahead after it, as it
//! did before the gate existed.
//!
//! A leaf: it imports no lesson.

use std::cell::Cell;
use std::future::Future as RustFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// Threads inside the gate now (each counted once, however deep it nests).
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// Set from a fork's `before` until its `after`: arrivals wait.
static FORKING: AtomicBool = AtomicBool::new(false);

/// The longest a fork waits for the threads inside to come out.
pub const FORK_WAIT: Duration = Duration::from_secs(1);

/// How often a waiting thread looks again (at the gate, or for it to empty).
const LOOK_AGAIN: Duration = Duration::from_micros(50);

thread_local! {
    /// How deep this thread is inside: only the outermost entry counts in
    /// [`INSIDE`], so a thread already inside never waits at the gate.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Being inside the gate, until dropped.
pub struct Inside(());

/// Enter the gate (waiting while a fork is under way), until the guard drops.
pub fn enter() -> Inside {
    if DEPTH.get() == 0 {
        loop {
            // Counted first, then the flag read; the fork sets the flag, then
            // reads the count (both sequentially consistent): one of the two
            // sees the other, so no thread slips in unseen.
            INSIDE.fetch_add(1, Ordering::SeqCst);
            if !FORKING.load(Ordering::SeqCst) {
                break;
            }
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            while FORKING.load(Ordering::SeqCst) {
                wait_detached();
            }
        }
    }
    DEPTH.set(DEPTH.get() + 1);
    Inside(())
}

/// Wait a moment at the gate, never attached: the forking thread waits for
/// the gate to empty detached, and must attach again to fork. A thread that
/// took the interpreter meanwhile (a loop thread freeing an awaitable, whose
/// waker's drop enters the gate) and then waited here attached would hold it
/// from the forking thread for ever, and the fork would never come.
fn wait_detached() {
    if attached() {
        // SAFETY: `attached` just said this thread is attached.
        let py = unsafe { Python::assume_attached() };
        py.detach(|| std::thread::sleep(LOOK_AGAIN));
    } else {
        std::thread::sleep(LOOK_AGAIN);
    }
}

impl Drop for Inside {
    fn drop(&mut self) {
        let depth = DEPTH.get() - 1;
        DEPTH.set(depth);
        if depth == 0 {
            INSIDE.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Lock `mutex`, never waiting for it attached. A fork holds some of the
/// kit's locks (the runtime's state, the threads' count) from its `before`
/// hook to its `after` hook, and Python code that runs between the two
/// (another library's fork hook) may let go of the interpreter. A thread that
/// took the interpreter then and waited for such a lock attached would hold
/// it from the forking thread for ever, as at the gate. Uncontended, this is
/// one `try_lock`.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    let mut tries = 0u32;
    loop {
        match mutex.try_lock() {
            Ok(guard) => return guard,
            Err(TryLockError::Poisoned(poisoned)) => return poisoned.into_inner(),
            Err(TryLockError::WouldBlock) if !attached() => {
                return mutex.lock().unwrap_or_else(PoisonError::into_inner);
            }
            // Held for an instant, nearly always: spin a little first.
            Err(TryLockError::WouldBlock) if tries < 100 => std::hint::spin_loop(),
            Err(TryLockError::WouldBlock) => wait_detached(),
        }
        tries += 1;
    }
}

/// Whether this thread is attached to the interpreter now.
pub fn attached() -> bool {
    // SAFETY: `PyGILState_Check` only reads this thread's state (it is
    // reliable with no sub-interpreter, and PyO3 refuses to load this module
    // into one).
    unsafe { pyo3::ffi::PyGILState_Check() == 1 }
}

/// `f()`, inside the gate.
pub fn inside<T>(f: impl FnOnce() -> T) -> T {
    let _inside = enter();
    f()
}

/// `f()` inside the gate, or `None` without waiting while a fork is under
/// way: for what may be skipped (a recorder's note), on a thread that must
/// not wait.
pub fn inside_or_skip<T>(f: impl FnOnce() -> T) -> Option<T> {
    if DEPTH.get() == 0 {
        INSIDE.fetch_add(1, Ordering::SeqCst);
        if FORKING.load(Ordering::SeqCst) {
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        DEPTH.set(1);
        let _inside = Inside(());
        return Some(f());
    }
    Some(inside(f))
}

/// A future polled inside the gate, and dropped inside it (a task's last poll,
/// or its abort, is where it lets go of its Python objects).
pub struct Gated<F>(Option<Pin<Box<F>>>);

impl<F: RustFuture> Gated<F> {
    /// `fut`, gated.
    pub fn new(fut: F) -> Self {
        Gated(Some(Box::pin(fut)))
    }
}

impl<F: RustFuture> RustFuture for Gated<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _inside = enter();
        let fut = self
            .0
            .as_mut()
            .expect("a Gated future is not polled after it is ready");
        let out = fut.as_mut().poll(cx);
        if out.is_ready() {
            self.0 = None;
        }
        out
    }
}

impl<F> Drop for Gated<F> {
    fn drop(&mut self) {
        if self.0.is_some() {
            inside(|| self.0 = None);
        }
    }
}

/// A fork begins (attached, on the forking thread): close the gate and wait,
/// detached, until nobody but this thread is inside, or [`FORK_WAIT`] passes.
pub fn close(py: Python<'_>) {
    FORKING.store(true, Ordering::SeqCst);
    let own = usize::from(DEPTH.get() > 0);
    let until = Instant::now() + FORK_WAIT;
    py.detach(|| {
        while INSIDE.load(Ordering::SeqCst) > own && Instant::now() < until {
            std::thread::sleep(LOOK_AGAIN);
        }
    });
}

/// The fork is made, in the parent or in the child: open the gate. In the
/// child only the forking thread exists, so only it can be inside.
pub fn open(in_child: bool) {
    if in_child {
        INSIDE.store(usize::from(DEPTH.get() > 0), Ordering::SeqCst);
    }
    FORKING.store(false, Ordering::SeqCst);
}
