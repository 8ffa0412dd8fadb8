//! Freeing deep chains without deep recursion: CPython's "trashcan", for the
//! Python objects that Rust fields hold.
//!
//! `Ready(Ready(Ready(...)))` forty thousand deep is one `del` away from a
//! crash if each object's drop releases the next one in place: freeing the
//! outermost frees the next *inside* its own deallocation, and so on, one C
//! stack frame group per level, until the stack runs out. CPython guards its own
//! containers (lists, tuples, dicts) with a trashcan that parks objects past a
//! depth and frees them later from a shallow frame. [`Flat`] does the same for
//! a field: while one release is under way on a thread, any release nested in
//! it is parked in a list, and the outermost one frees the parked objects one
//! after another, so the depth of the stack never grows with the chain.
//!
//! A leaf module: it imports no lesson.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::ops::Deref;

use pyo3::prelude::*;

/// A Python object held by a Rust field, released flat (see the module doc).
/// Derefs to the `Py<PyAny>` it holds.
pub struct Flat(ManuallyDrop<Py<PyAny>>);

impl Flat {
    /// Hold `object`.
    pub fn new(object: Py<PyAny>) -> Self {
        Flat(ManuallyDrop::new(object))
    }
}

impl Deref for Flat {
    type Target = Py<PyAny>;

    fn deref(&self) -> &Py<PyAny> {
        &self.0
    }
}

impl Drop for Flat {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and the field is never used after drop.
        release(unsafe { ManuallyDrop::take(&mut self.0) });
    }
}

thread_local! {
    /// `Some(parked)` while a release is under way on this thread.
    static PARKED: RefCell<Option<Vec<Py<PyAny>>>> = const { RefCell::new(None) };
}

/// Let go of `object`; if this thread is already inside a release, park it for
/// the outermost release to free.
fn release(object: Py<PyAny>) {
    // Not the last reference (a small int, a shared value): letting it go frees
    // nothing, so no release can nest inside it and the bookkeeping is skipped.
    // SAFETY: `object` is a live reference we own; reading its count is a load.
    if unsafe { pyo3::ffi::Py_REFCNT(object.as_ptr()) } > 1 {
        drop(object);
        return;
    }
    let first = PARKED.try_with(|parked| {
        let mut parked = parked.borrow_mut();
        match parked.as_mut() {
            Some(list) => {
                list.push(object);
                None
            }
            None => {
                *parked = Some(Vec::new());
                Some(object)
            }
        }
    });
    let object = match first {
        Ok(Some(object)) => object,
        Ok(None) => return,
        // The thread is exiting and its storage is gone: the closure, and the
        // object with it, was dropped in place.
        Err(_) => return,
    };
    drop(object);
    while let Some(next) = PARKED.with(|parked| parked.borrow_mut().as_mut().and_then(Vec::pop)) {
        drop(next);
    }
    PARKED.with(|parked| *parked.borrow_mut() = None);
}
