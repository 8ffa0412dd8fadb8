//! Rust drives Python coroutines by hand: what `await` does, one step at a time.
//!
//! A Python coroutine is an iterator with extra methods. `await x` does three
//! things, and this file does them from Rust:
//!
//! 1. **Find the iterator** ([`awaitable_iter`]): a coroutine is its own
//!    iterator; anything else must have an `__await__` that returns an iterator.
//! 2. **Step it** until it returns. Each step either *yields* (the coroutine is
//!    suspended and hands something to whoever drives it) or *returns* (it is
//!    done). There are two ways to take a step:
//!    - the classic way ([`await_foo`]): call `__next__`; a return arrives as a
//!      `StopIteration` exception whose `.value` is the result. Every finished
//!      await allocates, raises and catches that exception.
//!    - the fast way ([`drive_send`]): `PyIter_Send`, the C API that
//!      CPython's own `await` uses since 3.10. It reports "returned" with a flag
//!      and hands back the value directly: no exception object is made.
//! 3. **Serve what it yields.** A bare `yield` (`None`, as `asyncio.sleep(0)`
//!    yields) means "let others run, then resume me": a driver with nobody else
//!    to run resumes it at once. A pending `asyncio.Future` means "resume me when
//!    this completes", which only an event loop can arrange: these drivers stop
//!    with [`NEEDS_A_LOOP`]. Anything else is a bug in the coroutine, as it is
//!    for asyncio's Task.
//!
//! The tools for exploring one step at a time are in [`super::stepper`]; the
//! driver that *can* wait, asyncio's Task in Rust, is in [`super::task`].
//!
//! A reader would get wrong: a *step* here is one resumption of the coroutine,
//! so a coroutine that yields `k` times takes `k + 1` steps to finish.

use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::{ffi, intern};

use crate::support::asyncio::{
    call_method0_raised, not_awaitable, owned_or_raised, raised, type_name,
};
use crate::support::depth::Depth;

/// How many steps a driver takes before it decides a coroutine never finishes.
/// A million bare yields take well under a second through [`drive_send`], yet no
/// real coroutine driven without a loop yields that often.
pub const DEFAULT_MAX_STEPS: i64 = 1_000_000;

/// Raised when a coroutine yields a pending future to a driver that has no loop.
pub const NEEDS_A_LOOP: &str = "needs an event loop: it yielded a pending future, which only \
    an event loop can complete. Run it on a loop instead (asyncio.run, or a Task on a running loop)";

/// Raised when a coroutine yields something that is neither `None` nor a future.
pub const BAD_YIELD: &str = "yielded a value that is neither None (a bare yield) nor a future";

/// Raised when a coroutine is still suspended after `max_steps` steps.
pub const NEVER_FINISHES: &str = "did not finish";

/// `types.coroutine` marks a generator's code with this flag; `await` accepts
/// such a generator as it is (`CO_ITERABLE_COROUTINE` in CPython's `code.h`).
const CO_ITERABLE_COROUTINE: i64 = 0x100;

/// What one step of an awaitable's iterator produced.
pub enum Step<'py> {
    /// The coroutine is suspended and handed this object to its driver.
    Yield(Bound<'py, PyAny>),
    /// The coroutine finished with this value (`return value`).
    Return(Bound<'py, PyAny>),
}

// ---------------------------------------------------------------------------
// 1. Finding the iterator
// ---------------------------------------------------------------------------

/// Is `obj` a native coroutine (made by calling an `async def` function)?
pub(super) fn is_native_coroutine(obj: &Bound<'_, PyAny>) -> bool {
    // SAFETY: `obj` is a live object for the duration of the call; the check only
    // reads its type pointer.
    unsafe { ffi::PyCoro_CheckExact(obj.as_ptr()) != 0 }
}

/// Is `obj` a generator made awaitable by `types.coroutine`?
fn is_generator_coroutine(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    // SAFETY: as above.
    if unsafe { ffi::PyGen_CheckExact(obj.as_ptr()) } == 0 {
        return Ok(false);
    }
    let code = obj.getattr(intern!(obj.py(), "gi_code"))?;
    let flags: i64 = code.getattr(intern!(obj.py(), "co_flags"))?.extract()?;
    Ok(flags & CO_ITERABLE_COROUTINE != 0)
}

/// Is `obj` either kind of coroutine? Both are their own iterators under `await`,
/// and neither may come out of `__await__`.
fn is_coroutine(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(is_native_coroutine(obj) || is_generator_coroutine(obj)?)
}

/// Is `obj` a function whose call makes a coroutine (`async def`, or a generator
/// function decorated with `types.coroutine`)? The drivers call such a function
/// with no arguments, so that `await_foo(main)` works as well as `await_foo(main())`.
fn is_coroutine_function(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    static INSPECT: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let py = obj.py();
    let inspect = INSPECT
        .get_or_try_init(py, || py.import("inspect").map(Bound::unbind))?
        .bind(py);
    if inspect
        .call_method1("iscoroutinefunction", (obj,))?
        .is_truthy()?
    {
        return Ok(true);
    }
    if !inspect
        .call_method1("isgeneratorfunction", (obj,))?
        .is_truthy()?
    {
        return Ok(false);
    }
    match obj.getattr_opt(intern!(py, "__code__"))? {
        Some(code) => Ok(code.getattr("co_flags")?.extract::<i64>()? & CO_ITERABLE_COROUTINE != 0),
        None => Ok(false),
    }
}

/// The iterator that `await obj` steps, found by CPython's own rules
/// (`_PyCoro_GetAwaitableIter`), with the same errors:
///
/// - a coroutine (native or `types.coroutine`) is its own iterator;
/// - otherwise the type's `__await__` slot is called, and must return an
///   iterator that is not itself a coroutine;
/// - a coroutine *function* is called with no arguments first (a convenience of
///   this kit; `await` itself would reject it).
///
/// Looking the slot up on the type, not the instance, matters: `await` ignores an
/// `__await__` stored on an instance, and so does this.
pub fn awaitable_iter<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    if is_native_coroutine(obj) {
        // `await` refuses a coroutine that another driver has suspended mid-await:
        // stepping it from two places would interleave their sends. (CPython makes
        // this check for native coroutines only, and so does this.)
        if !obj.getattr(intern!(py, "cr_await"))?.is_none() {
            return Err(PyRuntimeError::new_err(
                "coroutine is being awaited already",
            ));
        }
        return Ok(obj.clone());
    }
    if is_generator_coroutine(obj)? {
        return Ok(obj.clone());
    }
    // SAFETY: `Py_TYPE` of a live object is a live type object; `tp_as_async` is
    // either null or points at the type's async slots, which live as long as the type.
    let am_await = unsafe {
        let async_slots = (*ffi::Py_TYPE(obj.as_ptr())).tp_as_async;
        if async_slots.is_null() {
            None
        } else {
            (*async_slots).am_await
        }
    };
    let Some(am_await) = am_await else {
        if is_coroutine_function(obj)? {
            return awaitable_iter(&obj.call0()?);
        }
        return Err(not_awaitable(obj));
    };
    // SAFETY: `am_await` is the type's own slot, called with an instance of that
    // type; it returns a new reference, or null with an exception set, which
    // `from_owned_ptr_or_err` turns into `Err`.
    let iter = unsafe { Bound::from_owned_ptr_or_err(py, am_await(obj.as_ptr())) }?;
    let coroutine = is_coroutine(&iter)?;
    // SAFETY: `iter` is a live object; `PyIter_Check` only reads its type.
    let iterator = unsafe { ffi::PyIter_Check(iter.as_ptr()) } != 0;
    if coroutine || !iterator {
        return Err(not_an_iterator(obj, &iter, coroutine)?);
    }
    Ok(iter)
}

/// The `TypeError` for an `__await__` that returned what cannot be stepped (a
/// coroutine, or no iterator at all), in the words of the running version:
/// 3.15 names both types, fully qualified, in one sentence.
fn not_an_iterator(
    obj: &Bound<'_, PyAny>,
    iter: &Bound<'_, PyAny>,
    coroutine: bool,
) -> PyResult<PyErr> {
    Ok(PyTypeError::new_err(
        if obj.py().version_info() >= (3, 15) {
            format!(
                "{}.__await__() must return an iterator, not {}",
                obj.get_type().fully_qualified_name()?,
                iter.get_type().fully_qualified_name()?
            )
        } else if coroutine {
            "__await__() returned a coroutine".to_owned()
        } else {
            format!(
                "__await__() returned non-iterator of type '{}'",
                type_name(iter)
            )
        },
    ))
}

// ---------------------------------------------------------------------------
// 2. Taking one step, both ways
// ---------------------------------------------------------------------------

/// The classic step: `iter.__next__()`. A return arrives as `StopIteration`,
/// whose `.value` is the result; the exception was created only to carry it.
/// Called through the C API, its error taken by [`raised`], as in each step
/// here: any exception the coroutine raises is passed on as it is (PyO3's own
/// call would turn a `PanicException` back into a Rust panic).
pub fn next_step<'py>(iter: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    let py = iter.py();
    match call_method0_raised(iter, intern!(py, "__next__")) {
        Ok(yielded) => Ok(Step::Yield(yielded)),
        Err(err) if err.is_instance_of::<PyStopIteration>(py) => {
            Ok(Step::Return(err.value(py).getattr(intern!(py, "value"))?))
        }
        Err(err) => Err(err),
    }
}

/// The fast step: `PyIter_Send(iter, value)`. A return is a status flag and the
/// value comes back in the out-pointer: no `StopIteration` is created for
/// coroutines, generators, or any type with an `am_send` slot.
pub fn send_step<'py>(iter: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    let py = iter.py();
    let mut result: *mut ffi::PyObject = std::ptr::null_mut();
    // SAFETY: both objects are live for the call, and `result` is a valid place for
    // the out-pointer. On NEXT and RETURN, `result` holds a new (owned) reference;
    // on ERROR it is left unset and an exception is set.
    let status = unsafe { ffi::PyIter_Send(iter.as_ptr(), value.as_ptr(), &mut result) };
    if status == ffi::PySendResult::PYGEN_ERROR {
        return Err(raised(py));
    }
    // SAFETY: on NEXT and RETURN, `result` is a new reference that we now own.
    let value = unsafe { Bound::from_owned_ptr(py, result) };
    Ok(match status {
        ffi::PySendResult::PYGEN_NEXT => Step::Yield(value),
        _ => Step::Return(value),
    })
}

/// Throw `exc` into `iter`, as generators do: with the iterator's own `throw`
/// when it has one, and by raising `exc` right here when it does not (what
/// `yield from` does for a plain iterator).
pub fn throw_step<'py>(iter: &Bound<'py, PyAny>, exc: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    let py = iter.py();
    let Some(throw) = iter.getattr_opt(intern!(py, "throw"))? else {
        return Err(PyErr::from_value(exc.clone()));
    };
    // SAFETY: as in `next_step`.
    match unsafe { owned_or_raised(py, ffi::PyObject_CallOneArg(throw.as_ptr(), exc.as_ptr())) } {
        Ok(yielded) => Ok(Step::Yield(yielded)),
        Err(err) if err.is_instance_of::<PyStopIteration>(py) => {
            Ok(Step::Return(err.value(py).getattr(intern!(py, "value"))?))
        }
        Err(err) => Err(err),
    }
}

// ---------------------------------------------------------------------------
// 3. Serving what the coroutine yields, and the drivers
// ---------------------------------------------------------------------------

/// Decide what a loop-less driver does with a yielded object: resume on a bare
/// `yield` (`None`), stop with a clear error on anything else.
fn serve_yield(yielded: &Bound<'_, PyAny>) -> PyResult<()> {
    if yielded.is_none() {
        return Ok(());
    }
    // `asyncio.isfuture`'s own test: the class declares `_asyncio_future_blocking`.
    let is_future = yielded
        .get_type()
        .getattr_opt(intern!(yielded.py(), "_asyncio_future_blocking"))?
        .is_some_and(|flag| !flag.is_none());
    let why = if is_future { NEEDS_A_LOOP } else { BAD_YIELD };
    Err(PyRuntimeError::new_err(format!(
        "coroutine {why}: {}",
        yielded.repr()?
    )))
}

/// Take up to `max_steps` steps with `step`, serving each yield, and return the
/// coroutine's result. Both drivers and [`trace`] are this loop; they differ only
/// in how one step is taken.
pub(super) fn run_to_completion<'py>(
    py: Python<'py>,
    max_steps: i64,
    mut step: impl FnMut() -> PyResult<Step<'py>>,
) -> PyResult<Bound<'py, PyAny>> {
    let max_steps = crate::support::args::count("max_steps", max_steps)?;
    if max_steps == 0 {
        return Err(PyValueError::new_err("max_steps must be at least 1"));
    }
    // Nested drives recurse through C: RecursionError, not a crash.
    let _depth = Depth::enter(py, c" while driving a coroutine")?;
    for _ in 0..max_steps {
        match step()? {
            Step::Return(value) => return Ok(value),
            Step::Yield(yielded) => serve_yield(&yielded)?,
        }
    }
    Err(PyRuntimeError::new_err(format!(
        "coroutine {NEVER_FINISHES} within max_steps={max_steps} steps; \
         pass a larger max_steps if it is meant to run that long"
    )))
}

/// Run an awaitable to completion the classic way: `__await__`, then `__next__`
/// until `StopIteration`, whose `.value` is returned.
///
/// ``obj`` may be a coroutine, a coroutine function (called with no arguments), a
/// ``types.coroutine`` generator, a done ``asyncio.Future`` or any object with
/// ``__await__``. Exceptions from the coroutine propagate unchanged. A bare
/// ``yield`` (``asyncio.sleep(0)``) is resumed at once; a pending future raises
/// ``RuntimeError`` (it needs an event loop), and so does a coroutine still
/// running after ``max_steps`` steps.
#[pyfunction]
#[pyo3(
    signature = (obj, /, *, max_steps = DEFAULT_MAX_STEPS),
    text_signature = "(obj, /, *, max_steps=1000000)"
)]
pub fn await_foo<'py>(obj: &Bound<'py, PyAny>, max_steps: i64) -> PyResult<Bound<'py, PyAny>> {
    let iter = awaitable_iter(obj)?;
    // A native coroutine has no `__next__`: it is stepped with `send`, or through
    // the wrapper its `__await__()` returns, which is what the classic way uses.
    let iter = if is_native_coroutine(&iter) {
        iter.call_method0(intern!(obj.py(), "__await__"))?
    } else {
        iter
    };
    run_to_completion(obj.py(), max_steps, || next_step(&iter))
}

/// Run an awaitable to completion the fast way, with ``PyIter_Send``.
///
/// Same contract as ``await_foo`` (same results, same exceptions, same steps), but
/// a finished coroutine reports its value directly instead of through a
/// ``StopIteration`` exception.
#[pyfunction]
#[pyo3(
    signature = (obj, /, *, max_steps = DEFAULT_MAX_STEPS),
    text_signature = "(obj, /, *, max_steps=1000000)"
)]
pub fn drive_send<'py>(obj: &Bound<'py, PyAny>, max_steps: i64) -> PyResult<Bound<'py, PyAny>> {
    let iter = awaitable_iter(obj)?;
    let none = obj.py().None().into_bound(obj.py());
    run_to_completion(obj.py(), max_steps, || send_step(&iter, &none))
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_MAX_STEPS", DEFAULT_MAX_STEPS)?;
    m.add_function(wrap_pyfunction!(await_foo, m)?)?;
    m.add_function(wrap_pyfunction!(drive_send, m)?)?;
    Ok(())
}
