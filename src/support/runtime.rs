//! The kit's tokio runtime and threads, owned from first use to interpreter
//! exit, and across `fork()`.
//!
//! Every Rust future the kit runs on tokio runs here: pyo3-async-runtimes'
//! routes (through its `generic` API: [`super::kit_tokio`]), the Rust timers,
//! the spawned kitchens, the `ticks` producer. Shutdown also stops the kit's
//! own threads (a `Kitchen`'s cooks, [`super::threads`]).
//!
//! # Why the kit owns its runtime
//!
//! pyo3-async-runtimes' `tokio` module keeps its runtime in a `&'static`: it
//! can never be shut down. A script that awaits `future_into_py` routes inside
//! `asyncio.run(...)` and then simply ends could abort with SIGABRT, like this:
//!
//! 1. `asyncio.run` returns; tokio workers are still finishing completions
//!    (a `spawn_blocking` closure per `future_into_py` call, which attaches to
//!    the interpreter to call `set_result` or to find the future cancelled).
//! 2. The main thread runs `Py_FinalizeEx`. From the moment the runtime is
//!    marked as finalizing, a thread that takes the GIL back (attaching, or
//!    returning from `call_soon_threadsafe`'s write to the loop's self-pipe) is
//!    ended by CPython on the spot with `pthread_exit`.
//! 3. `pthread_exit` unwinds the thread with a *forced* unwind, through Rust
//!    frames that are not allowed to unwind: Rust aborts the whole process.
//!
//! The window is small, so the crash is intermittent: the worst kind to learn
//! from. The fix is to make sure that no thread of ours can still touch Python
//! by the time finalization starts:
//!
//! - [`shutdown`] runs at `atexit`, when the interpreter is still whole: it
//!   refuses new work, stops the kit's threads, drops every tokio task and joins
//!   the workers, with a bounded wait, *detached* from the interpreter, so that a
//!   worker in the middle of a completion can still attach and finish it. After
//!   it, nothing of ours runs, and a late call into the kit raises
//!   [`SHUT_DOWN`] instead of starting anything.
//! - Called by hand while loops still run, [`shutdown`] first cuts the work
//!   they await ([`unless_shut_down`]): each pending route's asyncio future
//!   fails with [`SHUT_DOWN`], as `Executor.shutdown(cancel_futures=True)`
//!   ends what is pending, rather than staying pending for ever once tokio is
//!   gone. At exit there is nobody left to tell (the loops are closed), so the
//!   work is only dropped.
//! - After `fork()`, the child has the parent's memory but none of its threads:
//!   the parent's runtime is a shell whose workers will never run a task. The
//!   child forgets it (dropping it would wait for threads that do not exist)
//!   and starts a fresh one on first use. The fork itself waits until no
//!   thread of the kit is in the middle of its work ([`fork_gate`]).
//!
//! [`quiesce`] is the other half of owning the runtime: a real synchronisation
//! point for measurements ("tokio has nothing of ours in flight"), where a
//! sleep would only be a guess.

use std::cell::RefCell;
use std::future::Future as RustFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::Poll;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::Notify;
use tokio::task::{AbortHandle, JoinHandle};

use super::args::seconds;
use super::exit::{self, exiting};
use super::fork_gate::{self, Gated};
use super::in_flight;
use super::rust_side::Recorded;
use super::threads::{self, thread_refused, wait_attentively, wait_until};

/// What any entry point raises once the runtime is shut down, in the words
/// `concurrent.futures` uses for an executor after shutdown.
pub const SHUT_DOWN: &str = "cannot schedule new futures after shutdown: coroscope's runtime \
    stopped (at interpreter exit, or by coroscope.shutdown())";

/// Where the runtime is in its life.
enum State {
    /// Not started yet: in a fresh process, or in a fork child before first use.
    Idle,
    /// Started on first use. The runtime is owned here, not leaked, so that
    /// [`shutdown`] can take it and shut it down.
    Running(Runtime),
    /// Shut down. The handle belongs to the stopped runtime: a task spawned on
    /// it (by pyo3-async-runtimes, from a task being dropped) is dropped at once
    /// and its `JoinHandle` says cancelled, so nothing can start again.
    ShutDown(Handle),
}

/// The runtime's state. Locked only briefly, never across a wait, and (from
/// Python threads) only while attached. A fork holds it ([`before_fork`]), so
/// the child never finds it locked by a thread that stayed in the parent.
static STATE: Mutex<State> = Mutex::new(State::Idle);

fn state() -> MutexGuard<'static, State> {
    // Held across a fork (see `before_fork`): never waited for attached.
    fork_gate::lock(&STATE)
}

/// The running runtime's handle, started on first use.
fn running() -> Result<Handle, NotRunning> {
    let mut state = state();
    match &*state {
        State::Running(runtime) => Ok(runtime.handle().clone()),
        State::ShutDown(stopped) => Err(NotRunning::ShutDown(stopped.clone())),
        State::Idle => {
            let runtime = start()?;
            let handle = runtime.handle().clone();
            *state = State::Running(runtime);
            Ok(handle)
        }
    }
}

/// Why the runtime is not there: shut down (its stopped handle), or refused
/// threads when it was to start.
enum NotRunning {
    ShutDown(Handle),
    Refused(PyErr),
}

impl From<PyErr> for NotRunning {
    fn from(err: PyErr) -> Self {
        NotRunning::Refused(err)
    }
}

/// Start the runtime, all or nothing.
///
/// tokio starts its workers one by one as threads of its blocking pool and
/// cannot take back the ones started when the OS refuses the next (a
/// container's pids limit, `RLIMIT_NPROC`): it panics, and when a worker had
/// started, the unwinding waits forever for it to end, which it never does.
/// So every thread the runtime needs is asked of the OS first, by threads of
/// ours that end at once (`try_threads`, which also waits for the kernel to
/// release them: a joined thread still counts against the limit a moment
/// after `join` returns). Then the runtime starts, and a first blocking
/// closure must run, so that one blocking thread is kept for good and a later
/// blocking closure (how pyo3-async-runtimes finishes every `future_into_py`)
/// always has a thread to run on.
///
/// What a reader would get wrong: the trial does not hold the room. Another
/// process of the same user can take it before the start, so every way tokio
/// fails is still caught: the panic (quietly, on a thread of its own, left
/// behind if the unwinding hangs), a first blocking thread refused, a closure
/// that never runs. Each raises `threading`'s `RuntimeError`; nothing is kept
/// as started, and the next call tries again.
fn start() -> PyResult<Runtime> {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    // The workers, one blocking thread, and the thread that builds.
    threads::try_threads(workers + 2)?;
    // Waited on with channels, not `block_on`, which panics when the caller
    // is itself a worker of some other tokio runtime.
    let (built, was_built) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("coroscope-start".into())
        .spawn(move || {
            let runtime = threads::quietly(|| {
                Builder::new_multi_thread()
                    .enable_all()
                    .worker_threads(workers)
                    .thread_name("coroscope-tokio")
                    // An idle blocking thread is kept: see above.
                    .thread_keep_alive(Duration::from_secs(365 * 24 * 3600))
                    .build()
            });
            // Too late (the caller has raised), the runtime is dropped here.
            drop(built.send(runtime));
        })
        .map_err(|err| thread_refused(&err))?;
    let runtime = match was_built.recv_timeout(FIRST_THREAD_WAIT) {
        Ok(Ok(runtime)) => runtime.map_err(|err| thread_refused(&err))?,
        Ok(Err(_panicked)) => return Err(thread_refused("the OS refused its first worker")),
        Err(_hung) => return Err(thread_refused("the OS refused one of its workers")),
    };
    let (ran, first_ran) = std::sync::mpsc::channel();
    let why = match threads::quietly(|| drop(runtime.spawn_blocking(move || ran.send(())))) {
        Err(_) => "the OS refused the runtime its first blocking thread",
        Ok(()) if first_ran.recv_timeout(FIRST_THREAD_WAIT).is_err() => {
            "the OS refused the runtime a blocking thread"
        }
        Ok(()) => return Ok(runtime),
    };
    runtime.shutdown_background();
    Err(thread_refused(why))
}

/// How long the start waits for tokio to build, then for its first blocking
/// closure to run: far more than a thread the OS made takes to begin, even on
/// a busy machine.
const FIRST_THREAD_WAIT: Duration = Duration::from_secs(5);

/// The runtime to spawn on or enter, started on first use; `RuntimeError`
/// ([`SHUT_DOWN`]) once shutdown has begun, or if the OS refused its threads.
/// Every entry point of the kit that starts work on tokio goes through here
/// first, so a call after shutdown starts nothing.
pub fn handle() -> PyResult<Handle> {
    if is_shut_down() {
        return Err(PyRuntimeError::new_err(SHUT_DOWN));
    }
    running().map_err(|not| match not {
        NotRunning::ShutDown(_) => PyRuntimeError::new_err(SHUT_DOWN),
        NotRunning::Refused(err) => err,
    })
}

/// `RuntimeError` ([`SHUT_DOWN`]) once shut down, for entry points that start
/// threads of their own rather than tokio tasks.
pub fn ensure_open() -> PyResult<()> {
    handle().map(drop)
}

// --- where spawns go ----------------------------------------------------------

/// Where pyo3-async-runtimes spawns: the running runtime, or a stopped one,
/// whose spawns are dropped at once (after shutdown, or when the OS refused
/// the runtime its threads: the entry point has raised already).
pub fn spawn_handle() -> Handle {
    match running() {
        Ok(running) => running,
        Err(NotRunning::ShutDown(stopped)) => stopped,
        Err(NotRunning::Refused(_)) => stopped_handle(),
    }
}

/// Spawn `fut` on the running runtime, polled inside the fork gate (a task
/// that holds Python objects lets go of them on a worker: see [`fork_gate`]),
/// its polls recorded as `what` while someone records ([`super::rust_side`]).
pub fn spawn<F>(what: &'static str, fut: F) -> PyResult<JoinHandle<F::Output>>
where
    F: RustFuture + Send + 'static,
    F::Output: Send + 'static,
{
    Ok(handle()?.spawn(Gated::new(Recorded::polls(what, fut))))
}

/// The handle of a runtime that runs nothing (it needs no thread to make).
fn stopped_handle() -> Handle {
    Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime starts no thread")
        .handle()
        .clone()
}

// --- shutdown, fork, quiesce -------------------------------------------------

/// Set as [`shutdown`] begins: from then on every entry point refuses work.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// Woken as [`shutdown`] cuts the work in flight ([`unless_shut_down`]).
static CUT: Notify = Notify::const_new();

/// `fut`'s output, or `None` if [`shutdown`] cuts it first (or has already
/// begun). What the kit's routes race, so that shutting down ends them with
/// an answer instead of leaving their awaiters pending for ever.
pub async fn unless_shut_down<F: RustFuture>(fut: F) -> Option<F::Output> {
    let cut = CUT.notified();
    let mut cut = std::pin::pin!(cut);
    // Registered before the flag is read: a shutdown in between still wakes
    // this (`notify_waiters` reaches only registered waiters).
    cut.as_mut().enable();
    if CLOSING.load(Ordering::Acquire) {
        return None;
    }
    let mut fut = std::pin::pin!(fut);
    std::future::poll_fn(|cx| {
        if cut.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        fut.as_mut().poll(cx).map(Some)
    })
    .await
}

/// How long [`shutdown`] waits, whatever its timeout, for the work it cut to
/// tell one more of its awaiters: it waits on while some do.
const CUT_TIME: Duration = Duration::from_secs(1);

/// ``shutdown(timeout=2.0)``: stop coroscope's tokio runtime and threads.
///
/// Runs by itself at interpreter exit (``atexit``); call it yourself to stop
/// earlier. From its first instant every call that would start Rust work
/// raises ``RuntimeError``. Called by hand, it first ends the work loops are
/// awaiting: each pending ``future_into_py``-style future, blocking order,
/// ``TimerFuture`` and ``Doorbell.wait()`` fails with that ``RuntimeError``
/// (at exit that work is only dropped: no loop is left to tell). Then the
/// kit's threads stop and tokio's workers are joined. The wait is bounded by
/// ``timeout`` seconds (but the failed work is given the time it takes to
/// reach its awaiters, as long as each second some of it does) and made
/// detached from the interpreter, so a worker finishing a completion can
/// still attach and end it. Ctrl-C ends the wait (the stopping goes on behind
/// it). Calling it again does nothing.
#[pyfunction]
#[pyo3(signature = (timeout = 2.0))]
pub fn shutdown(py: Python<'_>, timeout: f64) -> PyResult<()> {
    let limit = seconds("timeout", timeout)?;
    if CLOSING.swap(true, Ordering::AcqRel) {
        return Ok(());
    }
    let deadline = Instant::now() + limit;
    let by_hand = !exiting();
    if !by_hand {
        py.detach(|| stop(false, deadline));
        return Ok(());
    }
    // By hand, the stopping runs on a thread of its own and this one waits
    // for it attentively: a wait of seconds (30,000 pending futures to tell,
    // a cook to join) would otherwise hold Ctrl-C until it ended.
    match std::thread::Builder::new()
        .name("coroscope-shutdown".into())
        .spawn(move || stop(true, deadline))
    {
        // Interrupted, it goes on: what it cuts is told through paths counted
        // in flight, which the exit waits for (see `in_flight`).
        Ok(stopping) => wait_attentively(py, None, || stopping.is_finished()).map(drop),
        // No thread to be had (a thread limit): stopped here, Ctrl-C waiting.
        Err(_) => {
            py.detach(|| stop(true, deadline));
            Ok(())
        }
    }
}

/// What [`shutdown`] does, detached: cut the work in flight and wait until it
/// has told its awaiters (by hand only), then stop the kit's threads and
/// tokio, waiting for them until `deadline`.
fn stop(by_hand: bool, deadline: Instant) {
    if by_hand {
        // Told even past the timeout, for as long as answers keep coming: a
        // cut future's awaiter waits for ever without its answer, and tokio
        // drops the work it has not run yet when it stops. (70,000 cut
        // `TimerFuture`s, each attaching to tell its loop, took longer than a
        // 2 s timeout: a third of them were never told.)
        CUT.notify_waiters();
        let mut until = deadline.max(Instant::now() + CUT_TIME);
        let mut left = in_flight::left();
        while !wait_until(until, in_flight::none) {
            let now_left = in_flight::left();
            if now_left >= left {
                break; // none told for a while: what is left is stuck, not slow
            }
            left = now_left;
            until = Instant::now() + CUT_TIME;
        }
    }
    // Taken only now: the cut work's completions were spawned on it meanwhile.
    let runtime = {
        let mut state = state();
        let stopped = match &*state {
            State::Running(runtime) => runtime.handle().clone(),
            State::ShutDown(stopped) => stopped.clone(),
            // Never started: a runtime that runs nothing stands for it, so
            // that spawns after shutdown are dropped like any other.
            State::Idle => stopped_handle(),
        };
        match std::mem::replace(&mut *state, State::ShutDown(stopped)) {
            State::Running(runtime) => Some(runtime),
            _ => None,
        }
    };
    threads::stop_all();
    if let Some(runtime) = runtime {
        runtime.shutdown_timeout(deadline.saturating_duration_since(Instant::now()));
    }
    threads::wait_for_all(deadline);
}

/// How long the exit waits for the kit's work and threads to end.
const AT_EXIT: Duration = Duration::from_secs(2);

/// ``is_shut_down()``: whether ``shutdown()`` has run (or begun).
#[pyfunction]
pub fn is_shut_down() -> bool {
    CLOSING.load(Ordering::Acquire)
}

/// What the forking thread holds across a `fork()`: every lock of the kit
/// another thread may take without the interpreter, so that none is copied
/// held into the child (see [`fork_gate`] for why that hangs the child).
struct HeldForFork {
    state: MutexGuard<'static, State>,
    threads: threads::HeldForFork,
}

thread_local! {
    /// Set by [`before_fork`], taken after the fork on the same thread.
    static HELD: RefCell<Option<HeldForFork>> = const { RefCell::new(None) };
}

/// Whether the fork under way was asked by Python's main thread (noted by
/// [`before_fork`] for the child), and whether this process is a child forked
/// from another thread: there `threading` calls the forking thread the main
/// one, but its return finalizes nothing either (see [`ChildEnds`]).
static FORKED_FROM_MAIN: AtomicBool = AtomicBool::new(true);
static NO_MAIN: AtomicBool = AtomicBool::new(false);

/// A fork begins: let the kit's threads finish what they are in the middle
/// of, then hold the locks they use. Taken attached, and after the gate has
/// emptied: no holder waits for the interpreter or for the gate.
fn before_fork(py: Python<'_>) {
    let main = !NO_MAIN.load(Ordering::Relaxed) && is_main_thread(py);
    FORKED_FROM_MAIN.store(main, Ordering::Relaxed);
    fork_gate::close(py);
    HELD.set(Some(hold_for_fork()));
}

/// Whether this is Python's main thread, the one whose return finalizes Python.
fn is_main_thread(py: Python<'_>) -> bool {
    let threading = |name| py.import("threading")?.call_method0(name);
    (|| {
        threading("main_thread")?
            .getattr("ident")?
            .eq(threading("get_ident")?)
    })()
    .unwrap_or(true)
}

thread_local! {
    /// Armed on the forking thread of a child forked from another thread.
    static CHILD_ENDS: RefCell<Option<ChildEnds>> = const { RefCell::new(None) };
}

/// The end of a child forked from a thread other than Python's main one. That
/// thread is the child's only one, and Python never finalizes there: when it
/// returns, a plain child ends with it (no `atexit`, so no [`shutdown`]). What
/// a reader would get wrong: the kit's threads started in the child (tokio's,
/// a Kitchen's cooks) would keep it alive for ever. So this guard, dropped
/// among the thread's thread-locals as it ends, stops them as a shutdown by
/// hand does, from a thread of its own (tokio's thread-locals may be gone on
/// this one). By hand: the child's daemon threads (the process ends when they
/// do) may be waiting for the kit's work, and a wait stopped unanswered
/// (`order_blocking`'s loop) kept the child alive for ever. Python does not
/// finalize here, so the answers may attach.
struct ChildEnds;

impl Drop for ChildEnds {
    fn drop(&mut self) {
        let _ = std::thread::Builder::new()
            .name("coroscope-end".into())
            .spawn(|| {
                if !CLOSING.swap(true, Ordering::AcqRel) {
                    stop(true, Instant::now() + AT_EXIT);
                }
            });
    }
}

fn hold_for_fork() -> HeldForFork {
    HeldForFork {
        state: state(),
        threads: threads::hold_for_fork(),
    }
}

/// In the parent, after the fork: let go, and open the gate again.
fn after_fork_in_parent() {
    HELD.take();
    fork_gate::open(false);
}

/// In a fork child: the parent's runtime has no threads here. Forget it (not
/// drop: dropping waits for workers that do not exist) and start afresh on
/// first use. The kit's threads stayed in the parent too.
fn after_fork_in_child() {
    // Held unless the fork came without our `before` (a C extension forking
    // with only `PyOS_AfterFork_Child`): then the locks are taken here.
    let HeldForFork { mut state, threads } = HELD.take().unwrap_or_else(hold_for_fork);
    if let State::Running(runtime) = std::mem::replace(&mut *state, State::Idle) {
        std::mem::forget(runtime);
    }
    threads.forget_in_child();
    in_flight::forget_in_child();
    drop(state);
    if !FORKED_FROM_MAIN.load(Ordering::Relaxed) {
        NO_MAIN.store(true, Ordering::Relaxed);
        // A grandchild's thread holds its parent's guard already (a fork copies
        // the forking thread's thread-locals): replaced, it would end the runtime now.
        // (`get_or_insert_with`: a guard made and not kept would be dropped, and end it too.)
        CHILD_ENDS.with_borrow_mut(|armed| {
            armed.get_or_insert_with(|| ChildEnds);
        });
    }
    fork_gate::open(true);
}

/// ``quiesce(timeout=10.0)``: wait until tokio has no task of the kit's alive
/// and no blocking closure in flight; ``False`` if ``timeout`` seconds pass
/// first. Decrefs Rust made without the interpreter are applied on return.
///
/// A synchronisation point for measurements: a Rust future that ends on tokio
/// lets go of its Python objects there, and pyo3-async-runtimes finishes (or
/// finds cancelled) every ``future_into_py`` future in a blocking closure that
/// holds the loop and the future until it runs, after the Rust future is gone.
#[pyfunction]
#[pyo3(signature = (timeout = 10.0))]
pub fn quiesce(py: Python<'_>, timeout: f64) -> PyResult<bool> {
    let limit = seconds("timeout", timeout)?;
    let tasks = match &*state() {
        State::Running(runtime) => Some(runtime.metrics()),
        _ => None,
    };
    let idle = || {
        let busy_tasks = tasks.as_ref().is_some_and(|m| m.num_alive_tasks() > 0);
        !busy_tasks && in_flight::none()
    };
    // Detached while waiting, and PyO3 applies deferred decrefs when this
    // thread attaches again, so what the finished work released is released
    // by the time this returns.
    wait_attentively(py, Some(Instant::now() + limit), idle)
}

/// Wire [`shutdown`] to `atexit` and the fork hooks to `os.register_at_fork`,
/// and export the functions.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(is_shut_down, m)?)?;
    m.add_function(wrap_pyfunction!(quiesce, m)?)?;
    // atexit handlers run last registered first, and before finalization
    // begins: user handlers registered after importing coroscope still find it
    // running.
    let at_exit = PyCFunction::new_closure(py, None, None, |args, _| {
        // A join that failed (Ctrl-C) counts as threads left.
        if exit::outlast_joined_threads(args.py(), AT_EXIT).unwrap_or(true) {
            // What they still wait for is answered, as by a shutdown by hand
            // (the daemon threads' waits too): the exit joins them next.
            shutdown(args.py(), AT_EXIT.as_secs_f64())?;
        }
        exit::begin();
        // Loops of the user's may wake by themselves: woken now, they park.
        exit::wake_all(args.py());
        shutdown(args.py(), AT_EXIT.as_secs_f64())?;
        // After a shutdown by hand with a short timeout, work it gave up on may
        // still be reaching into Python (a completion attaching): once the
        // interpreter finalizes, that is the abort told at the top.
        args.py()
            .detach(|| wait_until(Instant::now() + AT_EXIT, in_flight::none));
        PyResult::Ok(())
    })?;
    py.import("atexit")?.call_method1("register", (at_exit,))?;
    let before = PyCFunction::new_closure(py, None, None, |args, _| before_fork(args.py()))?;
    let in_parent = PyCFunction::new_closure(py, None, None, |_, _| after_fork_in_parent())?;
    let in_child = PyCFunction::new_closure(py, None, None, |_, _| after_fork_in_child())?;
    let kwargs = pyo3::types::PyDict::new(py);
    kwargs.set_item("before", before)?;
    kwargs.set_item("after_in_parent", in_parent)?;
    kwargs.set_item("after_in_child", in_child)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&kwargs))?;
    Ok(())
}

/// Aborts a spawned tokio task when dropped (when whatever awaits it is
/// cancelled or closed): a spawned task outlives its `JoinHandle` otherwise.
/// Aborting a finished task does nothing.
pub struct AbortOnDrop(pub AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
