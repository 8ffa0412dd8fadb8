//! `StateLock`: the lock around a pyclass's Rust state, which on a build with a
//! GIL is the GIL itself.
//!
//! A `frozen` pyclass of a `gil_used = false` module guards its own mutable
//! state, and a `std::sync::Mutex` does it correctly everywhere: at the cost of
//! two atomic read-modify-write instructions per critical section (`lock
//! cmpxchg` to take it, `xchg` to let go). Each drains the CPU's store buffer,
//! and the asyncio Future and Task take their lock a dozen times in a task's
//! life. Callgrind counts each as one instruction; a sampling profile of the
//! Rust Task on uvloop found most of `Future.get_loop`'s time on those two
//! instructions (`make bench-instructions` cannot see this: see
//! BENCHMARKS.md, "Where the time goes").
//!
//! On a build with a GIL those atomics guard against nothing the GIL does not
//! already: [`StateLock::lock`] takes a `Python<'py>` token, the proof that the
//! caller is attached, and attached means holding the GIL. So there the lock is
//! a flag beside the value, read and written with plain loads and stores. On a
//! free-threaded build (`Py_GIL_DISABLED`) it is the `Mutex` it replaces, since
//! attached threads run at once there.
//!
//! What a reader would get wrong:
//!
//! - **The flag is not something another thread waits on.** A thread sets it
//!   only while holding the GIL and clears it before it runs any Python code
//!   (the rule every user already keeps: no Python code under the lock; see
//!   `awaitable::future`), so no other thread can ever find it set. Finding it
//!   set means *this* thread came back in, where a `Mutex` would deadlock: it
//!   panics with [`LOCKED_TWICE`] instead, before a second reference exists.
//! - **`__traverse__` has no token** (PyO3 forbids attaching there), yet the
//!   collector that calls it holds the GIL: [`StateLock::try_lock_in_traverse`]
//!   is `unsafe` for that reason alone, and gives up when the state is held,
//!   since the collector can start inside a critical section (an allocation
//!   there triggers it), as `Mutex::try_lock` gave up before.
//! - **A guard cannot cross [`Python::detach`]**: it is neither `Send` nor
//!   `Sync`, so a closure that lets go of the GIL cannot capture it.
//!
//! A leaf module: it imports no lesson.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};

use pyo3::Python;

/// The panic of a thread that locks a state it already holds: a bug, a
/// deadlock under a `Mutex`.
pub const LOCKED_TWICE: &str = "a pyclass's state was locked again by the thread holding it";

/// A value only one attached thread may use at a time (see the module doc).
pub struct StateLock<T> {
    #[cfg(not(Py_GIL_DISABLED))]
    gil: gil::Lock<T>,
    #[cfg(Py_GIL_DISABLED)]
    mutex: std::sync::Mutex<T>,
}

/// The state, held: it is let go when this is dropped.
pub struct StateGuard<'a, T> {
    #[cfg(not(Py_GIL_DISABLED))]
    lock: &'a gil::Lock<T>,
    #[cfg(Py_GIL_DISABLED)]
    guard: std::sync::MutexGuard<'a, T>,
    /// Neither `Send` nor `Sync`: the guard stays on the thread that holds the
    /// GIL (the free-threaded `MutexGuard` is `!Send` already).
    _not_send: PhantomData<*const ()>,
}

impl<T> StateLock<T> {
    /// Guard `value`.
    pub fn new(value: T) -> Self {
        StateLock {
            #[cfg(not(Py_GIL_DISABLED))]
            gil: gil::Lock::new(value),
            #[cfg(Py_GIL_DISABLED)]
            mutex: std::sync::Mutex::new(value),
        }
    }

    /// Hold the state; `_py` proves this thread is attached.
    ///
    /// # Panics
    /// With [`LOCKED_TWICE`] when this thread holds it already.
    pub fn lock(&self, _py: Python<'_>) -> StateGuard<'_, T> {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            assert!(self.gil.take(), "{LOCKED_TWICE}");
            StateGuard {
                lock: &self.gil,
                _not_send: PhantomData,
            }
        }
        #[cfg(Py_GIL_DISABLED)]
        StateGuard {
            // A panic under the lock leaves a state that is still valid (each
            // update is a few field writes), so a poisoned lock is used as is.
            guard: self
                .mutex
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            _not_send: PhantomData,
        }
    }

    /// Hold the state from `__traverse__`, or `None` when it is held (the
    /// collector started inside one of our critical sections).
    ///
    /// # Safety
    /// Only from a pyclass's `__traverse__`: the collector calling it holds the
    /// GIL, which is what [`lock`](Self::lock)'s token proves elsewhere.
    pub unsafe fn try_lock_in_traverse(&self) -> Option<StateGuard<'_, T>> {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            self.gil.take().then_some(StateGuard {
                lock: &self.gil,
                _not_send: PhantomData,
            })
        }
        #[cfg(Py_GIL_DISABLED)]
        self.mutex.try_lock().ok().map(|guard| StateGuard {
            guard,
            _not_send: PhantomData,
        })
    }

    /// The state, through the exclusive reference that `Drop` has.
    pub fn get_mut(&mut self) -> &mut T {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            self.gil.get_mut()
        }
        #[cfg(Py_GIL_DISABLED)]
        self.mutex
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl<T> Deref for StateGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            // SAFETY: this guard set the flag and clears it only when dropped;
            // while it is set no other reference to the value is made (see
            // `gil::Lock`).
            unsafe { &*self.lock.value.get() }
        }
        #[cfg(Py_GIL_DISABLED)]
        &self.guard
    }
}

impl<T> DerefMut for StateGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        #[cfg(not(Py_GIL_DISABLED))]
        {
            // SAFETY: as for `deref`, and `&mut self` makes this the only use
            // of the guard.
            unsafe { &mut *self.lock.value.get() }
        }
        #[cfg(Py_GIL_DISABLED)]
        &mut self.guard
    }
}

#[cfg(not(Py_GIL_DISABLED))]
impl<T> Drop for StateGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

#[cfg(not(Py_GIL_DISABLED))]
mod gil {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// The flag and the value. The flag is an `AtomicBool` only so that reading
    /// it is never a data race in Rust's terms; `Relaxed` loads and stores
    /// compile to plain moves, with no read-modify-write (the GIL orders
    /// everything, and its own release and acquire publish the value).
    pub(super) struct Lock<T> {
        held: AtomicBool,
        pub(super) value: UnsafeCell<T>,
    }

    // SAFETY: the value is reached only through `take()`, which a caller makes
    // while holding the GIL (`StateLock::lock` needs a `Python` token;
    // `try_lock_in_traverse` runs in the collector) and whose guard cannot leave
    // the thread, or through `get_mut`'s exclusive reference. The GIL lets one
    // thread at a time do that, and the flag refuses a second reference on the
    // same thread. `T: Send` because the value is used from whichever thread
    // holds the GIL.
    unsafe impl<T: Send> Sync for Lock<T> {}

    impl<T> Lock<T> {
        pub(super) fn new(value: T) -> Self {
            Lock {
                held: AtomicBool::new(false),
                value: UnsafeCell::new(value),
            }
        }

        /// Set the flag; `false` when it was set already.
        pub(super) fn take(&self) -> bool {
            if self.held.load(Ordering::Relaxed) {
                return false;
            }
            self.held.store(true, Ordering::Relaxed);
            true
        }

        pub(super) fn release(&self) {
            self.held.store(false, Ordering::Relaxed);
        }

        pub(super) fn get_mut(&mut self) -> &mut T {
            self.value.get_mut()
        }
    }
}
