//! pyo3-async-runtimes on tokio: the library most PyO3 projects bridge with.
//!
//! - **Rust → Python**: `future_into_py(py, fut)` spawns `fut` on tokio and
//!   returns an asyncio future, finished through `call_soon_threadsafe` when
//!   `fut` completes. It needs the *running* loop at call time, which is the
//!   gotcha [`order_future_into_py`] documents. Cancelling the asyncio future drops `fut`.
//! - **Python → Rust**: `into_future(awaitable)` schedules the awaitable as a
//!   Task on its loop and returns a Rust future of its result, handed over by
//!   the Task's done callback through a channel. Dropping that Rust future does
//!   *not* cancel the Task; [`call_python_with_timeout`] shows why it matters.
//!   The kit makes that hand-off itself ([`task_future`]), for two reasons:
//!   cancelling on drop, and a Task that raises PyO3's `PanicException` (which
//!   Python code can raise too): `into_future`'s callback takes the result
//!   through PyO3, which resumes that exception as a Rust panic inside the
//!   callback, and the Rust future never ends.
//! - **Rust runs the loop**: `run` blocks a thread on a fresh asyncio loop
//!   until a Rust future is done ([`order_blocking`]).
//!
//! Context (contextvars) travels: `future_into_py` captures the caller's
//! context, and `into_future` (like [`task_future`]) runs the awaitable in it.
//!
//! Which tokio? Not the one pyo3-async-runtimes' `tokio` module keeps: that
//! one lives in a `&'static` and can never be shut down, which is how a script
//! that simply ends could abort at exit. The same functions come from its
//! `generic` module here, on the runtime the kit owns and shuts down at exit
//! ([`crate::support::runtime`], which tells the crash step by step).

use std::collections::HashMap;
use std::future::Future as RustFuture;
use std::sync::Mutex;

use pyo3::exceptions::{PyRuntimeError, PyTimeoutError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};
use tokio::sync::oneshot;

use super::burger::{make_order, take_order};
use crate::support::args::seconds;
use crate::support::asyncio::{call_method0_raised, copy_context, post_threadsafe, running_loop};
use crate::support::kit_tokio::{future_into_py, get_current_loop, run};
use crate::support::live::Alive;
use crate::support::runtime::ensure_open;
use crate::support::shapes::{explode, hop, yield_now};

/// ``await sleep_future_into_py(seconds, value=None)`` gives ``value`` after a
/// tokio timer, through ``future_into_py`` (tokio's timer ticks every
/// millisecond: a shorter sleep lasts up to 1 ms; ``sleep_future_into_py(0)``
/// makes no timer, though ``future_into_py`` still spawns it and hops back).
#[pyfunction]
#[pyo3(signature = (seconds, value = None))]
pub fn sleep_future_into_py(
    py: Python<'_>,
    seconds: f64,
    value: Option<Py<PyAny>>,
) -> PyResult<Bound<'_, PyAny>> {
    let sleep = crate::support::shapes::sleep(seconds, value.unwrap_or_else(|| py.None()))?;
    future_into_py(py, async move {
        let _alive = Alive::new();
        sleep.await
    })
}

/// ``await ready_future_into_py(value)`` gives ``value`` from a Rust future that
/// is ready at once: what ``future_into_py`` costs when there is nothing to wait
/// for (a spawn, an asyncio future, a done callback, a thread hop).
#[pyfunction]
pub fn ready_future_into_py(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, PyAny>> {
    future_into_py(py, async move { Ok(value) })
}

/// ``await yield_future_into_py(value)``: ``value`` from a Rust future that is
/// pending once and wakes itself (on the tokio worker that polls it), through
/// ``future_into_py``.
#[pyfunction]
pub fn yield_future_into_py(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, PyAny>> {
    future_into_py(py, async move {
        yield_now().await;
        Ok(value)
    })
}

/// ``await hop_future_into_py(value)``: ``value`` back from a task spawned on
/// tokio, through ``future_into_py`` (which itself runs on tokio).
#[pyfunction]
pub fn hop_future_into_py(py: Python<'_>, value: Py<PyAny>) -> PyResult<Bound<'_, PyAny>> {
    future_into_py(py, hop(value))
}

/// ``await order_future_into_py(items, *, prep_times=None)``: PyBurger through
/// ``future_into_py``. Cooks every item concurrently on tokio and returns their
/// names in the order they finished (``value_meal`` is burger, soda, fries).
///
/// ``prep_times`` overrides preparation times, in seconds per item. An unknown
/// item raises ``ValueError``. Cancelling the await stops the cooking.
///
/// Gotcha: ``asyncio.run(order_future_into_py([...]))`` raises ``RuntimeError: no running event
/// loop``. ``order_future_into_py(...)`` runs *before* ``asyncio.run`` starts the loop, and
/// ``future_into_py`` needs the running loop to make its asyncio future. Call it
/// from a coroutine (``async def main(): return await order_future_into_py([...])``, then
/// ``asyncio.run(main())``), or use ``order_async_fn``, which returns a coroutine.
#[pyfunction]
#[pyo3(signature = (items, *, prep_times = None))]
pub fn order_future_into_py(
    py: Python<'_>,
    items: Vec<String>,
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<Bound<'_, PyAny>> {
    let (items, menu) = take_order(&items, prep_times)?;
    future_into_py(py, async move { Ok(make_order(items, menu).await) })
}

/// Why `order_blocking` refuses to run inside a running loop.
pub const BLOCKING_IN_A_LOOP: &str = "order_blocking() cannot be called from a running event loop: \
    await order_future_into_py(...) there instead";

/// ``order_blocking(items, *, prep_times=None)``: the same order from plain
/// (non-async) code: Rust starts an asyncio loop in this thread and runs it
/// until the order is done, then closes it (pyo3-async-runtimes' ``run``).
/// Must not be called from a running loop. Interrupted (Ctrl-C),
/// it stops the order before it returns, as ``asyncio.run`` cancels its task.
#[pyfunction]
#[pyo3(signature = (items, *, prep_times = None))]
pub fn order_blocking(
    py: Python<'_>,
    items: Vec<String>,
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<Vec<&'static str>> {
    let (items, menu) = take_order(&items, prep_times)?;
    // Refused before anything starts, in asyncio.run's words: from a running
    // loop, the order would be cooking on tokio when run_until_complete fails.
    if !py
        .import("asyncio")?
        .call_method0("_get_running_loop")?
        .is_none()
    {
        return Err(PyRuntimeError::new_err(BLOCKING_IN_A_LOOP));
    }
    run(py, async move { Ok(make_order(items, menu).await) })
}

/// ``current_loop()``: the event loop pyo3-async-runtimes would use from here
/// (the running loop, in a coroutine).
#[pyfunction]
pub fn current_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    get_current_loop(py)
}

/// What `asyncio.ensure_future` says of something that cannot be awaited.
const NOT_AWAITABLE: &str = "An asyncio.Future, a coroutine or an awaitable is required";

/// The running loop, and the awaitable to run on it: ``coro_or_fn`` itself, or
/// what calling it returns; `TypeError` at once (in `ensure_future`'s words)
/// for anything else, rather than a task that fails where nobody awaits it. Refused before `coro_or_fn`
/// is called when nothing could run it: after shutdown (the coroutine ran to
/// its end, unawaited, while the caller was told it was refused), or with no
/// running loop (a coroutine made only to warn "never awaited").
fn awaitable_of(coro_or_fn: Bound<'_, PyAny>) -> PyResult<(Bound<'_, PyAny>, Bound<'_, PyAny>)> {
    let py = coro_or_fn.py();
    let isawaitable = py.import("inspect")?.getattr("isawaitable")?;
    let given = isawaitable.call1((&coro_or_fn,))?.is_truthy()?;
    if !given && !coro_or_fn.is_callable() {
        return Err(PyTypeError::new_err(NOT_AWAITABLE));
    }
    ensure_open()?;
    let event_loop = running_loop(py)?;
    let awaitable = if given {
        coro_or_fn
    } else {
        coro_or_fn.call0()?
    };
    if !isawaitable.call1((&awaitable,))?.is_truthy()? {
        return Err(PyTypeError::new_err(format!(
            "{NOT_AWAITABLE}: the function returned {}",
            awaitable.get_type().name()?
        )));
    }
    Ok((event_loop, awaitable))
}

/// ``await call_python(coro_or_fn)``: Rust awaits a Python coroutine (or the one
/// a function returns) as ``into_future`` does, and gives back its result.
///
/// The coroutine runs as a Task on the caller's loop, in the caller's context.
#[pyfunction]
pub fn call_python(coro_or_fn: Bound<'_, PyAny>) -> PyResult<Bound<'_, PyAny>> {
    let py = coro_or_fn.py();
    let (event_loop, awaitable) = awaitable_of(coro_or_fn)?;
    let result = task_future(event_loop, awaitable, OnDrop::Leave)?;
    future_into_py(py, result)
}

/// ``await call_python_with_timeout(coro_or_fn, seconds)``: like
/// ``call_python``, but Rust gives up after ``seconds`` (``TimeoutError``) by
/// dropping its future, which cancels the Python Task (see
/// ``task_future``; ``into_future`` would leave it running).
#[pyfunction]
pub fn call_python_with_timeout(
    coro_or_fn: Bound<'_, PyAny>,
    seconds: f64,
) -> PyResult<Bound<'_, PyAny>> {
    let py = coro_or_fn.py();
    let limit = self::seconds("seconds", seconds)?;
    let (event_loop, awaitable) = awaitable_of(coro_or_fn)?;
    let result = task_future(event_loop, awaitable, OnDrop::Cancel)?;
    future_into_py(py, async move {
        tokio::time::timeout(limit, result)
            .await
            .unwrap_or_else(|_| Err(PyTimeoutError::new_err("Rust stopped waiting")))
    })
}

/// ``await panic_future_into_py(message)``: a Rust future that panics. pyo3-async-runtimes
/// catches it and raises ``pyo3_async_runtimes.RustPanic`` in Python (its text
/// keeps only panic messages that are string literals, so here it says
/// "unknown error"; the message goes to stderr through Rust's panic hook).
#[pyfunction]
pub fn panic_future_into_py(py: Python<'_>, message: String) -> PyResult<Bound<'_, PyAny>> {
    future_into_py(py, async move {
        tokio::task::yield_now().await;
        explode(&message)
    })
}

/// Cancels the Task on the loop when dropped, unless disarmed first.
struct CancelOnDrop {
    task: Option<(Py<PyAny>, Py<PyAny>)>,
}

impl CancelOnDrop {
    /// The Task finished: nothing to cancel any more.
    fn disarm(&mut self) {
        self.task = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some((event_loop, task)) = self.task.take() else {
            return;
        };
        // From any thread: the Task belongs to the loop's thread, so the cancel
        // is posted there.
        post_threadsafe(&event_loop, |py| {
            PyTuple::new(py, [task.bind(py).getattr("cancel")?])
        });
    }
}

/// What dropping [`task_future`]'s Rust future does to the Python Task.
pub enum OnDrop {
    /// Leave it running, as pyo3-async-runtimes' `into_future` does.
    Leave,
    /// Cancel it: Rust stopped waiting, so nobody wants its result.
    Cancel,
}

/// pyo3-async-runtimes' `into_future`, made by the kit: the awaitable as a
/// Python Task on `event_loop`, and a Rust future of its result.
///
/// Must be called on the loop's thread with `event_loop` running (as from a
/// `#[pyfunction]` called by a coroutine): the Task is created here, in the
/// current context, and its done callback hands the result to Rust. The
/// callback takes the Task's exception as it is ([`call_method0_raised`]):
/// `into_future`'s, through PyO3, turns a `PanicException` back into a Rust
/// panic there, and its Rust future never ends.
pub fn task_future<'py>(
    event_loop: Bound<'py, PyAny>,
    awaitable: Bound<'py, PyAny>,
    on_drop: OnDrop,
) -> PyResult<impl RustFuture<Output = PyResult<Py<PyAny>>> + Send + 'static> {
    let py = awaitable.py();
    let task = py
        .import("asyncio")?
        .call_method1("ensure_future", (awaitable,))?;
    let (sender, receiver) = oneshot::channel::<PyResult<Py<PyAny>>>();
    let sender = Mutex::new(Some(sender));
    let on_done = PyCFunction::new_closure(
        py,
        None,
        None,
        move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
            let task = args.get_item(0)?;
            let result =
                call_method0_raised(&task, intern!(task.py(), "result")).map(Bound::unbind);
            if let Some(sender) = sender.lock().ok().and_then(|mut s| s.take()) {
                // The receiver is gone if Rust stopped waiting: nothing to do.
                let _ = sender.send(result);
            }
            Ok(())
        },
    )?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("context", copy_context(py)?)?;
    task.call_method("add_done_callback", (on_done,), Some(&kwargs))?;
    let mut guard = CancelOnDrop {
        task: matches!(on_drop, OnDrop::Cancel).then(|| (event_loop.unbind(), task.unbind())),
    };
    Ok(async move {
        let result = receiver.await;
        guard.disarm();
        result.unwrap_or_else(|_| {
            Err(PyRuntimeError::new_err(
                "the Python task was dropped without finishing",
            ))
        })
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sleep_future_into_py, m)?)?;
    m.add_function(wrap_pyfunction!(ready_future_into_py, m)?)?;
    m.add_function(wrap_pyfunction!(yield_future_into_py, m)?)?;
    m.add_function(wrap_pyfunction!(hop_future_into_py, m)?)?;
    m.add_function(wrap_pyfunction!(order_future_into_py, m)?)?;
    m.add_function(wrap_pyfunction!(order_blocking, m)?)?;
    m.add_function(wrap_pyfunction!(current_loop, m)?)?;
    m.add_function(wrap_pyfunction!(call_python, m)?)?;
    m.add_function(wrap_pyfunction!(call_python_with_timeout, m)?)?;
    m.add_function(wrap_pyfunction!(panic_future_into_py, m)?)?;
    // pyo3-async-runtimes' panic exception has no importable home (nor a
    // docstring) of its own.
    let rust_panic = m.py().get_type::<pyo3_async_runtimes::err::RustPanic>();
    rust_panic.setattr(
        "__doc__",
        "Raised by pyo3-async-runtimes when a Rust future behind ``future_into_py`` panics.",
    )?;
    m.add("RustPanic", rust_panic)?;
    Ok(())
}
