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
//! [`Stepper`] exposes the steps one by one for exploration (with `throw` and
//! `close` as generators have them), and [`trace`] records every step of a run.
//!
//! [`Task`] (in [`task`]) is the driver that *can* wait: asyncio's Task, in
//! Rust, stepping the coroutine on a real event loop.
//!
//! A reader would get wrong: a *step* here is one resumption of the coroutine,
//! so a coroutine that yields `k` times takes `k + 1` steps to finish.

use std::sync::Mutex;
use std::time::Instant;

use pyo3::exceptions::{
    PyRecursionError, PyRuntimeError, PyStopIteration, PyTypeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::PyList;
use pyo3::{ffi, intern};

use crate::asyncio::{invalid_state, not_awaitable, type_name};

pub mod task;

pub use task::{Task, task_factory};

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
fn is_native_coroutine(obj: &Bound<'_, PyAny>) -> bool {
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
    if is_coroutine(&iter)? {
        return Err(PyTypeError::new_err("__await__() returned a coroutine"));
    }
    // SAFETY: `iter` is a live object; `PyIter_Check` only reads its type.
    if unsafe { ffi::PyIter_Check(iter.as_ptr()) } == 0 {
        return Err(PyTypeError::new_err(format!(
            "__await__() returned non-iterator of type '{}'",
            type_name(&iter)
        )));
    }
    Ok(iter)
}

// ---------------------------------------------------------------------------
// 2. Taking one step, both ways
// ---------------------------------------------------------------------------

/// The classic step: `iter.__next__()`. A return arrives as `StopIteration`,
/// whose `.value` is the result; the exception was created only to carry it.
pub fn next_step<'py>(iter: &Bound<'py, PyAny>) -> PyResult<Step<'py>> {
    let py = iter.py();
    match iter.call_method0(intern!(py, "__next__")) {
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
        return Err(PyErr::fetch(py));
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
    match throw.call1((exc,)) {
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
fn run_to_completion<'py>(
    py: Python<'py>,
    max_steps: i64,
    mut step: impl FnMut() -> PyResult<Step<'py>>,
) -> PyResult<Bound<'py, PyAny>> {
    let max_steps = crate::args::count("max_steps", max_steps)?;
    if max_steps == 0 {
        return Err(PyValueError::new_err("max_steps must be at least 1"));
    }
    let _depth = Depth::enter(py)?;
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

/// One level of driving, counted like a Python call: a coroutine that drives
/// another from inside (nested `await_foo`) recurses through C, and each level
/// costs C stack that a raised recursion limit does not make larger. Entering
/// checks Python's depth counter (`Py_EnterRecursiveCall`) and the stack that is
/// really left, so deep nesting raises `RecursionError` instead of crashing.
struct Depth;

/// Stack kept free below the deepest drive: one more level of nesting (our
/// frames, the interpreter's, the coroutine's own C calls) needs far less.
const STACK_RESERVE: usize = 256 * 1024;

/// What a drive raises when the C stack is nearly used up.
const STACK_EXHAUSTED: &str =
    "maximum recursion depth exceeded while driving a coroutine (the C stack is nearly used up)";

impl Depth {
    fn enter(py: Python<'_>) -> PyResult<Depth> {
        // SAFETY: attached (we hold `py`); the string is NUL-terminated and
        // static. On failure RecursionError is set and the depth is unchanged.
        if unsafe { ffi::Py_EnterRecursiveCall(c" while driving a coroutine".as_ptr()) } != 0 {
            return Err(PyErr::fetch(py));
        }
        let depth = Depth;
        if stacker::remaining_stack().is_some_and(|left| left < STACK_RESERVE) {
            return Err(PyRecursionError::new_err(STACK_EXHAUSTED));
        }
        Ok(depth)
    }
}

impl Drop for Depth {
    fn drop(&mut self) {
        // SAFETY: pairs with the successful `Py_EnterRecursiveCall` in `enter`,
        // on the same thread, still attached (a `Depth` never leaves the drive).
        unsafe { ffi::Py_LeaveRecursiveCall() }
    }
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

// ---------------------------------------------------------------------------
// Watching the steps: StepRecord, trace, Stepper
// ---------------------------------------------------------------------------

/// One step of a coroutine: what went in, what came out, and how long it took.
///
/// ``action`` is ``"send"``, ``"throw"`` or ``"close"``; ``sent`` is the value sent
/// or the exception thrown. ``outcome`` is ``"yield"``, ``"return"`` or ``"raise"``,
/// and ``value`` is what was yielded, returned or raised. ``ns`` is the wall time
/// of the step in nanoseconds.
#[pyclass(frozen, get_all, module = "coroscope.await_from_rust")]
pub struct StepRecord {
    /// 1 for the first step.
    index: u64,
    action: &'static str,
    sent: Py<PyAny>,
    outcome: &'static str,
    value: Py<PyAny>,
    ns: u64,
}

#[pymethods]
impl StepRecord {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.sent)?;
        visit.call(&self.value)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<step {}: {} {} -> {} {}>",
            self.index,
            self.action,
            self.sent.bind(py).repr()?,
            self.outcome,
            self.value.bind(py).repr()?
        ))
    }
}

/// Take one step of `iter` and describe it. A raise is an outcome here, not an
/// error: it is returned in the record, and again as `Err` for the caller to pass on.
fn recorded_step<'py>(
    iter: &Bound<'py, PyAny>,
    index: u64,
    action: &'static str,
    sent: &Bound<'py, PyAny>,
    step: impl FnOnce() -> PyResult<Step<'py>>,
) -> (StepRecord, PyResult<Step<'py>>) {
    let py = iter.py();
    let started = Instant::now();
    let result = step();
    let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let (outcome, value) = match &result {
        Ok(Step::Yield(v)) => ("yield", v.clone().unbind()),
        Ok(Step::Return(v)) => ("return", v.clone().unbind()),
        Err(err) => ("raise", err.value(py).clone().into_any().unbind()),
    };
    let record = StepRecord {
        index,
        action,
        sent: sent.clone().unbind(),
        outcome,
        value,
        ns,
    };
    (record, result)
}

/// Run an awaitable to completion with ``drive_send`` and return every step as a
/// ``StepRecord`` (for tables and plots).
///
/// An exception raised by the coroutine is recorded as the last step, not raised.
/// A driver error (a pending future, a bad yield, ``max_steps`` exceeded) is
/// raised as ``drive_send`` raises it.
#[pyfunction]
#[pyo3(
    signature = (obj, /, *, max_steps = DEFAULT_MAX_STEPS),
    text_signature = "(obj, /, *, max_steps=1000000)"
)]
pub fn trace<'py>(obj: &Bound<'py, PyAny>, max_steps: i64) -> PyResult<Bound<'py, PyList>> {
    let py = obj.py();
    let iter = awaitable_iter(obj)?;
    let none = py.None().into_bound(py);
    let mut records = Vec::new();
    let mut coroutine_raised = false;
    let outcome = run_to_completion(obj.py(), max_steps, || {
        let (record, result) =
            recorded_step(&iter, records.len() as u64 + 1, "send", &none, || {
                send_step(&iter, &none)
            });
        coroutine_raised = result.is_err();
        records.push(record);
        result
    });
    match outcome {
        Err(err) if !coroutine_raised => Err(err),
        _ => PyList::new(py, records),
    }
}

/// Where a [`Stepper`]'s coroutine stands.
enum State {
    Suspended,
    Returned(Py<PyAny>),
    Raised(PyErr),
    Closed,
}

/// What a [`Stepper`] has seen. Behind a mutex because the module declares it
/// runs without the GIL: the lock is never held while Python code runs, so a
/// coroutine that touches its own Stepper cannot deadlock (it gets the
/// coroutine's own "already executing" error instead).
struct Log {
    state: State,
    history: Vec<Py<StepRecord>>,
}

/// Step a coroutine by hand, for exploration (in Jupyter, say).
///
/// ``Stepper(obj)`` accepts whatever ``await_foo`` accepts. ``send``, ``throw`` and
/// ``close`` behave as a generator's do: ``send`` returns what the coroutine
/// yielded and raises ``StopIteration(value)`` when it returns; ``throw(exc)``
/// raises ``exc`` at the suspended ``await``; ``close()`` throws ``GeneratorExit``
/// so ``finally`` blocks run. ``step()`` is ``send(None)`` that never raises: it
/// returns the ``StepRecord``. ``history`` lists every step taken.
#[pyclass(frozen, module = "coroscope.await_from_rust")]
pub struct Stepper {
    /// The awaitable's iterator; a coroutine itself when `obj` was one, so that
    /// `send` takes the fast path and `cr_await`/`cr_frame` stay inspectable.
    iter: Py<PyAny>,
    log: Mutex<Log>,
}

impl Stepper {
    /// Lock the log. A poisoned lock only means a panic elsewhere while recording;
    /// the log itself is always consistent, so it is used as it is.
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take one step (send, throw or close), record it, and update the state.
    fn take<'py>(
        &self,
        py: Python<'py>,
        action: &'static str,
        sent: &Bound<'py, PyAny>,
        step: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<Step<'py>>,
    ) -> PyResult<(Py<StepRecord>, PyResult<Step<'py>>)> {
        let iter = self.iter.bind(py);
        let index = self.log().history.len() as u64 + 1;
        let (record, result) = recorded_step(iter, index, action, sent, || step(iter));
        // Allocating the record runs no Python code; do it before taking the lock.
        let record = Py::new(py, record)?;
        let state = match &result {
            Ok(Step::Yield(_)) => State::Suspended,
            Ok(Step::Return(value)) if action == "close" && value.is_none() => State::Closed,
            Ok(Step::Return(value)) => State::Returned(value.clone().unbind()),
            Err(err) if action == "close" && is_close_signal(py, err) => State::Closed,
            // Refused without running (a value sent into a just-started
            // coroutine, a throw of something that is no exception): CPython
            // leaves the coroutine as it was, unstarted and closable.
            Err(_) if has_live_frame(iter)? => State::Suspended,
            Err(err) => State::Raised(err.clone_ref(py)),
        };
        let replaced = {
            let mut log = self.log();
            log.history.push(record.clone_ref(py));
            // Once done, the outcome stays: a later send or throw only bounces off
            // the finished coroutine (and is still recorded in the history).
            if matches!(log.state, State::Suspended) {
                std::mem::replace(&mut log.state, state)
            } else {
                state
            }
        };
        // Dropping a state may run `__del__` code: do it outside the lock.
        drop(replaced);
        Ok((record, result))
    }

    /// Hand a step's result to Python with generator semantics.
    fn as_generator_result<'py>(result: PyResult<Step<'py>>) -> PyResult<Bound<'py, PyAny>> {
        match result? {
            Step::Yield(yielded) => Ok(yielded),
            Step::Return(value) => Err(PyStopIteration::new_err((value.unbind(),))),
        }
    }
}

/// Whether `iter` is a coroutine or generator whose frame still exists: it has
/// not finished, whatever the step that just failed. Other iterators have no
/// frame to ask, and a failed step ends them.
fn has_live_frame(iter: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = iter.py();
    for frame in [intern!(py, "cr_frame"), intern!(py, "gi_frame")] {
        if let Some(frame) = iter.getattr_opt(frame)? {
            return Ok(!frame.is_none());
        }
    }
    Ok(false)
}

/// `close()` succeeded if the coroutine let `GeneratorExit` (or, having caught
/// it, a `StopIteration`) out: that is how CPython's `gen_close` judges it.
fn is_close_signal(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<pyo3::exceptions::PyGeneratorExit>(py)
        || err.is_instance_of::<PyStopIteration>(py)
}

#[pymethods]
impl Stepper {
    #[new]
    fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            iter: awaitable_iter(obj)?.unbind(),
            log: Mutex::new(Log {
                state: State::Suspended,
                history: Vec::new(),
            }),
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.iter)?;
        // The collector may run while this thread holds the log (an
        // allocation can trigger it): not visiting only delays a collection.
        let Ok(log) = self.log.try_lock() else {
            return Ok(());
        };
        if let State::Returned(value) = &log.state {
            visit.call(value)?;
        }
        for record in &log.history {
            visit.call(record)?;
        }
        Ok(())
    }

    /// Resume the coroutine with ``value`` (``None`` for the first step); return
    /// what it yields, or raise ``StopIteration(result)`` when it returns.
    fn send<'py>(&self, py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (_, result) = self.take(py, "send", &value, |iter| send_step(iter, &value))?;
        Self::as_generator_result(result)
    }

    /// Raise ``exc`` (an exception instance or class) inside the coroutine, at the
    /// ``await`` where it is suspended; return what it yields next, raise
    /// ``StopIteration(result)`` if it returns, or let the exception out.
    fn throw<'py>(&self, py: Python<'py>, exc: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (_, result) = self.take(py, "throw", &exc, |iter| throw_step(iter, &exc))?;
        Self::as_generator_result(result)
    }

    /// Throw ``GeneratorExit`` in so that ``finally`` blocks run, as
    /// ``generator.close()`` does. A coroutine that yields instead of exiting raises
    /// ``RuntimeError`` and stays suspended; a closed or finished one is left alone.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if !matches!(self.log().state, State::Suspended) {
            return Ok(());
        }
        let exit = py
            .get_type::<pyo3::exceptions::PyGeneratorExit>()
            .into_any();
        let iter_has_close = self.iter.bind(py).hasattr(intern!(py, "close"))?;
        let (_, result) = self.take(py, "close", &exit, |iter| {
            if iter_has_close {
                throw_step(iter, &exit)
            } else {
                // A plain iterator has nothing to clean up: closing it just ends it.
                Ok(Step::Return(py.None().into_bound(py)))
            }
        })?;
        match result {
            Ok(Step::Yield(_)) => {
                let kind = if is_native_coroutine(self.iter.bind(py)) {
                    "coroutine"
                } else {
                    "generator"
                };
                Err(PyRuntimeError::new_err(format!(
                    "{kind} ignored GeneratorExit"
                )))
            }
            Ok(Step::Return(_)) => Ok(()),
            Err(err) if is_close_signal(py, &err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Take one step with ``send(None)`` and return its ``StepRecord``; never raises
    /// what the coroutine raises (the record holds it).
    fn step(&self, py: Python<'_>) -> PyResult<Py<StepRecord>> {
        let none = py.None().into_bound(py);
        Ok(self
            .take(py, "send", &none, |iter| send_step(iter, &none))?
            .0)
    }

    /// How many steps have been taken (sends, throws and closes).
    #[getter]
    fn steps(&self) -> u64 {
        self.log().history.len() as u64
    }

    /// Every step taken so far, as ``StepRecord`` objects.
    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let history: Vec<_> = self.log().history.iter().map(|r| r.clone_ref(py)).collect();
        PyList::new(py, history)
    }

    /// ``True`` once the coroutine has returned, raised or been closed.
    #[getter]
    fn done(&self) -> bool {
        !matches!(self.log().state, State::Suspended)
    }

    /// The coroutine's return value. Raises what the coroutine raised, or
    /// ``asyncio.InvalidStateError`` if it is still suspended.
    #[getter]
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.log().state {
            State::Returned(value) => Ok(value.clone_ref(py)),
            State::Raised(err) => Err(err.clone_ref(py)),
            State::Closed => Ok(py.None()),
            State::Suspended => Err(invalid_state(py, "coroutine is still suspended")),
        }
    }

    /// The exception the coroutine raised, or ``None`` if it returned or was
    /// closed. Raises ``asyncio.InvalidStateError`` if it is still suspended.
    #[getter]
    fn exception(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.log().state {
            State::Raised(err) => Ok(err.value(py).clone().into_any().unbind()),
            State::Returned(_) | State::Closed => Ok(py.None()),
            State::Suspended => Err(invalid_state(py, "coroutine is still suspended")),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let iter = self.iter.bind(py);
        let name = match iter.getattr_opt(intern!(py, "__qualname__"))? {
            Some(name) => format!("{} {}", type_name(iter), name),
            None => type_name(iter),
        };
        let log = self.log();
        let state = match &log.state {
            State::Suspended => match log.history.last() {
                Some(last) => format!(
                    "suspended, last yielded {}",
                    last.get().value.bind(py).repr()?
                ),
                None => "not started".to_owned(),
            },
            State::Returned(value) => format!("returned {}", value.bind(py).repr()?),
            State::Raised(err) => format!("raised {}", err.value(py).repr()?),
            State::Closed => "closed".to_owned(),
        };
        Ok(format!(
            "<Stepper {name} steps={} {state}>",
            log.history.len()
        ))
    }
}

/// Drive Python coroutines from Rust: by hand with ``await_foo`` (``__next__`` and
/// ``StopIteration``), ``drive_send`` (``PyIter_Send``), ``Stepper`` and ``trace``;
/// on an event loop with ``Task``, asyncio's Task written in Rust.
#[pymodule(submodule)]
pub fn await_from_rust(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_MAX_STEPS", DEFAULT_MAX_STEPS)?;
    m.add_function(wrap_pyfunction!(await_foo, m)?)?;
    m.add_function(wrap_pyfunction!(drive_send, m)?)?;
    m.add_function(wrap_pyfunction!(trace, m)?)?;
    m.add_class::<Stepper>()?;
    m.add_class::<StepRecord>()?;
    task::register(m)?;
    Ok(())
}
