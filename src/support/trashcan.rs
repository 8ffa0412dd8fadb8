//! Freeing deep chains without deep recursion: CPython's "trashcan", for the
//! Python objects that Rust fields hold and the Rust futures that capture them.
//!
//! `Ready(Ready(Ready(...)))` forty thousand deep is one `del` away from a
//! crash if each object's drop releases the next one in place: freeing the
//! outermost frees the next *inside* its own deallocation, and so on, one C
//! stack frame group per level, until the stack runs out. CPython guards its own
//! containers (lists, tuples, dicts) with a trashcan that parks objects past a
//! depth and frees them later from a shallow frame. [`Flat`] does the same for
//! a field: while one release is under way on a thread, any release nested in
//! it is parked in a list, and the outermost one frees the parked objects one
//! after another, so the depth of the stack never grows with the chain. The
//! same holds for `ready_awaitable(ready_awaitable(...))`: the value an
//! awaitable gives, and whatever its boxed Rust future captured, may be the
//! next awaitable of the chain, so both are held flat.
//!
//! A leaf module: it imports no lesson.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyType;

/// What a [`Flat`] may hold: anything whose drop may free Python objects, and so
/// nest one release inside another (a Python object, or a boxed Rust future
/// whose captures hold them).
pub trait Held: 'static {
    /// Letting go of this frees nothing, so no release can nest inside it and
    /// the bookkeeping may be skipped.
    fn frees_nothing(&self) -> bool {
        false
    }
}

impl Held for Py<PyAny> {
    fn frees_nothing(&self) -> bool {
        // Not the last reference (a small int, a shared value).
        // SAFETY: `self` is a live reference we own; reading its count is a load.
        unsafe { ffi::Py_REFCNT(self.as_ptr()) > 1 }
    }
}

/// A value held by a Rust field, released flat (see the module doc). Derefs to
/// what it holds.
pub struct Flat<T: Held = Py<PyAny>>(ManuallyDrop<T>);

impl<T: Held> Flat<T> {
    /// Hold `value`.
    pub fn new(value: T) -> Self {
        Flat(ManuallyDrop::new(value))
    }
}

impl<T: Held> Deref for Flat<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Held> DerefMut for Flat<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A `Flat` field reads as the object it holds (`#[pyo3(get)]` takes it).
impl<'a, 'py> IntoPyObject<'py> for &'a Flat {
    type Target = PyAny;
    type Output = Borrowed<'a, 'py, PyAny>;
    type Error = std::convert::Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        Ok(self.0.bind_borrowed(py))
    }
}

impl<T: Held> Drop for Flat<T> {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and the field is never used after drop.
        let value = unsafe { ManuallyDrop::take(&mut self.0) };
        if !value.frees_nothing() {
            release(value);
        }
    }
}

thread_local! {
    /// `Some(parked)` while a release is under way on this thread.
    static PARKED: RefCell<Option<Vec<Box<dyn Held>>>> = const { RefCell::new(None) };
}

/// Let go of `value`; if this thread is already inside a release, park it for
/// the outermost release to free.
fn release<T: Held>(value: T) {
    let first = PARKED.try_with(|parked| {
        let mut parked = parked.borrow_mut();
        match parked.as_mut() {
            Some(list) => {
                // Boxed only when parked: the outermost release drops in place.
                list.push(Box::new(value));
                None
            }
            None => {
                *parked = Some(Vec::new());
                Some(value)
            }
        }
    });
    let value = match first {
        Ok(Some(value)) => value,
        Ok(None) => return,
        // The thread is exiting and its storage is gone: the closure, and the
        // value with it, was dropped in place.
        Err(_) => return,
    };
    drop(value);
    while let Some(next) = PARKED.with(|parked| parked.borrow_mut().as_mut().and_then(Vec::pop)) {
        drop(next);
    }
    PARKED.with(|parked| *parked.borrow_mut() = None);
}

/// How deep one thread's guarded deallocations may nest before the next is
/// deferred: CPython's own trashcan used the same 50.
const DEALLOC_DEPTH: usize = 50;

/// The guarded type's own `tp_dealloc`, called from [`flat_dealloc`].
static ORIGINAL_DEALLOC: OnceLock<unsafe extern "C" fn(*mut ffi::PyObject)> = OnceLock::new();

/// Per thread: how deep guarded deallocations are nested, whether the
/// outermost one is draining, and the objects deferred (dead, count zero).
struct Deferred {
    depth: usize,
    draining: bool,
    objects: Vec<*mut ffi::PyObject>,
}

thread_local! {
    static DEFERRED: RefCell<Deferred> = const {
        RefCell::new(Deferred { depth: 0, draining: false, objects: Vec::new() })
    };
}

/// Give a type whose fields are not ours a trashcan: PyO3's `Coroutine` keeps a
/// `#[pyfunction] async fn`'s raw Python arguments in its future until it runs
/// (argument extraction happens inside), so a chain of never-run coroutines
/// frees one inside another's `tp_dealloc` however its arguments are typed.
/// The type's `tp_dealloc` is wrapped: past `DEALLOC_DEPTH` nested
/// deallocations on a thread, an object is deferred, not freed, and the
/// outermost deallocation frees the deferred ones from its shallow frame (as
/// CPython's trashcan does for lists and tuples; the object is not resurrected,
/// so reference tracers see one death).
///
/// Only one type may be guarded.
pub fn guard_dealloc(ty: &Bound<'_, PyType>) {
    let ty = ty.as_type_ptr();
    // SAFETY: `ty` is a live type object (we hold it). Only the GIL-holding
    // thread writes its slot, once; a heap type's slots are writable.
    unsafe {
        let Some(original) = (*ty).tp_dealloc else {
            return;
        };
        if original as *const () == flat_dealloc as *const () {
            return;
        }
        if ORIGINAL_DEALLOC.set(original).is_err() {
            panic!("guard_dealloc: one type only");
        }
        (*ty).tp_dealloc = Some(flat_dealloc);
    }
}

/// The wrapped `tp_dealloc` (see [`guard_dealloc`]).
unsafe extern "C" fn flat_dealloc(object: *mut ffi::PyObject) {
    let original = *ORIGINAL_DEALLOC.get().expect("set before the slot is");
    let deferred = DEFERRED.try_with(|d| {
        let mut d = d.borrow_mut();
        if d.depth >= DEALLOC_DEPTH {
            // A dead object must not meet the collector while it waits (the
            // original dealloc's own untrack is then a no-op).
            // SAFETY: `object` is a live allocation with a zero count; only a
            // GC type has the header untracking reads, and untracking an
            // untracked object does nothing.
            unsafe {
                if ffi::PyType_IS_GC(ffi::Py_TYPE(object)) != 0 {
                    ffi::PyObject_GC_UnTrack(object.cast());
                }
            }
            d.objects.push(object);
            return true;
        }
        d.depth += 1;
        false
    });
    match deferred {
        Ok(true) => return,
        // The thread is exiting: free in place, as CPython would.
        // SAFETY: called by CPython with a dead object of the guarded type.
        Err(_) => return unsafe { original(object) },
        Ok(false) => {}
    }
    // SAFETY: as above; the object is freed exactly once, here.
    unsafe { original(object) };
    let drain = DEFERRED.with(|d| {
        let mut d = d.borrow_mut();
        d.depth -= 1;
        let drain = d.depth == 0 && !d.draining;
        d.draining |= drain;
        drain
    });
    if !drain {
        return;
    }
    // Each deferred object is freed at depth zero, so the stack stays shallow;
    // a deallocation nested in this loop does not drain again (`draining`).
    while let Some(next) = DEFERRED.with(|d| d.borrow_mut().objects.pop()) {
        // SAFETY: `next` was deferred by this function: dead, of the guarded
        // type, and freed nowhere else.
        unsafe { flat_dealloc(next) };
    }
    DEFERRED.with(|d| d.borrow_mut().draining = false);
}
