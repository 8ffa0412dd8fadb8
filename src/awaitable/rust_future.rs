//! Rust futures as Python awaitables: polled from `__next__`, woken through the loop.
//!
//! A Rust future does nothing until polled, and when it cannot finish it
//! returns `Pending` after handing its `Waker` to whoever will make progress (a
//! timer, a socket, another thread). A Python awaitable is stepped by its
//! awaiting Task. [`RustAwaitable`] joins the two, one step = one poll:
//!
//! 1. **Step.** The Task steps the awaitable (`__next__` / `send`), which polls
//!    the Rust future on the loop's thread, with a [`LoopWaker`].
//! 2. **Ready** → the await returns the value (or raises the error). The type
//!    fills the `am_send` slot ([`super::slots`]), so on 3.11 the value
//!    comes back without a `StopIteration`.
//! 3. **Pending** → the awaitable yields a fresh pending asyncio [`Future`] (a
//!    "waiter") and the Task sleeps on it, exactly as for `await some_future`.
//! 4. **Wake** (from any thread) → the waker finishes the waiter through
//!    `loop.call_soon_threadsafe`; the Task wakes and steps us: back to 1.
//!
//! Two details a reader would get wrong:
//!
//! - A future may wake itself *during* the poll (a cooperative yield does). The
//!   waker then has no waiter to finish yet, so it records "woken", and the
//!   step yields a bare `None` instead, which asyncio answers by stepping the
//!   Task again on the next loop iteration: no waiter, no thread hop, and not
//!   even a loop lookup (only a check that the task is not trio's). Only a wake
//!   made in the poll: one from another thread may land before the step ends
//!   or not, and a step with no loop must fail whichever way that race goes.
//! - Cancellation is dropping. Cancelling the Task cancels the waiter and
//!   throws `CancelledError` into the coroutine, whose `await` hands it to our
//!   `throw`: the Rust future is dropped there, which is how a Rust future is
//!   cancelled (its destructors release what it held). [`alive`](crate::support::live::alive) counts Rust
//!   futures still held, so tests can prove the drop.
//!
//! Which scheduler is waiting is asked once, with `sniffio`, at the first wait
//! that parks (before the first poll, for a future woken elsewhere): asyncio's
//! Task sleeps on a waiter future; a trio task parks in `wait_task_rescheduled`
//! and is rescheduled through the run's token
//! ([`TrioRoute`](super::trio_route::TrioRoute)). A [`WakeRoute`] holds each
//! scheduler's way.
//!
//! Cost per pending step, on the classic [`ThreadsafeRoute`]: one waiter
//! future, one `call_soon_threadsafe` (with the waking thread waiting for the
//! GIL), one extra loop iteration for the waiter's callback. The fast bridge
//! ([`crate::bridge::fast`]) is this same awaitable on another [`WakeRoute`].

use std::future::Future as RustFuture;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use pyo3::IntoPyObjectExt;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyTuple;

use super::call_graph::WaitsOn;
use super::future::Future;
use super::slots::{AmSend, Sent, panic_error};
use super::trio_route::{route_here, under_trio};
use super::wake::{LoopWaker, RouteFor, ThreadsafeRoute, WaitingTask, WakeRoute};
use crate::support::asyncio::{cancelled_error, thrown};
use crate::support::finish::REUSED;
use crate::support::live::Alive;
use crate::support::shapes::{explode, yield_now};
use crate::support::trashcan::{Flat, Held};

const ALREADY_RUNNING: &str = "RustAwaitable is already being polled";

/// A Rust future whose output becomes a Python object when it is ready: the one
/// shape every awaitable stores, whatever `F` and `T` it was made from.
trait PollPy: Send {
    fn poll_py(
        self: Pin<&mut Self>,
        py: Python<'_>,
        cx: &mut Context<'_>,
    ) -> Poll<PyResult<Py<PyAny>>>;
}

impl<F, T> PollPy for F
where
    F: RustFuture<Output = PyResult<T>> + Send,
    T: for<'py> IntoPyObject<'py>,
{
    fn poll_py(
        self: Pin<&mut Self>,
        py: Python<'_>,
        cx: &mut Context<'_>,
    ) -> Poll<PyResult<Py<PyAny>>> {
        self.poll(cx)
            .map(|output| output.and_then(|value| value.into_py_any(py)))
    }
}
/// A boxed future's captures may hold the next awaitable of a chain.
impl Held for Pin<Box<dyn PollPy>> {}

/// The boxed future, counted while it lives, and released flat.
struct Tracked {
    future: Flat<Pin<Box<dyn PollPy>>>,
    /// What the await gives when the future finishes, for a future made by
    /// [`into_awaitable_giving`]: held here, where `__traverse__` shows it to
    /// the collector, and not captured in the future, which the collector
    /// cannot see into. A value that refers back to its awaitable (a list
    /// holding it, an object's attribute) then makes a cycle the collector
    /// frees, as it frees one through a coroutine's frame. Flat: the value may
    /// be the next awaitable of a chain (`r = hop_awaitable(r)`, 200,000 deep).
    gives: Option<Flat>,
    _alive: Alive,
}

impl Tracked {
    fn new(future: Pin<Box<dyn PollPy>>, gives: Option<Py<PyAny>>) -> Self {
        Tracked {
            future: Flat::new(future),
            gives: gives.map(Flat::new),
            _alive: Alive::new(),
        }
    }
}

/// Where the awaitable is in its life.
enum Stage {
    /// Not finished; the future waits here between polls.
    Idle(Tracked),
    /// Taken out for a poll (which runs without the lock held).
    Polling,
    /// `cancel()` dropped the future; the next step raises `CancelledError`.
    Cancelled(Option<Py<PyAny>>),
    /// Returned, raised, thrown into or closed.
    Done,
}
/// What a second `await` of a suspended [`RustAwaitable`] raises: the words of
/// CPython's coroutine for the same mistake.
pub const AWAITED_ALREADY: &str = "RustAwaitable is being awaited already";

/// A Rust future, awaitable from Python.
///
/// Made by Rust code (``into_awaitable``) or by the examples ``sleep_awaitable`` and
/// ``compute``. Each step polls the Rust future on the loop's thread; while it
/// is pending the awaiting task sleeps on an asyncio future that the Rust side
/// wakes from any thread. Cancelling the awaiting task (or calling
/// ``cancel()``) drops the Rust future; a panic in it raises
/// ``pyo3_runtime.PanicException``. Awaitable once, like a coroutine.
#[pyclass(frozen, module = "coroscope.awaitable")]
pub struct RustAwaitable {
    stage: Mutex<Stage>,
    /// How wake-ups reach the loop.
    route_for: RouteFor,
    /// Made at the first step.
    waker: Mutex<Option<Arc<LoopWaker>>>,
    /// The last step parked its awaiter on a wait (not a bare yield): a task
    /// is suspended *in* this awaitable until its next step, woken or not.
    suspended: AtomicBool,
    /// What the future waits on, said by its maker: the boxed future cannot
    /// say it (see [`super::call_graph`]).
    waits_on: WaitsOn,
}

/// Turn a Rust future into a Python awaitable (see [`RustAwaitable`]).
pub fn into_awaitable<F, T>(py: Python<'_>, future: F) -> PyResult<Bound<'_, RustAwaitable>>
where
    F: RustFuture<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + 'static,
{
    into_awaitable_with(py, future, ThreadsafeRoute::for_loop, WaitsOn::UNNAMED)
}

/// [`into_awaitable`], with wake-ups taking the route `route_for` makes, and
/// what the future waits on said for the call graph.
pub fn into_awaitable_with<F, T>(
    py: Python<'_>,
    future: F,
    route_for: RouteFor,
    waits_on: WaitsOn,
) -> PyResult<Bound<'_, RustAwaitable>>
where
    F: RustFuture<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + 'static,
{
    new_awaitable(
        py,
        Tracked::new(Box::pin(future), None),
        route_for,
        waits_on,
    )
}

/// An awaitable that gives `value` once `future` finishes (or raises what it
/// raised). Where a future would only carry a Python value to its end, this
/// keeps the value out of it, in a field `__traverse__` shows the collector: a
/// value that refers back to its awaitable then makes a cycle the collector frees.
pub fn into_awaitable_giving<F>(
    py: Python<'_>,
    value: Py<PyAny>,
    future: F,
    route_for: RouteFor,
    waits_on: WaitsOn,
) -> PyResult<Bound<'_, RustAwaitable>>
where
    F: RustFuture<Output = PyResult<()>> + Send + 'static,
{
    let future = Tracked::new(Box::pin(future), Some(value));
    new_awaitable(py, future, route_for, waits_on)
}

fn new_awaitable(
    py: Python<'_>,
    future: Tracked,
    route_for: RouteFor,
    waits_on: WaitsOn,
) -> PyResult<Bound<'_, RustAwaitable>> {
    Bound::new(
        py,
        RustAwaitable {
            stage: Mutex::new(Stage::Idle(future)),
            route_for,
            waker: Mutex::new(None),
            suspended: AtomicBool::new(false),
            waits_on,
        },
    )
}
impl RustAwaitable {
    fn stage(&self) -> MutexGuard<'_, Stage> {
        self.stage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The waker for this awaitable, made at the first step.
    fn loop_waker(&self) -> Arc<LoopWaker> {
        self.waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| Arc::new(LoopWaker::new()))
            .clone()
    }

    /// One step: poll once and say what the awaiting coroutine gets.
    fn step<'py>(&self, py: Python<'py>) -> PyResult<Sent<'py>> {
        let waker = self.loop_waker();
        {
            let mut waiting = waker.waiting();
            // A task is parked here and nothing has woken it (a wake-up takes
            // the waiter): this step is someone else's, such as a second Task
            // made by `ensure_future(awaitable)`, which steps the awaitable
            // directly (it looks like a coroutine: `send`, `throw`, `close`)
            // and never calls `__await__`. Parking it too would overwrite the
            // first task's waiter, and the first task would sleep forever.
            if waiting.waiter.is_some() {
                return Err(PyRuntimeError::new_err(AWAITED_ALREADY));
            }
            waiting.woken = false;
            waiting.woken_in_poll = false;
        }
        self.suspended.store(false, Ordering::Release);
        // Bound first: a guard made in the `match` head would live through the arms.
        let taken = std::mem::replace(&mut *self.stage(), Stage::Polling);
        let mut future = match taken {
            Stage::Idle(future) => future,
            Stage::Polling => return Err(PyValueError::new_err(ALREADY_RUNNING)),
            Stage::Cancelled(message) => {
                *self.stage() = Stage::Done;
                let message = message.map(|m| m.into_bound(py));
                return Err(PyErr::from_value(cancelled_error(py, message.as_ref())?));
            }
            Stage::Done => {
                *self.stage() = Stage::Done;
                return Err(PyRuntimeError::new_err(format!("{REUSED} RustAwaitable")));
            }
        };
        // After `coroscope.shutdown()` the runtime the future may need is gone:
        // a tokio timer or socket polled then panics ("being shutdown"), and
        // the panic hook prints that on stderr before the panic could become an
        // exception. So the await says what happened without polling, in the
        // words every entry point uses after shutdown.
        if crate::support::runtime::is_shut_down() {
            *self.stage() = Stage::Done;
            drop(future);
            return Err(PyRuntimeError::new_err(crate::support::runtime::SHUT_DOWN));
        }
        // Woken from another thread, it may be ready at its first poll or not:
        // the loop is found first (see the module doc).
        if self.waits_on.elsewhere
            && let Err(err) = self.route(py, &waker)
        {
            *self.stage() = Stage::Idle(future);
            return Err(err);
        }
        let std_waker = Waker::from(waker.clone());
        let mut cx = Context::from_waker(&std_waker);
        // A panic must become a Python exception here, not unwind through the
        // interpreter; the future that panicked is dropped with it.
        let polled = catch_unwind(AssertUnwindSafe(|| {
            waker.polling(|| future.future.as_mut().poll_py(py, &mut cx))
        }));
        match polled {
            // A shutdown from another thread during the poll: the same answer.
            Err(_) if crate::support::runtime::is_shut_down() => {
                *self.stage() = Stage::Done;
                drop(future);
                Err(PyRuntimeError::new_err(crate::support::runtime::SHUT_DOWN))
            }
            Err(payload) => {
                *self.stage() = Stage::Done;
                drop(future);
                Err(panic_error(payload))
            }
            Ok(Poll::Ready(output)) => {
                *self.stage() = Stage::Done;
                let output = output?;
                let output = match &future.gives {
                    Some(value) => value.clone_ref(py),
                    None => output,
                };
                Ok(Sent::Return(output.into_bound(py)))
            }
            Ok(Poll::Pending) => {
                {
                    let mut stage = self.stage();
                    match &*stage {
                        // `cancel()` came during the poll: honour it now.
                        Stage::Cancelled(_) => {}
                        _ => *stage = Stage::Idle(future),
                    }
                }
                self.wait_for_wake(py, &waker)
            }
        }
    }

    /// After a `Pending` poll: park the awaiting task until a wake-up (or, on
    /// asyncio, yield a bare `None` if the future already woke itself).
    fn wait_for_wake<'py>(&self, py: Python<'py>, waker: &Arc<LoopWaker>) -> PyResult<Sent<'py>> {
        if waker.route.get().is_none() && waker.waiting().woken_in_poll && !under_trio(py)? {
            // asyncio, and the future woke itself in its poll (not another
            // thread: see the module doc): a bare yield needs no loop yet.
            return Ok(Sent::Yield(py.None().into_bound(py)));
        }
        let (anchor, route) = self.route(py, waker)?;
        if route.bare_yield_ok() && waker.waiting().woken {
            return Ok(Sent::Yield(py.None().into_bound(py)));
        }
        let parked = route.park(anchor.bind(py), WaitingTask::of(waker))?;
        let woken = {
            let mut waiting = waker.waiting();
            waiting.waiter = Some(parked.waiter);
            waiting.trap = parked.trap;
            waiting.woken
        };
        if woken {
            // Woken while parking: resume the task at once.
            route.deliver(WaitingTask::of(waker));
        }
        self.suspended.store(true, Ordering::Release);
        Ok(Sent::Yield(parked.yielded.into_bound(py)))
    }

    /// The scheduler waiting here and the route to it, found at the first
    /// step that needs them (asyncio's running loop, or the trio run).
    fn route<'w>(
        &self,
        py: Python<'_>,
        waker: &'w LoopWaker,
    ) -> PyResult<&'w (Py<PyAny>, Arc<dyn WakeRoute>)> {
        if let Some(found) = waker.route.get() {
            return Ok(found);
        }
        let (anchor, route) = route_here(py, self.route_for)?;
        // Only the loop's thread gets here; a lost race would set the same.
        let _ = waker.route.set((anchor.unbind(), route));
        Ok(waker.route.get().expect("set just above"))
    }

    /// Under trio, the task resumes by sending an outcome into our trap; pass
    /// it on, so that a cancellation is raised here (and ends the awaitable).
    fn resume_trap(&self, py: Python<'_>, outcome: &Bound<'_, PyAny>) -> PyResult<()> {
        let trap = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|waker| waker.waiting().trap.take());
        let Some(trap) = trap else {
            return Ok(());
        };
        match trap.bind(py).call_method1("send", (outcome,)) {
            Err(err) if err.is_instance_of::<pyo3::exceptions::PyStopIteration>(py) => Ok(()),
            Err(err) => {
                self.end(Stage::Done);
                Err(err)
            }
            Ok(_) => Err(PyRuntimeError::new_err("trio yielded twice from one wait")),
        }
    }

    /// Drop the Rust future, whatever stage it is in, and forget the waiter.
    fn end(&self, then: Stage) {
        let old = std::mem::replace(&mut *self.stage(), then);
        drop(old);
        if let Some(waker) = &*self.waker.lock().unwrap_or_else(PoisonError::into_inner) {
            let parked = {
                let mut waiting = waker.waiting();
                (waiting.waiter.take(), waiting.trap.take())
            };
            drop(parked);
        }
    }
}

/// `await` on 3.11 steps through this slot: a finished Rust future hands
/// its value back without a `StopIteration`.
impl AmSend for RustAwaitable {
    fn am_send<'py>(slf: &Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Sent<'py>> {
        let (py, this) = (slf.py(), slf.get());
        this.resume_trap(py, value)?;
        this.step(py)
    }
}

#[pymethods]
impl RustAwaitable {
    /// A second ``await`` while a task is suspended in this one raises at
    /// once, as for a coroutine suspended in an ``await``: both awaiters would
    /// share one waker, and the one whose wait is overwritten would sleep
    /// forever (or the second would take the first one's result). Stepped by
    /// hand to a bare yield, nobody waits in it: awaiting it then is fine, as
    /// for a coroutine suspended at its own ``yield``.
    fn __await__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let this = slf.get();
        if this.suspended.load(Ordering::Acquire) && !this.done() {
            return Err(PyRuntimeError::new_err(AWAITED_ALREADY));
        }
        Ok(slf)
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.step(py)?.into_next()
    }

    /// Step once. The value sent in is ignored (a Rust future takes no input),
    /// except under trio, where it is the outcome of the wait.
    fn send(slf: &Bound<'_, Self>, value: Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Self::am_send(slf, &value)?.into_send()
    }

    /// Drop the Rust future and raise the exception given, as a coroutine that
    /// does not catch it would.
    #[pyo3(
        signature = (r#type, *rest),
        text_signature = "($self, type, value=None, traceback=None, /)"
    )]
    fn throw(&self, r#type: Bound<'_, PyAny>, rest: &Bound<'_, PyTuple>) -> PyResult<()> {
        let err = thrown(r#type, rest)?;
        self.end(Stage::Done);
        Err(err)
    }

    /// What the Rust future waits on, as ``(what, seconds_left)``: said by
    /// the function that made it (``("a tokio timer", 0.0123)`` for a sleep;
    /// ``seconds_left`` is ``None`` for a wait with no deadline).
    /// ``None`` once the awaitable has finished. ``coroscope.call_graph``
    /// shows it as the last link of a task's await chain.
    #[getter]
    fn waiting_on(&self) -> Option<(&'static str, Option<f64>)> {
        (!self.done()).then(|| self.waits_on.as_python())
    }

    /// Drop the Rust future.
    fn close(&self) {
        self.end(Stage::Done);
    }

    /// Drop the Rust future now; the awaiting task (if any) is woken and its
    /// ``await`` raises ``CancelledError(msg)``. Returns ``False`` if the
    /// awaitable had already finished.
    #[pyo3(signature = (msg = None))]
    fn cancel(&self, py: Python<'_>, msg: Option<Py<PyAny>>) -> PyResult<bool> {
        if matches!(&*self.stage(), Stage::Done | Stage::Cancelled(_)) {
            return Ok(false);
        }
        let waker = self
            .waker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let message = msg.as_ref().map(|m| m.clone_ref(py));
        let stage = Stage::Cancelled(msg);
        let Some(waker) = waker else {
            self.end(stage);
            return Ok(true);
        };
        let is_future = waker
            .waiting()
            .waiter
            .as_ref()
            .is_some_and(|w| w.bind(py).is_instance_of::<Future>());
        if is_future {
            // asyncio: cancelling the waiter wakes the Task, whose next step
            // finds us cancelled.
            let waiter = waker.waiting().waiter.take();
            self.end(stage);
            if let Some(waiter) = waiter {
                Future::cancel(waiter.bind(py).cast::<Future>()?, message)?;
            }
        } else {
            // trio: resume the parked task the way a wake-up would.
            if let Some((_, route)) = waker.route.get() {
                route.deliver(WaitingTask::of(&waker));
            }
            self.end(stage);
        }
        Ok(true)
    }

    /// True once the awaitable has finished, been cancelled or closed.
    fn done(&self) -> bool {
        !matches!(&*self.stage(), Stage::Idle(_) | Stage::Polling)
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        // The waiter refers (through the Task's wake-up callback) back to the
        // coroutine awaiting us: a cycle the collector must see to free a task
        // abandoned on a closed loop. `try_lock`: see `Future::__traverse__`.
        if let Ok(stage) = self.stage.try_lock() {
            match &*stage {
                Stage::Idle(Tracked {
                    gives: Some(value), ..
                }) => visit.call(&**value)?,
                Stage::Cancelled(Some(message)) => visit.call(message)?,
                _ => {}
            }
        }
        let Ok(waker) = self.waker.try_lock() else {
            return Ok(());
        };
        if let Some(waker) = &*waker
            && let Ok(waiting) = waker.waiting.try_lock()
        {
            visit.call(&waiting.waiter)?;
            visit.call(&waiting.trap)?;
        }
        Ok(())
    }

    fn __clear__(&self) {
        self.end(Stage::Done);
    }

    fn __repr__(&self) -> &'static str {
        match &*self.stage() {
            Stage::Idle(_) => "<RustAwaitable pending>",
            Stage::Polling => "<RustAwaitable polling>",
            Stage::Cancelled(_) => "<RustAwaitable cancelled>",
            Stage::Done => "<RustAwaitable done>",
        }
    }
}
// --- examples --------------------------------------------------------------

/// ``await compute(n)`` gives ``0 + 1 + ... + (n - 1)``, adding in chunks of
/// 10,000 and yielding to the loop between chunks: a Rust future that wakes
/// itself, so other tasks run in between.
#[pyfunction]
pub fn compute(py: Python<'_>, n: i64) -> PyResult<Bound<'_, RustAwaitable>> {
    let n = crate::support::args::count("n", n)?;
    const CHUNK: u64 = 10_000;
    into_awaitable(py, async move {
        let mut total: u128 = 0;
        for start in (0..n).step_by(CHUNK as usize) {
            total += (start..n.min(start + CHUNK)).map(u128::from).sum::<u128>();
            yield_now().await;
        }
        Ok(total)
    })
}

/// ``await panic_awaitable(message)`` panics inside the Rust future: the await raises
/// ``PanicException(message)`` and the process goes on.
#[pyfunction]
pub fn panic_awaitable(py: Python<'_>, message: String) -> PyResult<Bound<'_, RustAwaitable>> {
    into_awaitable(py, async move {
        yield_now().await;
        explode(&message)
    })
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RustAwaitable>()?;
    super::slots::install_am_send::<RustAwaitable>(m.py())?;
    m.add_function(wrap_pyfunction!(compute, m)?)?;
    m.add_function(wrap_pyfunction!(panic_awaitable, m)?)?;
    Ok(())
}
