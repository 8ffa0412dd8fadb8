//! asyncio's (and CPython's) own pieces, looked up once per interpreter and
//! shared by every module. A leaf: it imports no lesson, so every lesson can use it.
//!
//! Users of this kit already know asyncio's exception types and rules for
//! finding a loop; raising anything else would teach a second vocabulary. Each
//! helper here is the exact asyncio function or type, cached in a
//! [`PyOnceLock`] so the lookup costs one pointer read after the first call.

use std::ffi::CStr;

use pyo3::exceptions::{
    PyBaseException, PyDeprecationWarning, PyKeyboardInterrupt, PySystemExit, PyTypeError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PyString, PyTraceback, PyTuple, PyType};
use pyo3::{ffi, intern};

use super::exit::in_flight_unless_exiting;

/// `asyncio.InvalidStateError(message)`: asking for the result of something
/// unfinished, or finishing something twice.
pub fn invalid_state(py: Python<'_>, message: impl Into<String>) -> PyErr {
    static INVALID_STATE: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    match INVALID_STATE.import(py, "asyncio", "InvalidStateError") {
        Ok(ty) => PyErr::from_type(ty.clone(), (message.into(),)),
        Err(err) => err,
    }
}

/// The `asyncio.CancelledError` type.
pub fn cancelled_error_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    static CANCELLED_ERROR: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    CANCELLED_ERROR.import(py, "asyncio", "CancelledError")
}

/// A new `asyncio.CancelledError`, with `message` as its argument if there is one.
pub fn cancelled_error<'py>(
    py: Python<'py>,
    message: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let ty = cancelled_error_type(py)?;
    match message {
        Some(message) => ty.call1((message,)),
        None => ty.call0(),
    }
}

/// The loop running in this thread: `asyncio.get_running_loop()`, so that the
/// error without one is asyncio's `RuntimeError('no running event loop')`.
pub fn running_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_RUNNING_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_RUNNING_LOOP
        .import(py, "asyncio", "get_running_loop")?
        .call0()
}

/// The loop a future made with `loop=None` belongs to, by the running Python's
/// own rule: the running loop, else the policy's current loop (3.11's private
/// `_get_event_loop`; `get_event_loop` from 3.12, where the private one is gone).
/// Each version's warnings and `RuntimeError('There is no current event loop')`
/// come out unchanged.
pub fn default_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static GET_EVENT_LOOP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    GET_EVENT_LOOP
        .get_or_try_init(py, || {
            let events = py.import("asyncio.events")?;
            let getter = match events.getattr_opt("_get_event_loop")? {
                Some(private) => private,
                None => events.getattr("get_event_loop")?,
            };
            Ok::<_, PyErr>(getter.unbind())
        })?
        .bind(py)
        .call0()
}

/// `contextvars.copy_context()`, through the C API it wraps.
pub fn copy_context(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    // SAFETY: attached to the interpreter (we hold `py`); the call returns a new
    // reference or NULL with an exception set, which `from_owned_ptr_or_err` takes.
    unsafe { Bound::from_owned_ptr_or_err(py, ffi::PyContext_CopyCurrent()) }
}

/// `receiver.name(*args, context=context)` by vectorcall: no argument tuple
/// and no keyword dict. (`call_method` with a dict makes both, and CPython
/// turns the dict back into names and values for a Python method, as
/// `call_soon` and a pure-Python future's `add_done_callback` are: a Task
/// calls them at every step, a future for every callback it schedules.)
pub fn call_with_context<'py>(
    receiver: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
    args: &[&Bound<'py, PyAny>],
    context: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    static CONTEXT: PyOnceLock<Py<PyTuple>> = PyOnceLock::new();
    let py = receiver.py();
    let kwnames = CONTEXT.get_or_try_init(py, || {
        PyTuple::new(py, [intern!(py, "context")]).map(Bound::unbind)
    })?;
    // The receiver, the positional arguments, then the keyword's value.
    let mut stack = [std::ptr::null_mut(); 4];
    assert!(
        args.len() <= 2,
        "call_with_context takes at most two arguments"
    );
    stack[0] = receiver.as_ptr();
    for (slot, arg) in stack[1..].iter_mut().zip(args) {
        *slot = arg.as_ptr();
    }
    stack[1 + args.len()] = context.as_ptr();
    // SAFETY: `stack` holds `1 + args.len()` positional objects (the receiver
    // first, as `PyObject_VectorcallMethod` wants) and then one value per name
    // in `kwnames`, all borrowed from live `Bound`s for the call; the result is
    // a new reference or NULL with an exception set.
    unsafe {
        Bound::from_owned_ptr_or_err(
            py,
            ffi::PyObject_VectorcallMethod(
                name.as_ptr(),
                stack.as_ptr(),
                1 + args.len(),
                kwnames.as_ptr(),
            ),
        )
    }
}

/// `loop.call_soon(callback, arg, context=context)`: how asyncio runs a
/// callback "soon", in the `contextvars.Context` it was registered in.
pub fn call_soon<'py>(
    event_loop: &Bound<'py, PyAny>,
    callback: &Bound<'py, PyAny>,
    arg: &Bound<'py, PyAny>,
    context: &Bound<'py, PyAny>,
) -> PyResult<()> {
    let call_soon = intern!(event_loop.py(), "call_soon");
    call_with_context(event_loop, call_soon, &[callback, arg], context)?;
    Ok(())
}

/// `loop.call_soon_threadsafe(*call(py))` from any thread (the one loop method
/// that may be called from another thread), attaching for the call; `call`
/// makes `(callback, *args)` once attached.
///
/// That wait for the GIL is the cost [`crate::bridge`]'s fast bridge removes.
/// Nothing is left to run if the interpreter is shutting down or the loop is
/// closed, so both are skipped quietly; any other failure goes to
/// `sys.unraisablehook`.
pub fn post_threadsafe(
    event_loop: &Py<PyAny>,
    call: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>,
) {
    // tokio's workers were still telling cut futures after a `shutdown(0)`,
    // or one Ctrl-C cut short, while Python finalized.
    let Some(_in_flight) = in_flight_unless_exiting() else {
        return;
    };
    super::rust_side::try_attach("call_soon_threadsafe", |py| {
        let event_loop = event_loop.bind(py);
        let is_closed = || {
            event_loop
                .call_method0(intern!(py, "is_closed"))?
                .is_truthy()
        };
        let posted = (|| -> PyResult<()> {
            if is_closed()? {
                return Ok(());
            }
            event_loop.call_method1(intern!(py, "call_soon_threadsafe"), call(py)?)?;
            Ok(())
        })();
        // Closed between the check and `call_soon_threadsafe`'s own (the loop
        // thread ran while this one waited inside Python code): dropped, as
        // asyncio drops a result for a closed loop (`_chain_future`).
        if let Err(err) = posted
            && !is_closed().unwrap_or(false)
        {
            err.write_unraisable(py, Some(event_loop));
        }
    });
}

/// Finish `future` with `value` (`None`: Python's `None`, which needs no
/// attaching to name) from any thread: the loop thread runs
/// `asyncio.futures._set_result_unless_cancelled(future, value)` at its next
/// iteration ([`post_threadsafe`]). "Unless cancelled", because by the time the
/// call runs the awaiting task may have cancelled the future.
pub fn set_result_threadsafe(event_loop: &Py<PyAny>, future: Py<PyAny>, value: Option<Py<PyAny>>) {
    static SET_RESULT_UNLESS_CANCELLED: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    post_threadsafe(event_loop, |py| {
        let setter = SET_RESULT_UNLESS_CANCELLED.import(
            py,
            "asyncio.futures",
            "_set_result_unless_cancelled",
        )?;
        let value = value.unwrap_or_else(|| py.None());
        PyTuple::new(py, [setter.clone().unbind(), future, value])
    });
}

/// Fail `future` with `error` from any thread, unless it is done by the time
/// the loop thread runs the call (the awaiting task may have cancelled it).
pub fn set_exception_threadsafe(
    event_loop: &Py<PyAny>,
    future: Py<PyAny>,
    error: impl for<'py> FnOnce(Python<'py>) -> PyErr + Send + 'static,
) {
    post_threadsafe(event_loop, |py| {
        let error = error(py).into_value(py);
        let unless_done = PyCFunction::new_closure(py, None, None, move |args, _| {
            let future = args.get_item(0)?;
            if !future
                .call_method0(intern!(args.py(), "done"))?
                .is_truthy()?
            {
                future.call_method1(intern!(args.py(), "set_exception"), (&error,))?;
            }
            PyResult::Ok(())
        })?;
        PyTuple::new(py, [unless_done.into_any().unbind(), future])
    });
}

/// The stack of the caller, as asyncio records it in debug mode
/// (`format_helpers.extract_stack(sys._getframe(0))` seen from Rust, which adds
/// no frame of its own).
pub fn caller_stack(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    static EXTRACT_STACK: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let frame = py
        .import(intern!(py, "sys"))?
        .call_method1(intern!(py, "_getframe"), (0,))?;
    EXTRACT_STACK
        .import(py, "asyncio.format_helpers", "extract_stack")?
        .call1((frame,))
}

/// The type's name as CPython's own error messages print it (`tp_name`).
pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    // SAFETY: every type object has a NUL-terminated `tp_name` that lives as long
    // as the type, and the type outlives `obj`, which we hold.
    unsafe { CStr::from_ptr((*ffi::Py_TYPE(obj.as_ptr())).tp_name) }
        .to_string_lossy()
        .into_owned()
}

/// Which of asyncio's repr helpers: the future's, or the task's.
#[derive(Clone, Copy)]
pub enum ReprOf {
    /// `base_futures._future_repr`.
    Future,
    /// `base_tasks._task_repr`.
    Task,
}

/// What reports from destructors use, looked up while imports still work: a
/// report made as the interpreter exits (a pending task freed with `__main__`)
/// can no longer import anything (`sys.meta_path` and `sys.modules` are
/// emptied first), so the module prepares them when it is imported
/// ([`prepare_reports`]).
struct Reports {
    /// `base_futures._future_repr` and `base_tasks._task_repr`, in
    /// [`ReprOf`] order.
    repr: [Py<PyAny>; 2],
    /// `asyncio.log.logger`, where a report goes with no loop to take it.
    logger: Py<PyAny>,
}

fn reports(py: Python<'_>) -> PyResult<&Reports> {
    static REPORTS: PyOnceLock<Reports> = PyOnceLock::new();
    REPORTS.get_or_try_init(py, || {
        Ok::<_, PyErr>(Reports {
            repr: [
                py.import("asyncio.base_futures")?
                    .getattr("_future_repr")?
                    .unbind(),
                py.import("asyncio.base_tasks")?
                    .getattr("_task_repr")?
                    .unbind(),
            ],
            logger: py.import("asyncio.log")?.getattr("logger")?.unbind(),
        })
    })
}

/// Look up, now, what a later report from a destructor needs (see
/// `Reports`); after the first call this is one load.
pub fn prepare_reports(py: Python<'_>) -> PyResult<()> {
    reports(py).map(drop)
}

/// asyncio's own `repr` of a future or a task, by asyncio's helpers.
pub fn asyncio_repr<'py>(obj: &Bound<'py, PyAny>, of: ReprOf) -> PyResult<Bound<'py, PyAny>> {
    let py = obj.py();
    let helper = reports(py)?.repr[of as usize].bind(py);
    // A future whose result is a future: asyncio's repr shows it, through C.
    // The call counts the level against the recursion limit, as the C
    // Future's repr does: counted here too, a chain would fail at less depth.
    crate::support::depth::Depth::check_stack(c" while getting the repr of an object")?;
    helper.call1((obj,))
}

/// Whether `err` is one of the two exceptions that stop a program rather than
/// report a failure (`KeyboardInterrupt`, `SystemExit`): asyncio's loop lets
/// them through after failing the task, and every driver here lets them through.
pub fn stops_the_program(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<PyKeyboardInterrupt>(py) || err.is_instance_of::<PySystemExit>(py)
}

/// The `TypeError` Python's `await` raises for an object it cannot await, in
/// the words of the running version (3.14 reworded it).
pub fn not_awaitable(obj: &Bound<'_, PyAny>) -> PyErr {
    let name = type_name(obj);
    PyTypeError::new_err(if obj.py().version_info() >= (3, 14) {
        format!("'{name}' object can't be awaited")
    } else {
        format!("object {name} can't be used in 'await' expression")
    })
}

/// What the deprecated signature's warning says (CPython 3.12+).
const THROW_SIGNATURE_DEPRECATED: &CStr = c"the (type, exc, tb) signature of throw() is deprecated, use the single-arg signature instead.";

/// The exception `throw(type[, value[, traceback]])` asks to raise, checked
/// as CPython checks a generator's `throw` arguments. `rest` is what came
/// after `type`: from 3.12 on, passing any of it warns `DeprecationWarning`,
/// as generators and asyncio's future iterator do on those versions.
pub fn thrown<'py>(r#type: Bound<'py, PyAny>, rest: &Bound<'py, PyTuple>) -> PyResult<PyErr> {
    let py = r#type.py();
    if rest.len() > 2 {
        return Err(PyTypeError::new_err(format!(
            "throw expected at most 3 arguments, got {}",
            rest.len() + 1
        )));
    }
    if !rest.is_empty() && py.version_info() >= (3, 12) {
        PyErr::warn(
            py,
            &py.get_type::<PyDeprecationWarning>(),
            THROW_SIGNATURE_DEPRECATED,
            1,
        )?;
    }
    let value = rest.get_item(0).ok();
    let traceback = rest.get_item(1).ok();
    let value = value.filter(|v| !v.is_none());
    let traceback = match traceback.filter(|tb| !tb.is_none()) {
        Some(tb) => Some(
            tb.cast_into::<PyTraceback>()
                .map_err(|_| PyTypeError::new_err("throw() third argument must be a traceback"))?,
        ),
        None => None,
    };
    let exception = if let Ok(class) = r#type.cast::<PyType>()
        && class.is_subclass_of::<PyBaseException>()?
    {
        match value {
            Some(value) if value.is_instance(class)? => value,
            Some(value) => match value.cast::<PyTuple>() {
                Ok(args) => class.call1(args)?,
                Err(_) => class.call1((value,))?,
            },
            None => class.call0()?,
        }
    } else if r#type.is_instance_of::<PyBaseException>() {
        if value.is_some() {
            return Err(PyTypeError::new_err(
                "instance exception may not have a separate value",
            ));
        }
        r#type
    } else {
        return Err(PyTypeError::new_err(format!(
            "exceptions must be classes or instances deriving from BaseException, not {}",
            r#type.get_type().name()?
        )));
    };
    let err = PyErr::from_value(exception);
    if traceback.is_some() {
        err.set_traceback(py, traceback);
    }
    Ok(err)
}

/// Report a lost object from its finalizer, as asyncio's `__del__`s do: a
/// context with `message`, what `fill` adds, and `source_traceback` (debug
/// mode) goes to `event_loop`'s exception handler, or, with no loop (or one
/// that can no longer take it), to asyncio's logger.
///
/// A finalizer may run while an exception is being raised (objects die during
/// unwinding): it is set aside so the handler starts clean, and put back
/// after. What it needs was looked up at import ([`prepare_reports`]).
pub fn report_lost(
    py: Python<'_>,
    event_loop: Option<&Py<PyAny>>,
    message: &str,
    source_traceback: Option<&Py<PyAny>>,
    fill: impl FnOnce(&Bound<'_, PyDict>) -> PyResult<()>,
) {
    let in_flight = PyErr::take(py);
    let reported = (|| -> PyResult<()> {
        let context = PyDict::new(py);
        context.set_item("message", message)?;
        fill(&context)?;
        if let Some(stack) = source_traceback {
            context.set_item("source_traceback", stack.bind(py))?;
        }
        // The loop may not take it (closed, or its handler failing): the
        // report then goes where asyncio sends it with no loop.
        let handled = event_loop.map(|event_loop| {
            event_loop
                .bind(py)
                .call_method1(intern!(py, "call_exception_handler"), (&context,))
        });
        if !matches!(handled, Some(Ok(_))) {
            reports(py)?
                .logger
                .bind(py)
                .call_method1(intern!(py, "error"), (message,))?;
        }
        Ok(())
    })();
    if let Err(err) = reported {
        err.write_unraisable(py, None);
    }
    if let Some(err) = in_flight {
        err.restore(py);
    }
}

/// The exception the C API call just made raised, as a `PyErr`, untouched.
///
/// Not `PyErr::fetch`: when the exception is a `PanicException` (PyO3's type
/// for a Rust panic that reached Python, which Python code can raise too),
/// that prints a banner and resumes the panic in Rust, here: through a driver
/// or a Task's step that only passes the coroutine's exception on. A step so
/// unwound wedged its loop (the task stayed the loop's current one). Every
/// call whose error is the user's code's is taken by this.
pub fn raised(py: Python<'_>) -> PyErr {
    #[cfg(Py_3_12)]
    // SAFETY: attached (`py`); takes the exception set now, if any, handing its
    // reference to us, and clears it.
    let value = unsafe { ffi::PyErr_GetRaisedException() };
    #[cfg(not(Py_3_12))]
    // SAFETY: attached (`py`); `PyErr_Fetch` hands us the three references of
    // the exception set now (or NULLs) and clears it; normalizing replaces them
    // with new ones; we keep the value and let go of the other two.
    let value = unsafe {
        let (mut kind, mut value, mut traceback) = (
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        ffi::PyErr_Fetch(&mut kind, &mut value, &mut traceback);
        ffi::PyErr_NormalizeException(&mut kind, &mut value, &mut traceback);
        if !traceback.is_null() && !value.is_null() {
            ffi::PyException_SetTraceback(value, traceback);
        }
        ffi::Py_XDECREF(kind);
        ffi::Py_XDECREF(traceback);
        value
    };
    if value.is_null() {
        return pyo3::exceptions::PySystemError::new_err("error return without exception set");
    }
    // SAFETY: a new reference to the exception, which we now own.
    PyErr::from_value(unsafe { Bound::from_owned_ptr(py, value) })
}

/// What a C API call returned: its new reference, or (NULL) the exception it
/// raised, taken by [`raised`].
///
/// # Safety
/// `result` is what a C API call returning a new reference gave, just now.
pub unsafe fn owned_or_raised(
    py: Python<'_>,
    result: *mut ffi::PyObject,
) -> PyResult<Bound<'_, PyAny>> {
    if result.is_null() {
        Err(raised(py))
    } else {
        // SAFETY: the caller's promise: a new reference, which we now own.
        Ok(unsafe { Bound::from_owned_ptr(py, result) })
    }
}

/// `obj.name()`, its error taken by [`raised`] (PyO3's `call_method0` would
/// resume a `PanicException` as a Rust panic).
pub fn call_method0_raised<'py>(
    obj: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Bound<'py, PyAny>> {
    // SAFETY: attached (`obj` is bound); both objects live for the call,
    // which returns a new reference or NULL with an exception set.
    unsafe {
        owned_or_raised(
            obj.py(),
            ffi::PyObject_CallMethodNoArgs(obj.as_ptr(), name.as_ptr()),
        )
    }
}
