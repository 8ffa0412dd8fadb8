//! `Future`: asyncio's future written in Rust, a drop-in for `asyncio.Future`.
//!
//! Everything asyncio knows how to wait for is, in the end, a future: a box that
//! is empty (`PENDING`) until someone fills it (`FINISHED`, with a result or an
//! exception) or gives up on it (`CANCELLED`). Four duties make a class one:
//!
//! 1. **The state machine.** Each transition happens once; a second
//!    `set_result` raises `InvalidStateError`, and reading an empty box raises it
//!    too. `cancel()` is the one transition that quietly answers `False` instead.
//! 2. **Callbacks, scheduled, never called.** On completion every registered
//!    callback goes to `loop.call_soon(cb, fut, context=ctx)`, in the
//!    `contextvars.Context` it was registered from. Calling them inline would let
//!    a callback run inside `set_result`'s caller, half-way through its code.
//! 3. **The handshake with Task.** `await fut` steps [`FutureIter`]: while the
//!    future is pending, it sets `_asyncio_future_blocking = True` and yields the
//!    future itself. The Task sees a yielded object with that flag set, clears
//!    it, and adds its wake-up as a done callback. When the future completes, the
//!    wake-up steps the coroutine again, `FutureIter` finds the box full and
//!    returns the result. The flag is how a Task tells `await fut` (correct)
//!    from `yield fut` (a bug); `asyncio.isfuture` checks for it too.
//! 4. **No silent failures.** A future whose exception nobody ever read reports
//!    "exception was never retrieved" through the loop's exception handler when
//!    it is freed.
//!
//! Two Rust details a reader would get wrong:
//!
//! - **`__new__` builds an empty shell; `__init__` binds the loop**, as the C
//!   `asyncio.Future` does. That is what lets a Python subclass define its own
//!   `__init__` with other arguments and call `super().__init__(loop=...)`.
//!   Until `__init__` has run, the methods that need a loop raise
//!   `RuntimeError('Future object is not initialized.')`.
//! - **The lock is never held across Python code.** `gil_used = false` means the
//!   state needs its own lock (a [`StateLock`]: the GIL itself where there is
//!   one, a `Mutex` on free-threaded builds), and a callback's `__eq__`, a
//!   finished value's `__del__` or an import can all run arbitrary Python,
//!   which could come back to this future (a panic, where a `Mutex` would
//!   deadlock) or let another thread run. So every method reads or changes the
//!   state under the lock, lets go, and only then calls Python, and objects
//!   leaving the state are dropped after the guard.
//!
//! Why one file of ~950 lines: asyncio's Future is one contract, and CPython's
//! own future tests (run against this class) check it whole. The four duties
//! share one lock and one state, and `FutureIter` reads the state as the Task
//! handshake needs it; split apart, the pieces would import each other.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::exceptions::PyBaseException;
use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::{PyDict, PyGenericAlias, PyList, PyTuple, PyType};
use pyo3::{Borrowed, intern};
use smallvec::SmallVec;

use super::slots::{AmSend, Sent};
use super::vectorcall::{Call, Construct};
use crate::support::asyncio::{
    ReprOf, asyncio_repr, call_soon, caller_stack, cancelled_error, copy_context, default_loop,
    invalid_state, report_lost, thrown,
};
#[cfg(Py_3_14)]
use crate::support::c_future::CFuture;
use crate::support::finalize::{Dealloc, Finalize};
use crate::support::state_lock::{StateGuard, StateLock};
use crate::support::trashcan::Flat;

const NOT_INITIALIZED: &str = "Future object is not initialized.";
/// 3.15's answer to a second `__init__`, after the type's `%T` (module and qualified name).
const ALREADY_INITIALIZED: &str = "object is already initialized";
const RESULT_NOT_READY: &str = "Result is not ready.";
const EXCEPTION_NOT_SET: &str = "Exception is not set.";
const AWAIT_NOT_USED: &str = "await wasn't used with future";
const STOP_ITERATION_INTO_FUTURE: &str =
    "StopIteration interacts badly with generators and cannot be raised into a Future";
const INVALID_EXCEPTION: &str = "invalid exception object";
const LOG_TRACEBACK_ONLY_FALSE: &str = "_log_traceback can only be set to False";
const NEVER_RETRIEVED: &str = "exception was never retrieved";

/// Where a future is in its life; asyncio spells these as the strings below
/// (`fut._state`), which its `repr` helpers read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Pending,
    Cancelled,
    Finished,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Pending => "PENDING",
            State::Cancelled => "CANCELLED",
            State::Finished => "FINISHED",
        }
    }
}

/// A done callback and the context it runs in. The `id` lets
/// `remove_done_callback` remove exactly the entries it compared equal, even if
/// that comparison (arbitrary Python) added or removed others meanwhile.
struct Callback {
    id: u32,
    func: Py<PyAny>,
    context: Py<PyAny>,
}

type Callbacks = SmallVec<[Callback; 1]>;

/// Everything that changes, behind one lock.
struct Core {
    /// `None` until `__init__` has run.
    event_loop: Option<Py<PyAny>>,
    state: State,
    /// Released flat: a chain of futures, each the result of the next, is
    /// freed without deep recursion.
    result: Option<Flat>,
    exception: Option<Py<PyBaseException>>,
    /// The traceback at `set_exception` time: the first `result()` re-raises
    /// with it, so the traceback does not grow with each raise.
    exception_tb: Option<Py<PyAny>>,
    /// Inline up to one: a future nearly always has one callback (its task's
    /// wake-up, gather's), and a `Vec` would allocate it on the heap, where
    /// the collector's traversal then has one more cache line to fetch.
    callbacks: Callbacks,
    cancel_message: Option<Flat>,
    /// The `CancelledError` that cancelled a Task, kept so re-raising it keeps
    /// its traceback (set by Task subclasses; a plain future never sets it).
    cancelled_exc: Option<Py<PyAny>>,
    /// Where the future was made, recorded only when the loop is in debug mode.
    source_traceback: Option<Py<PyAny>>,
    /// Armed by `set_exception`, disarmed by reading the exception or cancelling:
    /// if still armed when the future is freed, the exception was lost.
    log_traceback: bool,
    /// The Task handshake flag (`_asyncio_future_blocking`), see the module doc.
    blocking: bool,
    /// The next callback's `id`: ids only need to be unique within one list,
    /// and a counter per future costs no atomic instruction, as a shared one
    /// would (a `u32` fits where the flags above leave room).
    next_callback_id: u32,
}

impl Core {
    fn new(event_loop: Option<Py<PyAny>>, source_traceback: Option<Py<PyAny>>) -> Self {
        Self {
            event_loop,
            state: State::Pending,
            result: None,
            exception: None,
            exception_tb: None,
            callbacks: Callbacks::new(),
            cancel_message: None,
            cancelled_exc: None,
            source_traceback,
            log_traceback: false,
            blocking: false,
            next_callback_id: 0,
        }
    }
}

/// A future in the sense of asyncio, written in Rust: a drop-in for
/// ``asyncio.Future``.
///
/// ``Future(*, loop=None)`` belongs to ``loop``, or else to the running loop
/// (else the current one, by asyncio's rules). It has the whole API:
/// ``result``, ``exception``, ``set_result``, ``set_exception``, ``done``,
/// ``cancelled``, ``cancel(msg=None)``, ``add_done_callback(fn, *, context=None)``,
/// ``remove_done_callback``, ``get_loop``; ``await`` and ``yield from`` work,
/// and ``asyncio.isfuture`` is true, so ``gather``, ``wait``, ``wait_for``,
/// ``shield`` and Tasks treat it exactly as an ``asyncio.Future``. Errors are
/// asyncio's own (``InvalidStateError``, ``CancelledError``). Like asyncio's,
/// it is not thread-safe in meaning (use ``loop.call_soon_threadsafe`` to
/// finish it from another thread), though it is safe in memory.
///
/// Cost: about a C future's. Awaiting one that is done finishes without a
/// ``StopIteration`` on 3.11 (its iterator has an ``am_send`` slot).
// From 3.14 a real subclass of asyncio's C Future (`crate::support::c_future`), so that
// `isinstance(fut, asyncio.Future)` holds and asyncio's call graph sees it; the
// C part also brings the instance dict and weak references. Before, a plain
// object with a dict and weak references of its own (real code sets
// attributes on futures and tasks, as asyncio's allow).
#[cfg_attr(
    Py_3_14,
    pyclass(frozen, subclass, extends = CFuture, module = "coroscope.awaitable")
)]
#[cfg_attr(
    not(Py_3_14),
    pyclass(frozen, subclass, dict, weakref, module = "coroscope.awaitable")
)]
pub struct Future {
    core: StateLock<Core>,
}

impl Future {
    fn core(&self, py: Python<'_>) -> StateGuard<'_, Core> {
        self.core.lock(py)
    }

    /// A future bound to no loop yet: what `__new__` makes, for `__init__` to
    /// bind (subclasses' `__new__` start from it too).
    pub(crate) fn shell() -> Self {
        Future {
            core: StateLock::new(Core::new(None, None)),
        }
    }

    /// What `__init__` does: belong to `event_loop` (`None`: asyncio's default
    /// loop), recording where the future was made if that loop is in debug mode.
    fn bind(&self, py: Python<'_>, event_loop: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let event_loop = match event_loop {
            Some(event_loop) if !event_loop.is_none() => event_loop,
            _ => default_loop(py)?,
        };
        let source_traceback = if event_loop
            .call_method0(intern!(py, "get_debug"))?
            .is_truthy()?
        {
            Some(caller_stack(py)?.unbind())
        } else {
            None
        };
        let mut core = self.core(py);
        if core.event_loop.is_none() {
            // The shell `__new__` just made: nothing to start over from.
            core.event_loop = Some(event_loop.unbind());
            core.source_traceback = source_traceback;
            return Ok(());
        }
        // Calling `__init__` again starts over, as asyncio's does; the old state
        // is freed after the lock is released.
        let fresh = Core::new(Some(event_loop.unbind()), source_traceback);
        let old = std::mem::replace(&mut *core, fresh);
        drop(core);
        drop(old);
        Ok(())
    }

    /// A pending future bound to `event_loop`, made from Rust.
    pub fn pending<'py>(event_loop: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Future>> {
        Bound::new(
            event_loop.py(),
            Future {
                core: StateLock::new(Core::new(Some(event_loop.clone().unbind()), None)),
            },
        )
    }

    /// A pending future with `_asyncio_future_blocking` already set, for Rust
    /// code to yield to a Task as `await` would (see [`FutureIter`]).
    pub fn waiter<'py>(event_loop: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Future>> {
        let waiter = Self::pending(event_loop)?;
        waiter.get().core(waiter.py()).blocking = true;
        Ok(waiter)
    }

    /// The state, or `RuntimeError` before `__init__` (what asyncio's
    /// attributes say of a future made with `Future.__new__` alone).
    fn initialized(&self, py: Python<'_>) -> PyResult<StateGuard<'_, Core>> {
        let core = self.core(py);
        if core.event_loop.is_none() {
            return Err(PyRuntimeError::new_err(NOT_INITIALIZED));
        }
        Ok(core)
    }

    /// Why a pending future has no result: `why`, or that `__init__` never
    /// ran (asyncio's `result()` and `exception()` tell the two apart).
    fn not_ready(&self, py: Python<'_>, why: &'static str) -> &'static str {
        if self.core(py).event_loop.is_none() {
            NOT_INITIALIZED
        } else {
            why
        }
    }

    fn event_loop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.core(py).event_loop {
            Some(event_loop) => Ok(event_loop.bind(py).clone()),
            None => Err(PyRuntimeError::new_err(NOT_INITIALIZED)),
        }
    }

    /// The one transition out of `PENDING`, under the lock: to `to`, with
    /// `fill` setting what goes with it. Gives the loop and the callbacks to
    /// run, or `None` if the future was not pending (nothing done).
    fn transition(
        &self,
        py: Python<'_>,
        to: State,
        fill: impl FnOnce(&mut Core),
    ) -> PyResult<Option<(Py<PyAny>, Callbacks)>> {
        let mut core = self.core(py);
        let Some(event_loop) = core.event_loop.as_ref().map(|l| l.clone_ref(py)) else {
            return Err(PyRuntimeError::new_err(NOT_INITIALIZED));
        };
        if core.state != State::Pending {
            return Ok(None);
        }
        core.state = to;
        fill(&mut core);
        Ok(Some((event_loop, std::mem::take(&mut core.callbacks))))
    }

    /// Move a pending future to `to` (see [`Future::transition`]), then
    /// schedule its callbacks. `Ok(false)` if it was not pending.
    fn complete(slf: &Bound<'_, Self>, to: State, fill: impl FnOnce(&mut Core)) -> PyResult<bool> {
        let py = slf.py();
        let Some((event_loop, callbacks)) = slf.get().transition(py, to, fill)? else {
            return Ok(false);
        };
        let event_loop = event_loop.bind(py);
        for callback in callbacks {
            call_soon(
                event_loop,
                callback.func.bind(py),
                slf.as_any(),
                callback.context.bind(py),
            )?;
        }
        Ok(true)
    }

    /// Finish a pending future with `None` and run its callbacks *now*, each in
    /// its context, instead of scheduling them: for code already running as a
    /// loop callback (the fast bridge's wake-up drain), this saves the extra
    /// loop iteration `call_soon` costs. Does nothing if it is already done
    /// (say, cancelled by its task meanwhile). A raising callback is reported
    /// through the loop's exception handler, as a scheduled one would be.
    pub fn finish_inline(slf: &Bound<'_, Self>) -> PyResult<()> {
        let py = slf.py();
        let Some((event_loop, callbacks)) = slf.get().transition(py, State::Finished, |_| {})?
        else {
            return Ok(());
        };
        for callback in callbacks {
            let ran = callback
                .context
                .bind(py)
                .call_method1(intern!(py, "run"), (callback.func.bind(py), slf));
            if let Err(err) = ran {
                let context = PyDict::new(py);
                context.set_item("message", "Exception in callback (coroscope fast wake-up)")?;
                context.set_item("exception", err.value(py))?;
                event_loop
                    .bind(py)
                    .call_method1(intern!(py, "call_exception_handler"), (context,))?;
            }
        }
        Ok(())
    }

    /// asyncio's message for finishing a future twice: `'<STATE>: <repr>'`.
    fn already_done(slf: &Bound<'_, Self>) -> PyErr {
        let state = slf.get().core(slf.py()).state.name();
        match slf.repr() {
            Ok(repr) => invalid_state(slf.py(), format!("{state}: {repr}")),
            Err(err) => err,
        }
    }

    /// The exception a cancelled future raises: the Task's saved one if there
    /// is one (used once, keeping its message and traceback), else a new
    /// `CancelledError(msg)`.
    fn cancelled_error<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (saved, message) = {
            let mut core = self.core(py);
            // A message of None is no message, as in asyncio's own
            // `_make_cancelled_error`: `CancelledError()`, not `CancelledError(None)`.
            let message = core
                .cancel_message
                .as_ref()
                .filter(|m| !m.is_none(py))
                .map(|m| m.clone_ref(py));
            (core.cancelled_exc.take(), message)
        };
        match saved {
            Some(exc) => Ok(exc.into_bound(py)),
            None => cancelled_error(py, message.as_ref().map(|m| m.bind(py))),
        }
    }

    /// Keep the `CancelledError` that cancelled a Task, so that raising it
    /// again keeps its traceback (what `task._cancelled_exc = exc` does).
    pub(crate) fn set_cancelled_exc(&self, py: Python<'_>, exc: Py<PyAny>) {
        let old = self.core(py).cancelled_exc.replace(exc);
        drop(old);
    }

    fn is_pending(&self, py: Python<'_>) -> bool {
        self.core(py).state == State::Pending
    }
}

#[pymethods]
impl Future {
    /// An empty shell; `__init__` binds it to a loop (see the module doc). Any
    /// arguments are accepted, as `object.__new__` accepts them for a
    /// subclass's own `__init__`.
    #[new]
    #[pyo3(signature = (*_args, **_kwargs), text_signature = "(*, loop=None)")]
    pub(crate) fn __new__(_args: &Bound<'_, PyTuple>, _kwargs: Option<&Bound<'_, PyDict>>) -> Self {
        Self::shell()
    }

    /// Belong to `loop`. Before 3.15 a second call starts the future over, as
    /// asyncio's does; from 3.15 asyncio refuses it, and so does this one.
    #[pyo3(signature = (*, r#loop = None))]
    pub(crate) fn __init__(
        slf: &Bound<'_, Self>,
        r#loop: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let initialized = slf.get().core(py).event_loop.is_some();
        if initialized && py.version_info() >= (3, 15) {
            return Err(PyRuntimeError::new_err(format!(
                "{} {ALREADY_INITIALIZED}",
                slf.get_type().fully_qualified_name()?
            )));
        }
        slf.get().bind(py, r#loop)
    }

    /// Return the result this future represents.
    ///
    /// Raises ``CancelledError`` if it was cancelled, ``InvalidStateError`` if
    /// it is not done yet, and the exception if one was set.
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let (state, result, exception) = {
            let mut core = self.core(py);
            if core.state == State::Finished {
                core.log_traceback = false;
            }
            let result = core.result.as_ref().map(|r| r.clone_ref(py));
            // Like the C future, the saved traceback is used once and let go:
            // the first re-raise starts from it, later ones from an empty one.
            let tb = core.exception_tb.take();
            let exception = core.exception.as_ref().map(|e| (e.clone_ref(py), tb));
            (core.state, result, exception)
        };
        match state {
            State::Cancelled => Err(PyErr::from_value(self.cancelled_error(py)?)),
            // Only a pending future can be uninitialized: asked here, off the
            // hot path, and said as asyncio says it here (not its RuntimeError).
            State::Pending => Err(invalid_state(py, self.not_ready(py, RESULT_NOT_READY))),
            State::Finished => match exception {
                Some((exception, tb)) => {
                    let exception = exception.bind(py);
                    exception.call_method1(intern!(py, "with_traceback"), (tb,))?;
                    Err(PyErr::from_value(exception.clone().into_any()))
                }
                None => Ok(result.unwrap_or_else(|| py.None())),
            },
        }
    }

    /// Return the exception that was set on this future, or ``None``.
    ///
    /// Raises ``CancelledError`` if it was cancelled, ``InvalidStateError`` if
    /// it is not done yet.
    fn exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyBaseException>>> {
        let (state, exception) = {
            let mut core = self.core(py);
            if core.state == State::Finished {
                core.log_traceback = false;
            }
            (core.state, core.exception.as_ref().map(|e| e.clone_ref(py)))
        };
        match state {
            State::Cancelled => Err(PyErr::from_value(self.cancelled_error(py)?)),
            State::Pending => Err(invalid_state(py, self.not_ready(py, EXCEPTION_NOT_SET))),
            State::Finished => Ok(exception),
        }
    }

    /// Mark the future done with ``result`` and schedule its callbacks.
    ///
    /// Raises ``InvalidStateError`` if it is already done.
    pub fn set_result(slf: &Bound<'_, Self>, result: Py<PyAny>) -> PyResult<()> {
        if Self::complete(slf, State::Finished, |core| {
            core.result = Some(Flat::new(result))
        })? {
            Ok(())
        } else {
            Err(Self::already_done(slf))
        }
    }

    /// Mark the future done with ``exception`` (an instance, or a class to
    /// instantiate) and schedule its callbacks.
    ///
    /// Raises ``InvalidStateError`` if it is already done, and ``TypeError`` for
    /// something that is not an exception. ``StopIteration`` would end the
    /// awaiting coroutine's iterator instead of raising in it: up to 3.12,
    /// asyncio refuses exactly ``StopIteration`` with ``TypeError``; from 3.13 it
    /// stores a ``RuntimeError`` caused by it (or by any subclass) instead. The
    /// future does what the running Python's asyncio does.
    pub(crate) fn set_exception(
        slf: &Bound<'_, Self>,
        exception: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let py = slf.py();
        if !slf.get().is_pending(slf.py()) {
            return Err(Self::already_done(slf));
        }
        let exception = if exception.is_instance_of::<PyType>() {
            exception.call0()?
        } else {
            exception
        };
        let exception = exception
            .cast_into::<PyBaseException>()
            .map_err(|_| PyTypeError::new_err(INVALID_EXCEPTION))?;
        if py.version_info() < (3, 13) && exception.get_type().is(py.get_type::<PyStopIteration>())
        {
            return Err(PyTypeError::new_err(STOP_ITERATION_INTO_FUTURE));
        }
        let exception =
            if py.version_info() >= (3, 13) && exception.is_instance_of::<PyStopIteration>() {
                let replaced = PyRuntimeError::new_err(STOP_ITERATION_INTO_FUTURE);
                replaced.set_cause(py, Some(PyErr::from_value(exception.clone().into_any())));
                replaced.set_context(py, Some(PyErr::from_value(exception.into_any())));
                replaced.into_value(py).into_bound(py)
            } else {
                exception
            };
        let tb = exception.getattr(intern!(py, "__traceback__"))?.unbind();
        let done = Self::complete(slf, State::Finished, |core| {
            core.exception = Some(exception.unbind());
            core.exception_tb = Some(tb);
            core.log_traceback = true;
        })?;
        if done {
            Ok(())
        } else {
            Err(Self::already_done(slf))
        }
    }

    /// Cancel the future and schedule its callbacks.
    ///
    /// Returns ``False`` if it was already done, ``True`` otherwise. ``msg``
    /// becomes the argument of the ``CancelledError`` its awaiters get.
    #[pyo3(signature = (msg = None))]
    pub fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        slf.get().core(slf.py()).log_traceback = false;
        Self::complete(slf, State::Cancelled, |core| {
            core.cancel_message = msg.map(Flat::new)
        })
    }

    /// Return True if the future was cancelled.
    fn cancelled(&self, py: Python<'_>) -> bool {
        self.core(py).state == State::Cancelled
    }

    /// Return True if the future is done (finished or cancelled).
    pub(crate) fn done(&self, py: Python<'_>) -> bool {
        !self.is_pending(py)
    }

    /// Add a callback to run when the future is done: ``fn(future)``, in
    /// ``context`` (default: a copy of the current one).
    ///
    /// If the future is already done, the callback is scheduled at once with
    /// ``loop.call_soon``.
    #[pyo3(signature = (r#fn, *, context = None))]
    fn add_done_callback(
        slf: &Bound<'_, Self>,
        r#fn: Bound<'_, PyAny>,
        context: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let context = match context {
            Some(context) if !context.is_none() => context,
            _ => copy_context(py)?,
        };
        let event_loop = {
            let mut core = slf.get().core(py);
            if core.state == State::Pending && core.event_loop.is_some() {
                let id = core.next_callback_id;
                core.next_callback_id = id.wrapping_add(1);
                core.callbacks.push(Callback {
                    id,
                    func: r#fn.unbind(),
                    context: context.unbind(),
                });
                return Ok(());
            }
            core.event_loop.as_ref().map(|l| l.clone_ref(py))
        };
        let Some(event_loop) = event_loop else {
            return Err(PyRuntimeError::new_err(NOT_INITIALIZED));
        };
        call_soon(event_loop.bind(py), &r#fn, slf.as_any(), &context)
    }

    /// Remove every registration of ``fn``; return how many were removed.
    fn remove_done_callback(&self, py: Python<'_>, r#fn: Bound<'_, PyAny>) -> PyResult<usize> {
        let snapshot: Vec<(u32, Py<PyAny>)> = {
            let core = self.core(py);
            if core.event_loop.is_none() {
                return Err(PyRuntimeError::new_err(NOT_INITIALIZED));
            }
            core.callbacks
                .iter()
                .map(|cb| (cb.id, cb.func.clone_ref(py)))
                .collect()
        };
        // `==` is Python code (it may even change this future's callbacks), so it
        // runs on a snapshot, outside the lock.
        let mut matched = Vec::new();
        for (id, func) in snapshot {
            if func.bind(py).eq(&r#fn)? {
                matched.push(id);
            }
        }
        let removed: Callbacks = {
            let mut core = self.core(py);
            let (removed, kept) = std::mem::take(&mut core.callbacks)
                .into_iter()
                .partition(|cb| matched.contains(&cb.id));
            core.callbacks = kept;
            removed
        };
        Ok(removed.len())
    }

    /// Return the event loop the future is bound to.
    pub fn get_loop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.event_loop(py)
    }

    /// The ``CancelledError`` to raise for this cancelled future (used by
    /// ``asyncio.gather``; asyncio's private API).
    pub(crate) fn _make_cancelled_error<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.cancelled_error(py)
    }

    fn __await__(slf: &Bound<'_, Self>) -> PyResult<FutureIter> {
        if slf.get().core(slf.py()).event_loop.is_none() {
            return Err(PyRuntimeError::new_err(NOT_INITIALIZED));
        }
        Ok(FutureIter::new(slf.clone().unbind()))
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<FutureIter> {
        Self::__await__(slf)
    }

    /// ``Future[T]`` for type hints, as ``asyncio.Future[T]``.
    #[classmethod]
    fn __class_getitem__<'py>(
        cls: &Bound<'py, PyType>,
        item: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyGenericAlias>> {
        PyGenericAlias::new(cls.py(), cls.as_any(), item)
    }

    /// asyncio's `Future.__del__`, which reports an exception never
    /// retrieved: what a subclass's own `__del__` calls through `super()` (a
    /// subclass that defines one without calling it gets no report, as in
    /// asyncio).
    fn __del__(slf: &Bound<'_, Self>) {
        <Self as Finalize>::finalize(slf);
    }

    fn __repr__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        asyncio_repr(slf.as_any(), ReprOf::Future)
    }

    // --- the attributes asyncio's own code and repr helpers read ------------

    #[getter]
    fn _asyncio_future_blocking(&self, py: Python<'_>) -> bool {
        self.core(py).blocking
    }

    #[setter(_asyncio_future_blocking)]
    fn set_blocking(&self, value: Bound<'_, PyAny>) -> PyResult<()> {
        let value_is_true = value.is_truthy()?;
        self.core(value.py()).blocking = value_is_true;
        Ok(())
    }

    #[getter]
    fn _log_traceback(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.initialized(py)?.log_traceback)
    }

    #[setter(_log_traceback)]
    fn set_log_traceback(&self, value: Bound<'_, PyAny>) -> PyResult<()> {
        if value.is_truthy()? {
            return Err(PyValueError::new_err(LOG_TRACEBACK_ONLY_FALSE));
        }
        self.core(value.py()).log_traceback = false;
        Ok(())
    }

    #[getter]
    fn _state(&self, py: Python<'_>) -> PyResult<&'static str> {
        Ok(self.initialized(py)?.state.name())
    }

    #[getter]
    fn _loop(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.core(py).event_loop.as_ref().map(|l| l.clone_ref(py))
    }

    #[getter]
    fn _result(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Ok(self
            .initialized(py)?
            .result
            .as_ref()
            .map(|r| r.clone_ref(py)))
    }

    #[getter]
    fn _exception(&self, py: Python<'_>) -> PyResult<Option<Py<PyBaseException>>> {
        Ok(self
            .initialized(py)?
            .exception
            .as_ref()
            .map(|e| e.clone_ref(py)))
    }

    #[getter]
    fn _callbacks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let pairs: Vec<(Py<PyAny>, Py<PyAny>)> = self
            .initialized(py)?
            .callbacks
            .iter()
            .map(|cb| (cb.func.clone_ref(py), cb.context.clone_ref(py)))
            .collect();
        PyList::new(py, pairs)
    }

    #[getter]
    pub(crate) fn _source_traceback(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.core(py)
            .source_traceback
            .as_ref()
            .map(|s| s.clone_ref(py))
    }

    #[getter]
    pub(crate) fn _cancel_message(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.core(py)
            .cancel_message
            .as_ref()
            .map(|m| m.clone_ref(py))
    }

    #[setter(_cancel_message)]
    pub(crate) fn set_cancel_message(&self, py: Python<'_>, message: Py<PyAny>) {
        let old = self.core(py).cancel_message.replace(Flat::new(message));
        drop(old);
    }

    // --- garbage collection: a done callback often refers back to its future --

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The collector runs while this thread may be inside one of the short
        // sections above (an allocation can trigger it): when the state is
        // held, not visiting only makes the collector keep objects it could
        // have freed this time round.
        // SAFETY: this is `__traverse__`, called by the collector.
        let Some(core) = (unsafe { self.core.try_lock_in_traverse() }) else {
            return Ok(());
        };
        visit.call(core.result.as_deref())?;
        visit.call(core.cancel_message.as_deref())?;
        for object in [
            &core.event_loop,
            &core.exception_tb,
            &core.cancelled_exc,
            &core.source_traceback,
        ] {
            visit.call(object)?;
        }
        visit.call(&core.exception)?;
        for callback in &core.callbacks {
            visit.call(&callback.func)?;
            visit.call(&callback.context)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::attach(|py| {
            // The state leaves the lock before it is dropped: dropping runs
            // Python code (a callback's `__del__`), which must not find it held.
            let old = std::mem::replace(&mut *self.core(py), Core::new(None, None));
            drop(old);
        });
    }
}

/// asyncio's `Future.__del__`: the "exception was never retrieved" report,
/// made once, to the future's loop, naming the future (see [`crate::support::finalize`]
/// for why a finalizer and not `Drop`).
impl Finalize for Future {
    fn finalize(slf: &Bound<'_, Self>) {
        let py = slf.py();
        // The report runs Python code (the loop's handler): what it needs
        // leaves the lock first, and the future is disarmed.
        let lost = {
            let mut core = slf.get().core(py);
            if !std::mem::take(&mut core.log_traceback) {
                return;
            }
            let copy = |object: &Option<Py<PyAny>>| object.as_ref().map(|o| o.clone_ref(py));
            match (&core.event_loop, &core.exception) {
                (Some(event_loop), Some(exception)) => (
                    event_loop.clone_ref(py),
                    exception.clone_ref(py),
                    copy(&core.source_traceback),
                ),
                _ => return,
            }
        };
        let (event_loop, exception, source_traceback) = lost;
        let class_name = match slf.get_type().name() {
            Ok(name) => name.to_string(),
            Err(_) => "Future".to_owned(),
        };
        report_lost(
            py,
            Some(&event_loop),
            &format!("{class_name} {NEVER_RETRIEVED}"),
            source_traceback.as_ref(),
            |context| {
                context.set_item("exception", exception.bind(py))?;
                context.set_item("future", slf)
            },
        );
    }

    fn own_dealloc() -> &'static OnceLock<Dealloc> {
        static OWN: OnceLock<Dealloc> = OnceLock::new();
        &OWN
    }
}

/// `Future()` and `Future(loop=loop)`, asyncio's own calls, made without
/// `type_call`'s tuple and dict and without parsing them twice (`__new__`, then
/// `__init__`): see [`super::vectorcall`]. Other calls take the ordinary route.
impl Construct for Future {
    fn construct<'py>(call: &Call<'_, 'py>) -> Option<PyResult<Bound<'py, PyAny>>> {
        let mut keywords = call.keywords();
        let event_loop = match (call.positional(), keywords.next(), keywords.next()) {
            (0, None, None) => None,
            (0, Some((name, value)), None) if is_loop(&name) => Some(value),
            _ => return None,
        };
        let py = call.py();
        let made = Bound::new(py, Future::shell()).and_then(|future| {
            future
                .get()
                .bind(py, event_loop.map(|l| l.to_owned()))
                .map(|()| future.into_any())
        });
        Some(made)
    }
}

/// Whether a keyword's name is `loop`. A call's keyword names are interned by
/// the compiler, so the pointer test almost always answers.
fn is_loop(name: &Borrowed<'_, '_, PyAny>) -> bool {
    let r#loop = intern!(name.py(), "loop");
    name.is(r#loop) || name.eq(r#loop).unwrap_or(false)
}

/// The iterator `await fut` steps: ``Future.__await__()`` returns one.
///
/// While the future is pending, the first step sets the future's
/// ``_asyncio_future_blocking`` and yields the future (the Task's cue to wait
/// for it). Once it is done, the next step returns its result (or raises).
// One is made per `await`, yet no `freelist` (the C future's iterator has one):
// PyO3 0.30's freelist hands a reused object back untracked by the cycle
// collector, and a cycle through an untracked object is never freed (CPython's
// `test_log_destroyed_pending_task` caught it).
#[pyclass(frozen, module = "coroscope.awaitable")]
pub struct FutureIter {
    future: Py<Future>,
    /// Set once the result has been returned: the iterator is exhausted.
    spent: AtomicBool,
}

impl FutureIter {
    /// The iterator for one `await future`.
    fn new(future: Py<Future>) -> Self {
        FutureIter {
            future,
            spent: AtomicBool::new(false),
        }
    }
}

impl AmSend for FutureIter {
    fn am_send<'py>(slf: &Bound<'py, Self>, _value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        let py = slf.py();
        let this = slf.get();
        if this.spent.load(Ordering::Acquire) {
            // Exhausted: finishes with None, as a spent generator's `next` does.
            return Ok(Sent::Return(py.None().into_bound(py)));
        }
        let future = this.future.bind(py);
        {
            let mut core = future.get().core(py);
            if core.state == State::Pending {
                // asyncio's C rule: yield while the flag is clear (a Task clears
                // it when it takes the future); stepped again with the flag still
                // set, nobody is waiting for the future, so it would never wake.
                if core.blocking {
                    return Err(PyRuntimeError::new_err(AWAIT_NOT_USED));
                }
                core.blocking = true;
                drop(core);
                return Ok(Sent::Yield(future.clone().into_any()));
            }
        }
        this.spent.store(true, Ordering::Release);
        Ok(Sent::Return(future.get().result(py)?.into_bound(py)))
    }
}

#[pymethods]
impl FutureIter {
    /// The cycle a pending await makes: task → coroutine → this iterator →
    /// future → its callbacks → the task's wake-up → task. Unseen, a task
    /// abandoned while it waits (its loop closed, say) would never be freed.
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.future)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Py<PyAny>>> {
        Self::am_send(slf, &slf.py().None().into_bound(slf.py()))?.into_next()
    }

    /// Step once; the value sent in is ignored, as asyncio's future ignores it.
    fn send(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Self::am_send(slf, &value)?.into_send()
    }

    /// Raise the given exception here, as generators' ``throw`` does, ending
    /// the iteration.
    #[pyo3(
        signature = (r#type, *rest),
        text_signature = "($self, type, value=None, traceback=None, /)"
    )]
    fn throw(&self, r#type: Bound<'_, PyAny>, rest: &Bound<'_, PyTuple>) -> PyResult<()> {
        let err = thrown(r#type, rest)?;
        self.close();
        Err(err)
    }

    /// End the iteration.
    fn close(&self) {
        self.spent.store(true, Ordering::Release);
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<Future>()?;
    crate::support::finalize::install::<Future>(py);
    // A future may report (or be shown in a report) as the interpreter exits,
    // when nothing can be imported any more.
    crate::support::asyncio::prepare_reports(py)?;
    m.add_class::<FutureIter>()?;
    super::slots::install_am_send::<FutureIter>(py)?;
    super::vectorcall::install_vectorcall::<Future>(py);
    Ok(())
}
