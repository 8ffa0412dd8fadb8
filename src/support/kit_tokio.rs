//! pyo3-async-runtimes on the kit's own tokio runtime.
//!
//! pyo3-async-runtimes' `tokio` module keeps its runtime in a `static` that can
//! never be shut down (see [`super::runtime`] for why the kit must). Its
//! `generic` module takes any runtime that can spawn, spawn blocking work and
//! carry task-locals: [`KitTokio`] is that, on the kit's runtime. Every
//! `future_into_py`-style route of the kit goes through here, and so
//!
//! - is refused once the runtime is shut down ([`SHUT_DOWN`]), and
//! - fails with [`SHUT_DOWN`] when a shutdown by hand cuts it while a loop
//!   waits for it (an executor's `cancel_futures=True`), rather than staying
//!   pending for ever.
//!
//! Counted in flight from the spawn ([`InFlight`]): shutdown waits for the cut
//! work to reach its loop before tokio stops.

use std::cell::{Cell, OnceCell};
use std::future::Future as RustFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;
use pyo3_async_runtimes::TaskLocals;
use pyo3_async_runtimes::generic::{self, ContextExt, Runtime as GenericRuntime};
use tokio::task::JoinHandle;

use super::exit::{self, exiting, in_flight_unless_exiting};
use super::fork_gate::{self, Gated};
use super::in_flight::InFlight;
use super::runtime::{SHUT_DOWN, ensure_open, is_shut_down, spawn_handle, unless_shut_down};
use super::rust_side::{self, Recorded};
use super::threads::wait_until;

/// What the Rust side of `future_into_py` is called in a recording.
const FUTURE_INTO_PY: &str = "future_into_py";

/// pyo3-async-runtimes' `generic` runtime, backed by the kit's tokio runtime:
/// what its `tokio` module does, minus the runtime nobody can shut down.
pub struct KitTokio;

impl GenericRuntime for KitTokio {
    type JoinError = tokio::task::JoinError;
    type JoinHandle = JoinHandle<()>;

    fn spawn<F>(fut: F) -> JoinHandle<()>
    where
        F: RustFuture<Output = ()> + Send + 'static,
    {
        // Counted: pyo3-async-runtimes' outer task awaits the inner one, which
        // hands its result to a blocking closure before it ends, so the count
        // never drops to zero between a cut future and its closure.
        let in_flight = InFlight::new();
        spawn_handle().spawn(Gated::new(Recorded::polls(FUTURE_INTO_PY, async move {
            let _in_flight = in_flight;
            fut.await;
        })))
    }

    fn spawn_blocking<F>(f: F) -> JoinHandle<()>
    where
        F: FnOnce() + Send + 'static,
    {
        let in_flight = InFlight::new();
        let finishing = FINISHING.take();
        let hand_over = move || {
            // Inside the fork gate until everything it held is dropped.
            let _inside = fork_gate::enter();
            let _in_flight = in_flight;
            // pyo3-async-runtimes hands each result to its loop here, attached.
            // To a closed loop it would only print "Event loop is closed", a
            // traceback per result; asyncio drops a result for a closed loop
            // (`_chain_future`), and so does the kit. Once the interpreter
            // exits every loop is closed, and the closure is dropped without
            // attaching: 2,000 tracebacks outlasted the exit's wait for work
            // in flight, and a thread that attached after it aborted the process.
            if exiting() {
                return;
            }
            match finishing {
                Some(locals) => rust_side::attach(FUTURE_INTO_PY, |py| {
                    let closed = locals
                        .event_loop(py)
                        .call_method0(intern!(py, "is_closed"))
                        .and_then(|closed| closed.is_truthy());
                    if !matches!(closed, Ok(true)) {
                        // The result goes to the loop by `call_soon_threadsafe`.
                        rust_side::with_flow(rust_side::wake(FUTURE_INTO_PY), f);
                    }
                }),
                None => f(),
            }
            if let Some(handed_over) = HANDED_OVER.take() {
                handed_over.store(true, Ordering::Release);
            }
        };
        if is_shut_down() {
            // Cut by a shutdown: handed over one after another by one task,
            // not each on a blocking thread of its own. 20,000 cut futures
            // took 512 threads queueing for the interpreter over 2 s, longer
            // than shutdown waits; the loop then closed while hundreds of them
            // sat between the check above and `call_soon_threadsafe`'s own,
            // each printing "Event loop is closed".
            return CutHandOvers::push(Box::new(hand_over));
        }
        spawn_handle().spawn_blocking(hand_over)
    }
}

/// The hand-overs of futures a shutdown cut, run in the order they come by
/// one task at a time: the first pushed while none runs starts one, which
/// runs until the queue is empty.
struct CutHandOvers {
    waiting: Vec<HandOver>,
    /// Whether a task runs them now (so a push starts none).
    running: bool,
}

type HandOver = Box<dyn FnOnce() + Send>;

static CUT_HAND_OVERS: Mutex<CutHandOvers> = Mutex::new(CutHandOvers {
    waiting: Vec::new(),
    running: false,
});

fn cut_hand_overs() -> std::sync::MutexGuard<'static, CutHandOvers> {
    CUT_HAND_OVERS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

impl CutHandOvers {
    fn push(hand_over: HandOver) -> JoinHandle<()> {
        let starts = {
            let mut queue = cut_hand_overs();
            queue.waiting.push(hand_over);
            !std::mem::replace(&mut queue.running, true)
        };
        // Made out here: a task the stopping runtime drops unpolled drops it too.
        let unrun = Unrun(starts);
        spawn_handle().spawn(async move {
            if !unrun.0 {
                return;
            }
            loop {
                let batch = {
                    let mut queue = cut_hand_overs();
                    let batch = std::mem::take(&mut queue.waiting);
                    queue.running = !batch.is_empty();
                    batch
                };
                if batch.is_empty() {
                    break;
                }
                batch.into_iter().for_each(|hand_over| hand_over());
            }
            // All ran: nothing to drop.
            std::mem::forget(unrun);
        })
    }
}

/// Armed while the task runs the queue: dropped armed (the runtime stopped
/// before the task ran), it drops what waits, so that the counts in flight
/// they carry end, and lets the next push start a task.
struct Unrun(bool);

impl Drop for Unrun {
    fn drop(&mut self) {
        if self.0 {
            let waiting = {
                let mut queue = cut_hand_overs();
                queue.running = false;
                std::mem::take(&mut queue.waiting)
            };
            drop(waiting);
        }
    }
}

/// The longest `run_loop` waits for a hand-over before closing its loop.
const HAND_OVER_WAIT: Duration = Duration::from_secs(1);

thread_local! {
    /// Set by a [`Delivery`] as the hand-over converts it (inside
    /// pyo3-async-runtimes' `set_result`), and raised by the hand-over once
    /// that has returned: `run_loop` waits for it before it closes a loop
    /// that stopped before its answer came.
    static HANDED_OVER: Cell<Option<Arc<AtomicBool>>> = const { Cell::new(None) };

    /// The task-locals (so the loop) of a route that has just finished: set at
    /// its end, and taken by the blocking closure pyo3-async-runtimes spawns
    /// next, in the same poll on the same thread, to hand the result over.
    static FINISHING: Cell<Option<TaskLocals>> = const { Cell::new(None) };
}

tokio::task_local! {
    /// The event loop and context of the Python call that started this task:
    /// how `get_current_loop` finds the loop from inside a Rust future.
    static TASK_LOCALS: OnceCell<TaskLocals>;
}

impl ContextExt for KitTokio {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn RustFuture<Output = R> + Send>>
    where
        F: RustFuture<Output = R> + Send + 'static,
    {
        Box::pin(TASK_LOCALS.scope(OnceCell::from(locals), fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|cell| cell.get().cloned())
            .unwrap_or_default()
    }
}

/// pyo3-async-runtimes' `future_into_py` on the kit's runtime (or
/// [`SHUT_DOWN`], before anything is started); a [`shutdown`](super::runtime::shutdown) while `fut` is
/// pending fails the asyncio future with [`SHUT_DOWN`].
pub fn future_into_py<F, T>(py: Python<'_>, fut: F) -> PyResult<Bound<'_, PyAny>>
where
    F: RustFuture<Output = PyResult<T>> + Send + 'static,
    T: for<'py> IntoPyObject<'py> + Send + 'static,
{
    ensure_open()?;
    generic::future_into_py::<KitTokio, _, T>(py, cut_at_shutdown(fut))
}

/// pyo3-async-runtimes' `run` on the kit's runtime: a fresh asyncio loop,
/// run in this thread until `fut` is done on tokio, then closed.
///
/// Plus what `asyncio.Runner.run` does when the run is interrupted (Ctrl-C):
/// the asyncio future is cancelled and the loop run once more, so that its
/// done callback tells the Rust side (pyo3-async-runtimes then drops `fut`).
/// Left alone, the work would go on after the caller has moved on and, when
/// done, report the loop it finds closed.
///
/// What a reader would get wrong: this thread runs Python code (making the
/// loop, its turns, its `close`) under a Rust frame. In a daemon thread, if
/// the interpreter began to finalize meanwhile, 3.11 to 3.13 end the thread
/// the next time it takes the GIL back (a system call, a thread switch) with
/// a forced unwind that the Rust frame turns into an abort. So this frame is
/// counted in flight, and the exit waits for it, whenever Python runs here:
/// from the call until the loop first waits (`run_loop`), and from the
/// answer until the return (`Delivery`). In between, once the exit has
/// begun, the kit never wakes the loop (the hand-over drops the answer), but
/// a loop of the user's may wake by itself: so the exit wakes it, with a
/// callback that parks the thread for good (`Parking`).
pub fn run<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: RustFuture<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
{
    let Some(starting) = in_flight_unless_exiting() else {
        return Err(PyRuntimeError::new_err(SHUT_DOWN));
    };
    let starting = Arc::new(Mutex::new(Some(starting)));
    let ran = run_loop(py, fut, &starting);
    // Taken here too: when the loop never waited, its hook still holds it.
    let_go(&starting);
    // Counted until the caller's frame has let go of the loop (`run_loop`'s
    // locals) and only hands the value to Python.
    let (value, _finishing) = ran?;
    value
}

/// [`run`]'s loop, from its making to its closing: the answer, with the count
/// held since it was ready. `starting` is let go as the loop first waits
/// with nothing else to do ([`let_go_when_waiting`]).
fn run_loop<F, T>(py: Python<'_>, fut: F, starting: &Starting) -> PyResult<(PyResult<T>, InFlight)>
where
    F: RustFuture<Output = PyResult<T>> + Send + 'static,
    T: Send + 'static,
{
    ensure_open()?;
    let event_loop = py.import("asyncio")?.call_method0("new_event_loop")?;
    let slot = Arc::new(Mutex::new(Post::Empty));
    let to = slot.clone();
    let locals = TaskLocals::new(event_loop.clone()).copy_context(py)?;
    let future = generic::future_into_py_with_locals::<KitTokio, _, _>(py, locals, async move {
        Ok(Delivery {
            answer: cut_at_shutdown(fut).await,
            in_flight: InFlight::new(),
            to,
        })
    })?;
    let selector = let_go_when_waiting(&event_loop, starting)?;
    let mailbox = slot.clone();
    let parking = Parking::new(starting, move || {
        let mut post = mailbox.lock().unwrap_or_else(PoisonError::into_inner);
        let unanswered = matches!(*post, Post::Empty);
        if unanswered {
            *post = Post::Closed;
        }
        unanswered
    });
    let _woken = exit::wake_at_exit(parking.woken_by_exit(&event_loop));
    if exiting() {
        // Registered as or after the exit woke the loops: parked here.
        parking.park_unless_answered(py);
    }
    let run_until_complete = intern!(py, "run_until_complete");
    let ran = event_loop.call_method1(run_until_complete, (&future,));
    if ran.is_err() && future.call_method0(intern!(py, "cancel"))?.is_truthy()? {
        // Its result is the `CancelledError` just asked for.
        let _ = event_loop.call_method1(run_until_complete, (&future,));
    }
    if ran.is_err() {
        // An answer handed over meanwhile may still be in the loop's
        // `call_soon_threadsafe`, which is Python and may let the GIL go: the
        // loop closed under it, and a bare "Event loop is closed" traceback
        // was printed (now and then, with loops that stop themselves).
        let handed_over = match &*slot.lock().unwrap_or_else(PoisonError::into_inner) {
            Post::Answered { handed_over, .. } => Some(handed_over.clone()),
            Post::Empty | Post::Closed => None,
        };
        if let Some(handed_over) = handed_over {
            let until = Instant::now() + HAND_OVER_WAIT;
            py.detach(|| wait_until(until, || handed_over.load(Ordering::Acquire)));
        }
    }
    if let Some(selector) = selector {
        // Unhooked: the hook and the selector hold each other.
        selector.delattr(intern!(py, "select"))?;
    }
    event_loop.call_method0(intern!(py, "close"))?;
    // Nothing to wake any more: a wake's count, queued on the loop as it
    // stopped, goes now, not whenever its callback happens to be freed (in
    // debug mode, not before the exit had waited out its bound, now and then).
    drop(parking.settle());
    let post = std::mem::replace(
        &mut *slot.lock().unwrap_or_else(PoisonError::into_inner),
        Post::Empty,
    );
    let done = match post {
        Post::Answered {
            answer, in_flight, ..
        } => Some((answer, in_flight)),
        Post::Empty | Post::Closed => None,
    };
    ran?;
    // Never empty after a run that succeeded; asyncio's words if it were.
    done.ok_or_else(|| PyRuntimeError::new_err("Event loop stopped before Future completed."))
}

/// [`run`]'s count from the call until its loop first waits: taken by
/// whichever lets go first, the loop or `run` itself.
type Starting = Arc<Mutex<Option<InFlight>>>;

fn let_go(starting: &Starting) {
    starting
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
}

/// Lets `starting` go when `event_loop` first waits with nothing else to do,
/// so that nothing the loop runs before (Python, which may let the GIL go)
/// is left uncounted. asyncio's loops, and the subclasses a policy may make
/// (which may run Python of their own after any callback), wait in their
/// selector's `select(None)`: that method is hooked on the instance, and the
/// hooked selector is returned to be unhooked. Loops without a Python
/// selector (uvloop, rloop) wait in native code once their callbacks are
/// done: a callback on the first turn lets go (as for a selector that cannot
/// be hooked).
///
/// What is left, on 3.11-3.13, is the few lines of `selectors`' own
/// `select` between the hook and its system call: a thread switch there and
/// a whole exit before the thread runs again.
fn let_go_when_waiting<'py>(
    event_loop: &Bound<'py, PyAny>,
    starting: &Starting,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    let py = event_loop.py();
    let selector = event_loop
        .getattr_opt(intern!(py, "_selector"))?
        .filter(|selector| !selector.is_none());
    if let Some(selector) = selector {
        // One that cannot be hooked (a class without `select` of its own,
        // `__slots__`) is left as it is: the callback below.
        if hook_select(&selector, starting.clone()).is_ok() {
            return Ok(Some(selector));
        }
    }
    let starting = starting.clone();
    let waits = PyCFunction::new_closure(py, None, None, move |_, _| let_go(&starting))?;
    event_loop.call_method1(intern!(py, "call_soon"), (waits,))?;
    Ok(None)
}

/// Sets on `selector` a `select` that lets `starting` go when it would wait
/// until woken, then calls the class's own.
fn hook_select(selector: &Bound<'_, PyAny>, starting: Starting) -> PyResult<()> {
    let py = selector.py();
    // The class's `select`, called with the selector the method binds: the
    // hook holds no reference the cycle collector cannot see.
    let select = selector.get_type().getattr(intern!(py, "select"))?.unbind();
    let hook = PyCFunction::new_closure(py, None, None, move |args, kwargs| {
        // `select(self, timeout=None)`: None waits until woken.
        let timeout = match args.get_item(1) {
            Ok(timeout) => Some(timeout),
            Err(_) => kwargs.and_then(|kwargs| kwargs.get_item("timeout").ok().flatten()),
        };
        if timeout.is_none_or(|timeout| timeout.is_none()) {
            let_go(&starting);
        }
        select.bind(args.py()).call(args, kwargs).map(Bound::unbind)
    })?;
    let method_type = py.import("types")?.getattr(intern!(py, "MethodType"))?;
    selector.setattr(intern!(py, "select"), method_type.call1((hook, selector))?)
}

/// How the exit stops [`run`]'s loop (see [`exit::wake_at_exit`]): the
/// thread parks for good, as every wait of the kit's does at exit. A loop of
/// the user's (made through an event loop policy) may run Python whenever its
/// own timers or selector wake it, counted or not: without this, it was the
/// daemon-thread abort told at the top of [`run`] (every exit, with a loop
/// ticking every few milliseconds), or it held the count and the exit waited
/// out its bound.
#[derive(Clone)]
struct Parking {
    state: Arc<Mutex<ParkingState>>,
    starting: Starting,
    /// The loop's thread, the only one to park: a loop whose
    /// `call_soon_threadsafe` runs the callback at once would park the
    /// thread running the `atexit` handlers, and the exit would never end.
    thread: std::thread::ThreadId,
    /// Closes `run_loop`'s mailbox unless the answer is there, and says
    /// whether it did. Answered, the loop stops soon by itself and the thread
    /// returns, counted by its [`Delivery`]; closed, an answer that comes
    /// after (its hand-over was under way as the exit began) is dropped with
    /// its count, not left to hold the exit for a parked thread. Not the
    /// future's `done()`: the mailbox is filled before the result is queued
    /// on the loop, maybe after the exit's callback.
    close_unless_answered: Arc<dyn Fn() -> bool + Send + Sync>,
}

enum ParkingState {
    Running,
    /// Woken by the exit: a callback is queued on the loop, and counted in
    /// flight until it parks the thread (or finds the answer there).
    Woken {
        _queued: InFlight,
    },
    /// Parked, or returning with its answer: no wake is needed any more.
    Settled,
}

impl Parking {
    fn new(
        starting: &Starting,
        close_unless_answered: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        let state = Arc::new(Mutex::new(ParkingState::Running));
        let close_unless_answered = Arc::new(close_unless_answered);
        Parking {
            state,
            starting: starting.clone(),
            thread: std::thread::current().id(),
            close_unless_answered,
        }
    }

    fn settle(&self) -> ParkingState {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *state, ParkingState::Settled)
    }

    /// Unless answered, lets go of every count the loop's thread holds and
    /// parks it for good, when it is this thread. A thread the interpreter
    /// joins (see [`exit`]) goes on.
    fn park_unless_answered(&self, py: Python<'_>) {
        let elsewhere = std::thread::current().id() != self.thread;
        if elsewhere || !exit::parks_now() || !(self.close_unless_answered)() {
            drop(self.settle());
            return;
        }
        let_go(&self.starting);
        drop(self.settle());
        exit::wait_out_exit(py);
    }

    /// What the exit calls: queues on `event_loop`, by
    /// `call_soon_threadsafe`, a callback that parks its thread unless
    /// answered. A closed loop refuses it, and the count goes with it.
    fn woken_by_exit(
        &self,
        event_loop: &Bound<'_, PyAny>,
    ) -> impl Fn(Python<'_>) + Send + Sync + 'static {
        let event_loop = event_loop.clone().unbind();
        let parking = self.clone();
        move |py| {
            {
                let mut state = parking.state.lock().unwrap_or_else(PoisonError::into_inner);
                if !matches!(*state, ParkingState::Running) {
                    return;
                }
                *state = ParkingState::Woken {
                    _queued: InFlight::new(),
                };
            }
            let parks = parking.clone();
            let park = PyCFunction::new_closure(py, None, None, move |args, _| {
                parks.park_unless_answered(args.py());
            });
            let threadsafe = intern!(py, "call_soon_threadsafe");
            let queued =
                park.and_then(|park| event_loop.bind(py).call_method1(threadsafe, (park,)));
            if queued.is_err() {
                drop(parking.settle());
            }
        }
    }
}

/// [`run`]'s answer on its way to the loop's thread, counted in flight from
/// when it is ready. pyo3-async-runtimes converts it for the loop in the
/// hand-over, just before it wakes the loop: the conversion puts it, count and
/// all, where `run_loop` finds it, and the count holds the exit until `run`
/// returns. What a reader would get wrong: the hand-over the exit drops unsaid
/// ([`KitTokio::spawn_blocking`]) drops it too, and its count with it. Kept
/// anywhere else, that count would outlive a loop that never runs again, and
/// the exit would wait out its bound for it (orders ending as the exit begins:
/// a 2 s stall, one exit in three).
struct Delivery<T> {
    answer: PyResult<T>,
    in_flight: InFlight,
    to: Mailbox<T>,
}

/// Where [`Delivery`] leaves the answer, with its count, for `run_loop`.
type Mailbox<T> = Arc<Mutex<Post<T>>>;

enum Post<T> {
    Empty,
    Answered {
        answer: PyResult<T>,
        in_flight: InFlight,
        /// Raised once the hand-over that brought it is done ([`HANDED_OVER`]).
        handed_over: Arc<AtomicBool>,
    },
    /// The exit parked the thread ([`Parking`]): an answer is dropped.
    Closed,
}

impl<'py, T> IntoPyObject<'py> for Delivery<T> {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = std::convert::Infallible;

    /// The answer, for `run_loop`; the loop's future only learns it is done.
    fn into_pyobject(self, py: Python<'py>) -> Result<Self::Output, Self::Error> {
        let mut post = self.to.lock().unwrap_or_else(PoisonError::into_inner);
        if matches!(*post, Post::Empty) {
            let handed_over = Arc::new(AtomicBool::new(false));
            HANDED_OVER.set(Some(handed_over.clone()));
            *post = Post::Answered {
                answer: self.answer,
                in_flight: self.in_flight,
                handed_over,
            };
        }
        Ok(py.None().into_bound(py))
    }
}

/// `fut`'s result, or [`SHUT_DOWN`] if [`shutdown`](super::runtime::shutdown) comes first.
async fn cut_at_shutdown<T>(fut: impl RustFuture<Output = PyResult<T>>) -> PyResult<T> {
    let result = unless_shut_down(fut)
        .await
        .unwrap_or_else(|| Err(PyRuntimeError::new_err(SHUT_DOWN)));
    FINISHING.set(KitTokio::get_task_locals());
    result
}

/// pyo3-async-runtimes' `get_current_loop`: the task's loop inside a Rust
/// future it runs, the running loop otherwise.
pub fn get_current_loop(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    generic::get_current_loop::<KitTokio>(py)
}
