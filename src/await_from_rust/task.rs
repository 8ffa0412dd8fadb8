//! `Task`: asyncio's Task written in Rust, the driver that can wait.
//!
//! The drivers above stop at the first pending future, because waiting needs
//! an event loop. A Task is the piece that waits: it steps its coroutine (with
//! `PyIter_Send`), looks at what the coroutine yielded, and arranges the next
//! step. Step by step, as asyncio's own Task does:
//!
//! 1. **Schedule.** The constructor asks the loop to run the first step soon
//!    (`loop.call_soon(step, context=ctx)`), so every step runs inside the task's
//!    own `contextvars.Context`, and registers the task (`all_tasks()`).
//! 2. **Step.** Mark the task current (`current_task()` is what
//!    `asyncio.timeout`, `TaskGroup` and anyio look at), send `None` in (or
//!    throw the exception the last wake-up brought), mark it not current.
//! 3. **Read what came out:**
//!    - it *returned* → the task's result; it *raised* → the task's exception
//!      (`CancelledError` → the task is cancelled);
//!    - it yielded a *future* (an object with `_asyncio_future_blocking`): check
//!      it belongs to our loop, clear the flag ("I, the Task, take it"), and
//!      register the task's `_wakeup` as its done callback;
//!    - it yielded `None` → step again on the next loop iteration;
//!    - anything else is a bug: the next step throws asyncio's `RuntimeError`.
//! 4. **Wake up.** When the awaited future completes, `_wakeup` steps the
//!    coroutine again, sending its result in, or throwing its exception.
//!
//! Cancellation, which a reader is most likely to get wrong: `cancel()` does
//! not stop anything by itself. If the task is waiting on a future, it cancels
//! that future (whose completion wakes the task, which then throws
//! `CancelledError` into the coroutine); otherwise it sets `must_cancel`, and
//! the next step throws `CancelledError` in. The coroutine may catch it: a
//! Task is only cancelled when `CancelledError` comes out of the coroutine.
//! `cancelling()` counts requests; `uncancel()` takes one back (how
//! `asyncio.timeout` turns its own cancellation into `TimeoutError`).
//!
//! **Eager start** (3.12+, `Task(coro, eager_start=True)`, what
//! `asyncio.eager_task_factory` asks for): the first step runs right inside the
//! constructor, on the caller's stack, instead of one loop iteration later. A
//! coroutine that finishes without suspending never touches the loop: no
//! `call_soon`, no registration; it is done before `create_task` returns.
//! Read `Task::eager_start` for what the task swaps while it runs.
//!
//! Versions: the task follows the asyncio it runs on. `eager_start` is refused
//! before 3.12, as asyncio's Task refuses the keyword; from 3.13 `uncancel()`
//! reaching zero also forgets a pending `cancel()` (`must_cancel`); from 3.14
//! the task tells asyncio which future it awaits (`future_add_to_awaited_by`,
//! what `asyncio.capture_call_graph` reads); from 3.15 a second `__init__` and
//! a `context=` that is not a `Context` are refused.
//!
//! The task is a [`Future`] subclass: its completion is the future's, and all
//! of asyncio's rules for futures (callbacks, `await`, repr) come with it.
//!
//! Why one file of ~1,000 lines: it is one class whose steps, wake-up and
//! cancellation share one state, checked whole by CPython's own Task tests
//! (`BaseTaskTests`, run against it); the step loop reads top to bottom.

use std::collections::HashSet;
use std::ffi::CStr;
use std::sync::OnceLock;

use pyo3::exceptions::{PyRecursionError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PyString, PyTuple};
use pyo3::{ffi, intern};

use super::drive::{Step, send_step, throw_step};
use crate::awaitable::Future;
use crate::support::asyncio::{
    ReprOf, asyncio_repr, call_method0_raised, call_with_context, cancelled_error_type,
    copy_context, invalid_state, report_lost, stops_the_program,
};
use crate::support::depth::Depth;
use crate::support::finalize::{self, Dealloc, Finalize};
use crate::support::state_lock::{StateGuard, StateLock};
use crate::support::timeline;

const NOT_A_COROUTINE: &str = "a coroutine was expected, got";
const NOT_A_CONTEXT: &str = "a contextvars.Context was expected, got";
const NO_SET_RESULT: &str = "Task does not support set_result operation";
const NO_SET_EXCEPTION: &str = "Task does not support set_exception operation";
const DESTROYED_PENDING: &str = "Task was destroyed but it is pending!";
/// Cancelling tasks that await each other in a ring: the C Task's recursion
/// ends the same way, in CPython's words (3.11-3.13).
const CANCEL_RING: &str = "maximum recursion depth exceeded while calling a Python object";
/// What CPython adds to "maximum recursion depth exceeded" for a method call.
const CALLING: &CStr = c" while calling a Python object";
const NOT_INITIALIZED: &str = "Task object is not initialized.";
/// What Python says for the keyword on 3.11, whose Task lacks it.
const NO_EAGER_START: &str = "Task.__init__() got an unexpected keyword argument 'eager_start'";

/// What a Task keeps beside its future state.
struct TaskState {
    coro: Option<Py<PyAny>>,
    /// The context every step runs in.
    context: Option<Py<PyAny>>,
    name: Option<Py<PyAny>>,
    /// The future the coroutine is waiting on, if any: what `cancel()` cancels.
    fut_waiter: Option<Py<PyAny>>,
    /// `self._step` and `self._wakeup` as bound methods, made when first
    /// needed and kept, not made at every step as the C Task makes its step
    /// wrapper. `_step` is let go while the task waits on a future (its
    /// wake-up steps it directly): a waiting task holds one bound method, as a
    /// C Task does, and the collector, whose passes grow with the objects
    /// alive, sees no more per task. They hold the task, a cycle (the collector
    /// sees it through `__traverse__`) broken when the coroutine finishes, so
    /// that a finished task is freed by its refcount, as a C Task is.
    step: Option<Py<PyAny>>,
    wakeup: Option<Py<PyAny>>,
    /// Set by `cancel()` when there was no future to cancel: the next step
    /// throws `CancelledError` in.
    must_cancel: bool,
    num_cancels_requested: u64,
    /// Cleared for an object that never became a task (its coroutine was bad).
    log_destroy_pending: bool,
    /// The future part finished; kept here because the report on destruction
    /// runs when the future part is already gone.
    finished: bool,
    /// The task's loop and, in debug mode, where the task was made: copied
    /// from the future part for the same reason, so that a task destroyed
    /// while pending is reported to its own loop's exception handler.
    event_loop: Option<Py<PyAny>>,
    source_traceback: Option<Py<PyAny>>,
    /// The `coroscope.timeline` recorder watching the loop when the task was
    /// made, told of every step; `None` (nearly always) costs nothing per step.
    recorder: Option<Py<PyAny>>,
}

impl TaskState {
    /// The state of a task with no coroutine yet.
    fn new() -> Self {
        TaskState {
            coro: None,
            context: None,
            name: None,
            step: None,
            wakeup: None,
            fut_waiter: None,
            must_cancel: false,
            num_cancels_requested: 0,
            log_destroy_pending: true,
            finished: false,
            event_loop: None,
            source_traceback: None,
            recorder: None,
        }
    }
}

/// An asyncio Task implemented in Rust: steps a coroutine on its loop with
/// ``PyIter_Send``, waits on the futures it awaits, and has the whole
/// ``asyncio.Task`` API.
///
/// ``Task(coro, *, loop=None, name=None, context=None)``; or make every task of a
/// loop one with ``loop.set_task_factory(task_factory)``. It registers itself
/// with asyncio, so ``asyncio.current_task()``, ``all_tasks()``,
/// ``asyncio.timeout``, ``TaskGroup`` and anyio see it as a task.
#[pyclass(frozen, subclass, extends = Future, module = "coroscope.await_from_rust")]
pub struct Task {
    state: StateLock<TaskState>,
}

/// asyncio's task bookkeeping (the C functions when asyncio has them), looked
/// up once rather than at every task creation or step.
struct Registry {
    is_coroutine: Py<PyAny>,
    register: Py<PyAny>,
    enter: Py<PyAny>,
    leave: Py<PyAny>,
    /// `asyncio.tasks._task_name_counter`, the counter asyncio's pure-Python
    /// Task numbers its default names with. The C Task counts in the
    /// `_asyncio` module's own state, which no Python or C API reaches; so a
    /// program that makes both kinds numbers each kind on its own, and a C
    /// Task and a Rust Task can both be `Task-1` (as a C Task and a pure-Python
    /// one can).
    next_name: Py<PyAny>,
    /// Eager start's bookkeeping, 3.12+ only (`None` before).
    eager: Option<EagerRegistry>,
    /// Who awaits whom (3.14+, `None` before): `future_add_to_awaited_by` and
    /// `future_discard_from_awaited_by`, what `asyncio.capture_call_graph`
    /// reads back as a future's `_asyncio_awaited_by`.
    awaited_by: Option<(Py<PyAny>, Py<PyAny>)>,
}

/// `_swap_current_task`, `_register_eager_task` and `_unregister_eager_task`.
struct EagerRegistry {
    swap: Py<PyAny>,
    register: Py<PyAny>,
    unregister: Py<PyAny>,
}

fn registry(py: Python<'_>) -> PyResult<&Registry> {
    static REGISTRY: PyOnceLock<Registry> = PyOnceLock::new();
    REGISTRY.get_or_try_init(py, || {
        // Looked up now, with the rest, not first when a coroutine raises: at
        // the end of the C stack that lookup failed, and the task whose
        // coroutine had ended stayed pending for ever.
        cancelled_error_type(py)?;
        let tasks = py.import("asyncio.tasks")?;
        let futures = py.import("asyncio.futures")?;
        Ok::<_, PyErr>(Registry {
            is_coroutine: py
                .import("asyncio.coroutines")?
                .getattr("iscoroutine")?
                .unbind(),
            register: tasks.getattr("_register_task")?.unbind(),
            enter: tasks.getattr("_enter_task")?.unbind(),
            leave: tasks.getattr("_leave_task")?.unbind(),
            next_name: tasks.getattr("_task_name_counter")?.unbind(),
            eager: match tasks.getattr_opt("_swap_current_task")? {
                Some(swap) => Some(EagerRegistry {
                    swap: swap.unbind(),
                    register: tasks.getattr("_register_eager_task")?.unbind(),
                    unregister: tasks.getattr("_unregister_eager_task")?.unbind(),
                }),
                None => None,
            },
            awaited_by: match futures.getattr_opt("future_add_to_awaited_by")? {
                Some(add) => Some((
                    add.unbind(),
                    futures.getattr("future_discard_from_awaited_by")?.unbind(),
                )),
                None => None,
            },
        })
    })
}

impl Task {
    fn state(&self, py: Python<'_>) -> StateGuard<'_, TaskState> {
        self.state.lock(py)
    }

    /// A task with no coroutine yet: what `__new__` makes, for `__init__`.
    fn shell() -> PyClassInitializer<Self> {
        PyClassInitializer::from(Future::shell()).add_subclass(Task {
            state: StateLock::new(TaskState::new()),
        })
    }

    /// `self._context`, set by `__init__`.
    fn context<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.state(py).context {
            Some(context) => Ok(context.bind(py).clone()),
            None => Err(PyRuntimeError::new_err(NOT_INITIALIZED)),
        }
    }

    /// `self._step`, made when the task is first scheduled (again) and kept
    /// while it is (see `TaskState::step`).
    fn step<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::bound_method(slf, intern!(slf.py(), "_step"), |state| &mut state.step)
    }

    /// `self._wakeup`, made when the task first waits on a future and kept (the
    /// same object each time): a task that never waits, such as a gather's
    /// leaf, never makes it.
    fn wakeup<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::bound_method(slf, intern!(slf.py(), "_wakeup"), |state| &mut state.wakeup)
    }

    /// The bound method `name`, from its slot in the state, or made and kept
    /// there.
    fn bound_method<'py>(
        slf: &Bound<'py, Self>,
        name: &Bound<'py, PyString>,
        slot: fn(&mut TaskState) -> &mut Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        if let Some(method) = slot(&mut slf.get().state(py)) {
            return Ok(method.bind(py).clone());
        }
        let mut method = slf.getattr(name)?;
        // Debug mode (the only mode that records where a future was made).
        if slf.get().state(py).source_traceback.is_some() {
            let named = DebugCallback {
                method: method.unbind(),
                task: slf.clone().into_any().unbind(),
            };
            method = Bound::new(py, named)?.into_any();
        }
        *slot(&mut slf.get().state(py)) = Some(method.clone().unbind());
        Ok(method)
    }

    /// `loop.call_soon(self._step, [exc], context=self._context)`.
    fn schedule_step(slf: &Bound<'_, Self>, exc: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let event_loop = slf.as_super().get().get_loop(py)?;
        let context = slf.get().context(py)?;
        let step = Self::step(slf)?;
        let call_soon = intern!(py, "call_soon");
        match exc {
            Some(exc) => call_with_context(&event_loop, call_soon, &[&step, &exc], &context)?,
            None => call_with_context(&event_loop, call_soon, &[&step], &context)?,
        };
        Ok(())
    }

    /// Step again with `RuntimeError(message)` thrown in: asyncio's answer to
    /// a coroutine that yielded something a Task cannot wait on.
    fn throw_soon(slf: &Bound<'_, Self>, message: String) -> PyResult<()> {
        let exc = PyRuntimeError::new_err(message).into_value(slf.py());
        Self::schedule_step(slf, Some(exc.into_bound(slf.py()).into_any()))
    }

    /// Step 3: what to do with what the coroutine yielded.
    fn serve_yield(slf: &Bound<'_, Self>, yielded: Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        // The bare yield first: it is the hot path (`asyncio.sleep(0)`), and
        // asking `None` for an attribute it lacks would cost an AttributeError.
        if yielded.is_none() {
            return Self::schedule_step(slf, None);
        }
        let blocking = yielded
            .getattr_opt(intern!(py, "_asyncio_future_blocking"))?
            .filter(|flag| !flag.is_none());
        let Some(blocking) = blocking else {
            let kind = if py
                .import(intern!(py, "inspect"))?
                .call_method1(intern!(py, "isgenerator"), (&yielded,))?
                .is_truthy()?
            {
                format!(
                    "yield was used instead of yield from for generator in task {} with {}",
                    slf.repr()?,
                    yielded.repr()?
                )
            } else {
                format!("Task got bad yield: {}", yielded.repr()?)
            };
            return Self::throw_soon(slf, kind);
        };
        let its_loop = future_loop(&yielded)?;
        let our_loop = slf.as_super().get().get_loop(py)?;
        if !its_loop.is(&our_loop) {
            return Self::throw_soon(
                slf,
                format!(
                    "Task {} got Future {} attached to a different loop",
                    slf.repr()?,
                    yielded.repr()?
                ),
            );
        }
        if !blocking.is_truthy()? {
            return Self::throw_soon(
                slf,
                format!(
                    "yield was used instead of yield from in task {} with {}",
                    slf.repr()?,
                    yielded.repr()?
                ),
            );
        }
        if yielded.is(slf) {
            return Self::throw_soon(slf, format!("Task cannot await on itself: {}", slf.repr()?));
        }
        // "I, the Task, take this future": say so to the call graph, clear its
        // flag and wait for it.
        if let Some((add, _)) = &registry(py)?.awaited_by {
            add.bind(py).call1((&yielded, slf))?;
        }
        yielded.setattr(intern!(py, "_asyncio_future_blocking"), false)?;
        let context = slf.get().context(py)?;
        let wakeup = Self::wakeup(slf)?;
        call_with_context(
            &yielded,
            intern!(py, "add_done_callback"),
            &[&wakeup],
            &context,
        )?;
        let (cancel_now, step) = {
            let mut state = slf.get().state(py);
            state.fut_waiter = Some(yielded.clone().unbind());
            (state.must_cancel, state.step.take())
        };
        drop(step);
        // A cancel() that came while the coroutine was running is passed on now.
        if cancel_now {
            let message = slf.as_super().get()._cancel_message(py);
            let kwargs = PyDict::new(py);
            kwargs.set_item(intern!(py, "msg"), message)?;
            if yielded
                .call_method(intern!(py, "cancel"), (), Some(&kwargs))?
                .is_truthy()?
            {
                slf.get().state(py).must_cancel = false;
            }
        }
        Ok(())
    }

    /// Send `None` into the coroutine (or throw `exc`) and handle what comes out:
    /// the part of a step that eager start shares with a scheduled one.
    fn run_step(
        slf: &Bound<'_, Self>,
        coro: &Bound<'_, PyAny>,
        exc: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let recorder = slf
            .get()
            .state(py)
            .recorder
            .as_ref()
            .map(|r| r.clone_ref(py));
        let Some(recorder) = recorder else {
            return Self::step_and_serve(slf, coro, exc);
        };
        // Watched (`coroscope.timeline`): the recorder times the step and reads
        // what the task then waits on. Its own failure is reported as Python
        // reports an error nobody can catch (`sys.unraisablehook`), and the step
        // runs all the same: a recorder must never stop the task it watches.
        // Ctrl-C (or `sys.exit()`) inside the recorder is raised too, but only
        // once the step is taken: a step skipped is a task nobody schedules
        // again, and `asyncio.run` would wait for it for ever as it cleans up.
        let recorder = recorder.bind(py);
        let begin = recorder.call_method1(intern!(py, "begin"), (slf, timeline::hint()));
        let interrupted = recorder_failure_reported(recorder, begin).err();
        let handled = Self::step_and_serve(slf, coro, exc);
        let end = recorder.call_method1(intern!(py, "end"), (slf,));
        recorder_failure_reported(recorder, end)?;
        handled?;
        interrupted.map_or(Ok(()), Err)
    }

    fn step_and_serve(
        slf: &Bound<'_, Self>,
        coro: &Bound<'_, PyAny>,
        exc: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let stepped = match &exc {
            None => send_step(coro, &slf.py().None().into_bound(slf.py())),
            Some(exc) => throw_step(coro, exc),
        };
        match stepped {
            Ok(Step::Yield(yielded)) => Self::serve_yield(slf, yielded),
            Ok(Step::Return(value)) => Self::settle(slf, Ok(value)),
            Err(err) => Self::settle(slf, Err(err)),
        }
    }

    /// The first step, now, as 3.12's `Task.__eager_start`:
    /// 1. make this task current (`_swap_current_task`, which returns the task
    ///    that was current: eager tasks start from inside another task's step);
    /// 2. list it among the eager tasks, so `all_tasks()` sees it while it runs;
    /// 3. run the step inside the task's context (entered with the C API, as
    ///    `context.run` would, without making a bound method to call);
    /// 4. undo 2 and 1; then a task that finished lets go of its coroutine
    ///    (asyncio does, for memory), and one still pending is registered as
    ///    an ordinary task whose next step its awaited future schedules.
    fn eager_start(
        slf: &Bound<'_, Self>,
        registry: &Registry,
        eager: &EagerRegistry,
    ) -> PyResult<()> {
        let py = slf.py();
        // Eager tasks nest: this step may make the next task, whose first step
        // runs inside it. Each level costs the Rust Task more C stack than the
        // C Task's; 3.12 and 3.13 check only the recursion limit, so a thread
        // with a small stack would run out of it before the limit.
        Depth::check_stack(CALLING)?;
        let event_loop = slf.as_super().get().get_loop(py)?;
        let (coro, context) = {
            let state = slf.get().state(py);
            match (&state.coro, &state.context) {
                (Some(coro), Some(context)) => (coro.clone_ref(py), context.clone_ref(py)),
                _ => return Err(PyRuntimeError::new_err(NOT_INITIALIZED)),
            }
        };
        let previous = eager.swap.bind(py).call1((&event_loop, slf))?;
        let ran = eager.register.bind(py).call1((slf,)).and_then(|_| {
            // SAFETY: attached (we hold `py`); `context` is a live object we own
            // a reference to for the whole block. `PyContext_Enter` returns -1
            // with an exception set on failure (not a Context, or already entered).
            let stepped = if unsafe { ffi::PyContext_Enter(context.as_ptr()) } < 0 {
                Err(PyErr::fetch(py))
            } else {
                let stepped = Self::run_step(slf, coro.bind(py), None);
                // SAFETY: as above; exits the context entered just before.
                if unsafe { ffi::PyContext_Exit(context.as_ptr()) } < 0 {
                    Err(PyErr::fetch(py))
                } else {
                    stepped
                }
            };
            // On every path: a task left in the eager list is one `all_tasks()`
            // shows pending for ever (and `asyncio.run` waits for at its end).
            let unregistered = eager.unregister.bind(py).call1((slf,));
            stepped.and(unregistered.map(drop))
        });
        let swapped_back = eager.swap.bind(py).call1((&event_loop, previous));
        if slf.as_super().get().done(py) {
            let coro = slf.get().state(py).coro.take();
            drop(coro);
        } else if ran.is_ok() {
            registry.register.bind(py).call1((slf,))?;
        }
        // Not registered: a first step that failed outside the coroutine, which
        // leaves the task pending with no step to come. Listed, `all_tasks()`
        // would show it pending for ever, wherever the coroutine kept it (the
        // C Task goes with its failed construction).
        swapped_back?;
        ran
    }

    /// The coroutine is over: mark it, and let go of the cached bound methods
    /// (the task's cycle through itself).
    fn mark_finished(&self, py: Python<'_>) {
        let cached = {
            let mut state = self.state(py);
            state.finished = true;
            (state.step.take(), state.wakeup.take())
        };
        // Dropped outside the lock: a last reference may run Python code.
        drop(cached);
    }

    /// The coroutine finished (`outcome`): finish the future part to match.
    fn settle(slf: &Bound<'_, Self>, outcome: PyResult<Bound<'_, PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let future = slf.as_super();
        match outcome {
            Ok(value) => {
                let cancel_instead = std::mem::take(&mut slf.get().state(py).must_cancel);
                slf.get().mark_finished(slf.py());
                if cancel_instead {
                    // cancel() came right before the coroutine returned.
                    let message = future.get()._cancel_message(py);
                    Future::cancel(future, message)?;
                } else {
                    Future::set_result(future, value.unbind())?;
                }
                Ok(())
            }
            Err(err) if err.is_instance(py, cancelled_error_type(py)?.as_any()) => {
                slf.get().mark_finished(slf.py());
                future
                    .get()
                    .set_cancelled_exc(py, err.into_value(py).into_any());
                Future::cancel(future, None)?;
                Ok(())
            }
            Err(err) => {
                slf.get().mark_finished(slf.py());
                let fatal = stops_the_program(py, &err);
                // `into_value`, not `value`: it puts the traceback back on the
                // exception, so whoever awaits the task sees the coroutine's frames.
                let exception = err.clone_ref(py).into_value(py).into_any();
                Future::set_exception(future, exception.into_bound(py))?;
                // Its "never retrieved" report names the task, in its context.
                // Like asyncio: these stop the loop too, after failing the task.
                if fatal { Err(err) } else { Ok(()) }
            }
        }
    }
}

#[pymethods]
impl Task {
    // Two of them only for what `inspect.signature` shows: `eager_start`
    // where it is taken. `__init__` does the work.
    #[cfg(Py_3_12)]
    #[new]
    #[pyo3(
        signature = (*_args, **_kwargs),
        text_signature = "(coro, *, loop=None, name=None, context=None, eager_start=False)"
    )]
    fn __new__(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyClassInitializer<Self> {
        Self::shell()
    }

    #[cfg(not(Py_3_12))]
    #[new]
    #[pyo3(
        signature = (*_args, **_kwargs),
        text_signature = "(coro, *, loop=None, name=None, context=None)"
    )]
    fn __new__(
        _args: &Bound<'_, PyTuple>,
        _kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyClassInitializer<Self> {
        Self::shell()
    }

    #[pyo3(signature = (coro, *, r#loop = None, name = None, context = None, eager_start = None))]
    fn __init__(
        slf: &Bound<'_, Self>,
        coro: Bound<'_, PyAny>,
        r#loop: Option<Bound<'_, PyAny>>,
        name: Option<Bound<'_, PyAny>>,
        context: Option<Bound<'_, PyAny>>,
        eager_start: Option<Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let py = slf.py();
        let registry = registry(py)?;
        if eager_start.is_some() && registry.eager.is_none() {
            return Err(PyTypeError::new_err(NO_EAGER_START));
        }
        // Any object, by its truth, as asyncio's Task takes it (uvloop passes None).
        let eager_start = eager_start
            .map(|e| e.is_truthy())
            .transpose()?
            .unwrap_or(false);
        Future::__init__(slf.as_super(), r#loop)?;
        let future = slf.as_super().get();
        let event_loop = future.get_loop(py)?;
        {
            let mut state = slf.get().state(py);
            state.recorder = timeline::recorder_for(&event_loop);
            state.event_loop = Some(event_loop.clone().unbind());
            state.source_traceback = future._source_traceback(py);
        }
        // A plain coroutine is one, without asking asyncio (as the C Task checks).
        // SAFETY: a type check of a live object.
        let plain_coroutine = unsafe { ffi::PyCoro_CheckExact(coro.as_ptr()) } != 0;
        if !plain_coroutine
            && !registry
                .is_coroutine
                .bind(py)
                .call1((&coro,))?
                .is_truthy()?
        {
            slf.get().state(py).log_destroy_pending = false;
            return Err(PyTypeError::new_err(format!(
                "{NOT_A_COROUTINE} {}",
                coro.repr()?
            )));
        }
        let name = match name.filter(|n| !n.is_none()) {
            Some(name) => name.str()?.into_any(),
            None => {
                let n: u64 = registry.next_name.bind(py).call0()?.extract()?;
                task_name(py, n).into_any()
            }
        };
        let context = match context.filter(|c| !c.is_none()) {
            Some(context) => {
                // SAFETY: a type check of a live object.
                let is_context = unsafe { ffi::PyContext_CheckExact(context.as_ptr()) } != 0;
                if !is_context && py.version_info() >= (3, 15) {
                    // 3.15 checks what it will enter at every step (gh-157301).
                    slf.get().state(py).log_destroy_pending = false;
                    return Err(PyTypeError::new_err(format!(
                        "{NOT_A_CONTEXT} {}",
                        context.get_type().name()?
                    )));
                }
                context
            }
            None => copy_context(py)?,
        };
        finalize::finalized_after_its_task(&coro);
        let old = {
            let mut state = slf.get().state(py);
            (
                state.coro.replace(coro.unbind()),
                state.name.replace(name.unbind()),
                state.context.replace(context.unbind()),
                state.step.take(),
            )
        };
        // What a second `__init__` replaced goes after the lock (its coroutine's
        // `close()` runs Python code).
        drop(old);
        if let Some(eager) = registry.eager.as_ref().filter(|_| eager_start)
            && event_loop
                .call_method0(intern!(py, "is_running"))?
                .is_truthy()?
        {
            // A first step that fails outside the coroutine (the task's own
            // calls into asyncio: at the end of the C stack, 3.14+ raises
            // `RecursionError` in any of them) fails the construction: the
            // caller gets that error and never the task, so the task's end is
            // not reported again (made that deep, the report failed too).
            return Self::eager_start(slf, registry, eager).inspect_err(|_| {
                slf.get().state(py).log_destroy_pending = false;
            });
        }
        Self::schedule_step(slf, None)?;
        registry.register.bind(py).call1((slf,))?;
        Ok(())
    }

    /// One step of the coroutine (step 2 and 3 of the module doc). Scheduled by
    /// the task itself; not for calling by hand.
    #[pyo3(signature = (exc = None))]
    fn _step(slf: &Bound<'_, Self>, exc: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let py = slf.py();
        let future = slf.as_super();
        if future.get().done(py) {
            // The C Task's words; its step is `__step` from 3.14.
            let step = if py.version_info() >= (3, 14) {
                "__step"
            } else {
                "_step"
            };
            let exc = exc.map_or_else(|| py.None().into_bound(py), Bound::into_any);
            return Err(invalid_state(
                py,
                format!("{step}(): already done: {} {}", slf.repr()?, exc.repr()?),
            ));
        }
        let must_cancel = std::mem::take(&mut slf.get().state(py).must_cancel);
        let exc = match exc {
            Some(exc) if !must_cancel || exc.is_instance(cancelled_error_type(py)?)? => Some(exc),
            _ if must_cancel => Some(future.get()._make_cancelled_error(py)?),
            _ => None,
        };
        let (coro, old_waiter) = {
            let mut state = slf.get().state(py);
            (
                state.coro.as_ref().map(|c| c.clone_ref(py)),
                state.fut_waiter.take(),
            )
        };
        drop(old_waiter);
        let Some(coro) = coro else {
            return Err(PyRuntimeError::new_err(NOT_INITIALIZED));
        };
        let event_loop = future.get().get_loop(py)?;
        let registry = registry(py)?;
        registry.enter.bind(py).call1((&event_loop, slf))?;
        let handled = Self::run_step(slf, coro.bind(py), exc);
        registry.leave.bind(py).call1((&event_loop, slf))?;
        handled
    }

    /// Step 4: the awaited future is done; step again with its outcome.
    fn _wakeup(slf: &Bound<'_, Self>, future: Bound<'_, PyAny>) -> PyResult<()> {
        let py = slf.py();
        if let Some((_, discard)) = &registry(py)?.awaited_by {
            discard.bind(py).call1((&future, slf))?;
        }
        // `future.result()` through the C API, its error taken as it is: the
        // awaited future's exception goes into the coroutine whatever its type
        // (PyO3's own call would resume a `PanicException` as a Rust panic).
        match call_method0_raised(&future, intern!(py, "result")) {
            Ok(_) => Self::_step(slf, None),
            Err(err) => Self::_step(slf, Some(err.into_value(py).into_bound(py).into_any())),
        }
    }

    /// Request cancellation: cancel the awaited future, or throw
    /// ``CancelledError(msg)`` into the coroutine at its next step. Returns
    /// ``False`` if the task is already done.
    #[pyo3(signature = (msg = None))]
    fn cancel(slf: &Bound<'_, Self>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        let py = slf.py();
        // A task awaiting a task awaiting a task...: the C Task cancels down
        // such a chain by a call per link, as deep as the chain. Ours walks
        // the links that are Rust Tasks in this loop instead: a call per link
        // through PyO3 takes several times the C stack a C Task's does, and
        // on 3.14, which bounds C recursion by the stack, a chain of 14,000
        // was refused where the C Task cancels 45,000. Each link does what
        // the C Task's call does, in the same order; only the innermost
        // pending task can be left to cancel itself (`must_cancel`), since
        // every task above it sees its waiter take the request.
        let done_once_silenced = |task: &Bound<'_, Task>| {
            let future = task.as_super();
            future.setattr(intern!(py, "_log_traceback"), false)?;
            PyResult::Ok(future.get().done(py))
        };
        if done_once_silenced(slf)? {
            return Ok(false);
        }
        let msg = msg.unwrap_or_else(|| py.None());
        let mut task = slf.clone(); // pending, its link's first part done
        // The links walked past `slf`: empty (no allocation) for a lone task.
        let mut seen = HashSet::new();
        // Held until the walk ends: a level per link, as the C Task's call per
        // link counts against the recursion limit (3.11-3.13 refuse a chain
        // the limit's length; 3.14+ count the stack, which the loop spares).
        let mut levels = Vec::new();
        let waiter_took_it = loop {
            let waiter = {
                let mut state = task.get().state(py);
                state.num_cancels_requested += 1;
                state
                    .fut_waiter
                    .as_ref()
                    .map(|w| w.clone_ref(py).into_bound(py))
            };
            let Some(next) = waiter else {
                break false;
            };
            let cancel = next.getattr(intern!(py, "cancel"))?;
            // A subclass, or a `cancel` set on the task itself (a mock), may
            // cancel its own way: called, as the C Task calls it.
            let own = match next.cast_exact::<Task>() {
                Ok(next) => is_own_cancel(&cancel, next)?,
                Err(_) => false,
            };
            if own {
                levels.push(Depth::enter(py, CALLING)?);
                let next = next.cast_into::<Task>()?;
                if done_once_silenced(&next)? {
                    break false; // done: `task` cancels itself
                }
                if next.is(slf) || !seen.insert(next.as_ptr()) {
                    // Tasks awaiting each other in a ring: the C Task's calls
                    // go round it until the limit or the stack ends them.
                    return Err(PyRecursionError::new_err(CANCEL_RING));
                }
                task = next;
            } else {
                // The call counts the level itself; the stack, only here.
                Depth::check_stack(CALLING)?;
                break cancel.call1((&msg,))?.is_truthy()?; // positional, as C passes it
            }
        };
        if !waiter_took_it {
            task.get().state(py).must_cancel = true;
            task.as_super().get().set_cancel_message(py, msg);
        }
        Ok(true)
    }

    /// How many cancellation requests are pending (not taken back by ``uncancel``).
    fn cancelling(&self, py: Python<'_>) -> u64 {
        self.state(py).num_cancels_requested
    }

    /// Take back one cancellation request; returns how many remain. From 3.13,
    /// taking back the last one also forgets a ``cancel()`` not yet delivered.
    fn uncancel(&self, py: Python<'_>) -> u64 {
        let mut state = self.state(py);
        if state.num_cancels_requested > 0 {
            state.num_cancels_requested -= 1;
            if state.num_cancels_requested == 0 && py.version_info() >= (3, 13) {
                state.must_cancel = false;
            }
        }
        state.num_cancels_requested
    }

    /// The ``contextvars.Context`` every step of the task runs in.
    fn get_context(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state(py).context.as_ref().map(|c| c.clone_ref(py))
    }

    /// The coroutine this task runs.
    fn get_coro(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state(py).coro.as_ref().map(|c| c.clone_ref(py))
    }

    /// The task's name (``Task-<n>`` unless one was given). Rust Tasks are
    /// numbered on asyncio's Python counter, C Tasks on their own: in a program
    /// that makes both, two tasks can share a default name.
    fn get_name(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state(py).name.as_ref().map(|n| n.clone_ref(py))
    }

    /// Rename the task (the value is converted with ``str``).
    fn set_name(&self, value: Bound<'_, PyAny>) -> PyResult<()> {
        let name = value.str()?.into_any().unbind();
        let old = self.state(value.py()).name.replace(name);
        drop(old);
        Ok(())
    }

    /// Not allowed: a task's result is its coroutine's.
    fn set_result(&self, _result: Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyRuntimeError::new_err(NO_SET_RESULT))
    }

    /// Not allowed: a task's exception is its coroutine's.
    fn set_exception(&self, _exception: Bound<'_, PyAny>) -> PyResult<()> {
        Err(PyRuntimeError::new_err(NO_SET_EXCEPTION))
    }

    /// The stack frames of the task's coroutine (as ``asyncio.Task.get_stack``).
    #[pyo3(signature = (*, limit = None))]
    fn get_stack<'py>(
        slf: &Bound<'py, Self>,
        limit: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("asyncio.base_tasks")?
            .call_method1("_task_get_stack", (slf, limit))
    }

    /// Print the task's stack (as ``asyncio.Task.print_stack``).
    #[pyo3(signature = (*, limit = None, file = None))]
    fn print_stack<'py>(
        slf: &Bound<'py, Self>,
        limit: Option<Bound<'py, PyAny>>,
        file: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        slf.py()
            .import("asyncio.base_tasks")?
            .call_method1("_task_print_stack", (slf, limit, file))
    }

    /// asyncio's `Task.__del__`, which reports a task destroyed while
    /// pending, then an exception never retrieved (see `Future.__del__`).
    fn __del__(slf: &Bound<'_, Self>) {
        <Self as Finalize>::finalize(slf);
    }

    fn __repr__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        // A subclass whose `__init__` skipped ours: the C Task's error, not
        // an assertion deep inside asyncio's repr helpers.
        slf.as_super().get().get_loop(slf.py())?;
        asyncio_repr(slf.as_any(), ReprOf::Task)
    }

    #[getter]
    fn _coro(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.get_coro(py)
    }

    #[getter]
    fn _fut_waiter(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.state(py).fut_waiter.as_ref().map(|w| w.clone_ref(py))
    }

    #[getter]
    fn _must_cancel(&self, py: Python<'_>) -> bool {
        self.state(py).must_cancel
    }

    #[getter]
    fn _log_destroy_pending(&self, py: Python<'_>) -> bool {
        self.state(py).log_destroy_pending
    }

    /// Any object, read for its truth, as asyncio's attribute takes it.
    #[setter(_log_destroy_pending)]
    fn set_log_destroy_pending(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let log = value.is_truthy()?;
        self.state(value.py()).log_destroy_pending = log;
        Ok(())
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // SAFETY: this is `__traverse__`, called by the collector.
        let Some(state) = (unsafe { self.state.try_lock_in_traverse() }) else {
            return Ok(());
        };
        for object in [
            &state.coro,
            &state.context,
            &state.name,
            &state.fut_waiter,
            &state.step,
            &state.wakeup,
            &state.event_loop,
            &state.source_traceback,
            &state.recorder,
        ] {
            visit.call(object)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        Python::attach(|py| {
            // The state leaves the lock before it is dropped: dropping runs
            // Python code (the coroutine's `finally`), which must not find it
            // held. The finalizer has made any report already.
            let cleared = TaskState {
                log_destroy_pending: false,
                ..TaskState::new()
            };
            drop(std::mem::replace(&mut *self.state(py), cleared));
        });
    }
}

/// A task's `_step` or `_wakeup` as debug mode schedules it: asyncio's
/// slow-callback warning names a callback's task only when the task is an
/// `asyncio.Task` (a Rust Task is not), and otherwise shows the callback's
/// `repr`, which here is the task's: "Executing <Handle <Task pending
/// name='t' coro=<...>>()> took 0.200 seconds". Outside debug mode the bound
/// method itself is scheduled, one call cheaper.
#[pyclass(frozen, module = "coroscope.await_from_rust")]
struct DebugCallback {
    method: Py<PyAny>,
    task: Py<PyAny>,
}

#[pymethods]
impl DebugCallback {
    #[pyo3(signature = (*args))]
    fn __call__<'py>(&self, args: &Bound<'py, PyTuple>) -> PyResult<Bound<'py, PyAny>> {
        self.method.bind(args.py()).call1(args)
    }

    fn __repr__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        self.task.bind(py).repr()
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.method)?;
        visit.call(&self.task)
    }
}

/// asyncio's `Task.__del__`: the "Task was destroyed but it is pending!"
/// report, made once, to the task's loop, naming the task; then the future
/// part's (see [`crate::support::finalize`] for why a finalizer and not `Drop`).
impl Finalize for Task {
    fn finalize(slf: &Bound<'_, Self>) {
        let py = slf.py();
        // As in `Future::finalize`: out of the lock before Python code runs.
        let pending = {
            let mut state = slf.get().state(py);
            let armed = !state.finished && std::mem::take(&mut state.log_destroy_pending);
            let copy = |object: &Option<Py<PyAny>>| object.as_ref().map(|o| o.clone_ref(py));
            (armed && state.coro.is_some())
                .then(|| (copy(&state.event_loop), copy(&state.source_traceback)))
        };
        if let Some((event_loop, source_traceback)) = pending {
            report_lost(
                py,
                event_loop.as_ref(),
                DESTROYED_PENDING,
                source_traceback.as_ref(),
                |report| report.set_item("task", slf),
            );
        }
        Future::finalize(slf.as_super());
    }

    fn own_dealloc() -> &'static OnceLock<Dealloc> {
        static OWN: OnceLock<Dealloc> = OnceLock::new();
        &OWN
    }
}

/// A recorder's call that failed, reported to `sys.unraisablehook` (an error
/// nobody can catch), so that the watched step goes on; Ctrl-C and
/// `sys.exit()` still go through.
fn recorder_failure_reported(
    recorder: &Bound<'_, PyAny>,
    called: PyResult<Bound<'_, PyAny>>,
) -> PyResult<()> {
    match called {
        Err(err) if stops_the_program(recorder.py(), &err) => Err(err),
        Err(err) => {
            err.write_unraisable(recorder.py(), Some(recorder));
            Ok(())
        }
        Ok(_) => Ok(()),
    }
}

/// `asyncio.futures._get_loop(future)` without its Python frame: our own
/// Future or Task answers directly (as the C Task asks a C future; a subclass
/// may override `get_loop`, so only the exact types), anything else by its
/// `get_loop()`, or by `_loop` when it has none.
fn future_loop<'py>(future: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let py = future.py();
    if future.is_exact_instance_of::<Future>() || future.is_exact_instance_of::<Task>() {
        return future.cast::<Future>()?.get().get_loop(py);
    }
    match future.getattr_opt(intern!(py, "get_loop"))? {
        Some(get_loop) => get_loop.call0(),
        None => future.getattr(intern!(py, "_loop")),
    }
}

/// Whether `method` is the kit's own `Task.cancel` bound to `task`: not a
/// callable set on the instance in its place (a mock, or another of the
/// task's own methods, which is bound to it too). Two bound builtin methods
/// are equal when they share `__self__` and the C function behind them.
fn is_own_cancel(method: &Bound<'_, PyAny>, task: &Bound<'_, Task>) -> PyResult<bool> {
    let py = task.py();
    if !method.is_instance_of::<PyCFunction>() {
        return Ok(false);
    }
    let own = py.get_type::<Task>().getattr(intern!(py, "cancel"))?;
    method.eq(own.call_method1(intern!(py, "__get__"), (task,))?)
}

/// `Task-<n>`, put together on the stack: `format!` would allocate a
/// `String` per task only to copy it into the Python string.
fn task_name(py: Python<'_>, n: u64) -> Bound<'_, PyString> {
    const PREFIX: &[u8] = b"Task-";
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n).as_bytes();
    let mut name = [0u8; PREFIX.len() + 20]; // a u64 has at most 20 digits
    name[..PREFIX.len()].copy_from_slice(PREFIX);
    name[PREFIX.len()..][..digits.len()].copy_from_slice(digits);
    // SAFETY: ASCII, as written just above ("Task-" and decimal digits).
    let name = unsafe { std::str::from_utf8_unchecked(&name[..PREFIX.len() + digits.len()]) };
    PyString::new(py, name)
}

/// ``loop.set_task_factory(task_factory)``: every task the loop creates
/// (``create_task``, ``gather``, ``TaskGroup``...) becomes a Rust ``Task``.
///
/// Keywords go on to ``Task`` as the loop gave them: ``context``, and on 3.12+
/// ``eager_start`` (uvloop passes it) and ``name`` (3.13's later releases do).
#[pyfunction]
#[pyo3(signature = (r#loop, coro, /, *, name = None, context = None, eager_start = None, **kwargs))]
#[cfg_attr(
    Py_3_12,
    pyo3(text_signature = "(loop, coro, /, *, name=None, context=None, eager_start=False)")
)]
#[cfg_attr(
    not(Py_3_12),
    pyo3(text_signature = "(loop, coro, /, *, name=None, context=None)")
)]
pub fn task_factory<'py>(
    r#loop: Bound<'py, PyAny>,
    coro: Bound<'py, PyAny>,
    name: Option<Bound<'py, PyAny>>,
    context: Option<Bound<'py, PyAny>>,
    eager_start: Option<Bound<'py, PyAny>>,
    kwargs: Option<Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, Task>> {
    let py = r#loop.py();
    if let Some(kwargs) = kwargs.filter(|k| !k.is_empty()) {
        // A keyword `__init__` does not know: the class call, with every
        // keyword as given, raises its own TypeError.
        let known = [
            (intern!(py, "name"), name),
            (intern!(py, "context"), context),
            (intern!(py, "eager_start"), eager_start),
        ];
        for (key, value) in known {
            if let Some(value) = value {
                kwargs.set_item(key, value)?;
            }
        }
        kwargs.set_item(intern!(py, "loop"), r#loop)?;
        return Ok(py
            .get_type::<Task>()
            .call((coro,), Some(&kwargs))?
            .cast_into()?);
    }
    // Made here, as `Task(coro, loop=loop, ...)` would make it, without calling
    // the class (a tuple, a dict, and the arguments parsed twice).
    let task = Bound::new(py, Task::shell())?;
    Task::__init__(&task, coro, Some(r#loop), name, context, eager_start)?;
    Ok(task)
}

/// Register the Task and its factory on `m`.
pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Task>()?;
    finalize::install::<Task>(m.py());
    m.add_function(wrap_pyfunction!(task_factory, m)?)?;
    Ok(())
}
