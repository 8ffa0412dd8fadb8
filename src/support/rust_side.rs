//! The Rust side of every crossing, recorded: what the loop's thread cannot see.
//!
//! `coroscope.timeline.record()` times each task step on the loop's thread.
//! A crossing has a second half on other threads, and that half is where the
//! time of a bridge goes: a tokio worker polls the Rust future, the future
//! wakes, and the wake is carried back, by a thread that may first wait for
//! the GIL (`future_into_py`, the classic awaitable) or by one byte on a socket
//! (the fast bridge). While a recording is on, the kit writes down each of
//! those moments where it happens, as an event on that thread's lane:
//!
//! - a **poll** of a future the kit spawned on tokio ([`Recorded::polls`]), with what it is
//!   (and a flow of its own, for a waker that is not the kit's to carry);
//! - a **GIL wait**: a thread of the kit (or tokio's) asking to attach, until it
//!   is attached ([`try_attach`], [`attach`]);
//! - a **wake**: a Rust future's waker called, with a *flow* number that the
//!   wake carries to the loop ([`with_flow`]), so the task step it causes can
//!   name it and a trace can draw an arrow from one to the other.
//!
//! What a reader would get wrong is the cost. The hooks sit on the hottest
//! paths of every bridge, so when nobody records they cost one relaxed atomic
//! load ([`recording`]) and nothing else: no clock read, no lock, no
//! allocation. While recording, each event is a clock read or two and a push
//! under a mutex (taken inside the fork gate, so a fork never inherits it held).
//!
//! Times are nanoseconds from one process-wide [`Instant`]; Python maps them to
//! its own clock with the reading [`_rust_side_start`] returns, paired with its
//! own clock read at once.
//!
//! A leaf: it imports no lesson; the bridges, the awaitable's waker and the
//! runtime call it.

use std::cell::Cell;
use std::future::Future as RustFuture;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Instant;

use pyo3::prelude::*;

use super::fork_gate;

/// How many recordings are on: zero is the path every hook takes when nobody
/// records.
static RECORDING: AtomicUsize = AtomicUsize::new(0);

/// Flow numbers, from 1: each wake gets the next.
static FLOWS: AtomicU64 = AtomicU64::new(1);

/// The clock every event is read against.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// What happened on a thread, and when (ns since [`EPOCH`]).
struct Event {
    thread: u32,
    kind: &'static str,
    what: &'static str,
    start: u64,
    end: u64,
    /// The wake's flow number (0: none).
    flow: u64,
}

/// The events recorded, and the names of the threads they happened on (an
/// event holds the index, so a push allocates no string).
#[derive(Default)]
struct Log {
    events: Vec<Event>,
    threads: Vec<String>,
}

static LOG: LazyLock<Mutex<Log>> = LazyLock::new(Default::default);

fn log() -> MutexGuard<'static, Log> {
    LOG.lock().unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// This thread's index in [`Log::threads`] plus one (0: not named yet).
    static THREAD: Cell<u32> = const { Cell::new(0) };
    /// The flow of the wake this thread is carrying now (0: none).
    static FLOW: Cell<u64> = const { Cell::new(0) };
}

/// Whether anyone records: the one load every hook pays.
#[inline]
pub fn recording() -> bool {
    RECORDING.load(Ordering::Relaxed) > 0
}

fn now() -> u64 {
    EPOCH.elapsed().as_nanos() as u64
}

/// Note one event. Skipped while a fork is under way: a thread noting a GIL
/// wait is attached, and must not wait at the gate (see `fork_gate`).
fn push(kind: &'static str, what: &'static str, start: u64, end: u64, flow: u64) {
    fork_gate::inside_or_skip(|| {
        let mut log = log();
        let thread = match THREAD.get() {
            0 => {
                // Numbered: tokio's workers all have one name, and each is a lane.
                let current = std::thread::current();
                let name = current.name().unwrap_or("thread");
                let same = log.threads.iter().filter(|t| t.starts_with(name)).count();
                log.threads.push(format!("{name} {}", same + 1));
                let index = log.threads.len() as u32;
                THREAD.set(index);
                index - 1
            }
            index => index - 1,
        };
        log.events.push(Event {
            thread,
            kind,
            what,
            start,
            end,
            flow,
        });
    });
}

/// A future whose Rust side is recorded, in one of two ways (see [`Recorded::polls`]
/// and [`Recorded::wakes`]), while someone records.
pub struct Recorded<F> {
    what: &'static str,
    /// Whether its polls are timed (a task spawned on tokio) or its waker is
    /// wrapped (a future under a waker that is not the kit's).
    times_polls: bool,
    fut: F,
}

impl<F: RustFuture> Recorded<F> {
    /// `fut`, a task the kit spawns on tokio: each poll is recorded as `what`.
    pub fn polls(what: &'static str, fut: F) -> Self {
        Recorded {
            what,
            times_polls: true,
            fut,
        }
    }

    /// `fut`, under a waker that is not the kit's (PyO3's `async fn` passes
    /// its own): each poll hands `fut` a waker that records its wake as
    /// `what`, on the waking thread, and carries the wake's flow into the
    /// waker it wraps, as the kit's own waker does.
    pub fn wakes(what: &'static str, fut: F) -> Self {
        Recorded {
            what,
            times_polls: false,
            fut,
        }
    }
}

impl<F: RustFuture> RustFuture for Recorded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let (what, times_polls) = (self.what, self.times_polls);
        // SAFETY: a pin projection: `fut` is never moved out of a pinned
        // `Recorded` (no method takes it, there is no `Drop` impl and no
        // `Unpin` impl), so pinning it in place is sound. No box: the path
        // nobody records costs one load, not an allocation per spawn.
        let fut = unsafe { self.map_unchecked_mut(|recorded| &mut recorded.fut) };
        if !recording() {
            return fut.poll(cx);
        }
        if !times_polls {
            let waker = Waker::from(Arc::new(RecordedWaker {
                what,
                inner: cx.waker().clone(),
            }));
            return fut.poll(&mut Context::from_waker(&waker));
        }
        // The poll has a flow of its own: a waker that is not the kit's (PyO3's
        // `async fn` waker, woken when this task ends) then carries it to the
        // loop, and the step it causes names this poll. A wake of the kit's
        // inside the poll gives its own flow, which is the closer link.
        let flow = FLOWS.fetch_add(1, Ordering::Relaxed);
        let start = now();
        let out = with_flow(flow, || fut.poll(cx));
        push("poll", what, start, now(), flow);
        out
    }
}

/// The waker [`Recorded::wakes`] hands its future.
struct RecordedWaker {
    what: &'static str,
    inner: Waker,
}

impl Wake for RecordedWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        with_flow(wake(self.what), || self.inner.wake_by_ref());
    }
}

/// `Python::try_attach`, with the wait for the interpreter recorded as
/// `what` while someone records (a thread already attached, such as the
/// loop's own, waits for nothing and notes nothing).
pub fn try_attach<R>(what: &'static str, f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    let asked = asking();
    Python::try_attach(|py| {
        waited(what, asked);
        f(py)
    })
}

/// `Python::attach`, with the wait recorded (see [`try_attach`]).
pub fn attach<R>(what: &'static str, f: impl for<'py> FnOnce(Python<'py>) -> R) -> R {
    let asked = asking();
    Python::attach(|py| {
        waited(what, asked);
        f(py)
    })
}

/// When this thread asked to attach, if its wait is to be noted.
fn asking() -> Option<u64> {
    (recording() && !fork_gate::attached()).then(now)
}

/// Note the wait that began at `asked`, now that the thread is attached.
fn waited(what: &'static str, asked: Option<u64>) {
    if let Some(asked) = asked {
        push("gil wait", what, asked, now(), 0);
    }
}

/// A wake on this thread, as `what`: its flow number while someone records
/// (0 otherwise), for [`with_flow`] to carry to the loop.
pub fn wake(what: &'static str) -> u64 {
    if !recording() {
        return 0;
    }
    let flow = FLOWS.fetch_add(1, Ordering::Relaxed);
    let at = now();
    push("wake", what, at, at, flow);
    flow
}

/// Run `carry` with `flow` as the wake it carries (0: none): the loop's side
/// reads it with [`_current_flow`] (the timeline's `call_soon_threadsafe`
/// hook, or the step a fast-bridge drain runs inline).
pub fn with_flow<T>(flow: u64, carry: impl FnOnce() -> T) -> T {
    if flow == 0 {
        return carry();
    }
    let previous = FLOW.replace(flow);
    let out = carry();
    FLOW.set(previous);
    out
}

/// The flow of the wake this thread is carrying now (0: none), for a route
/// that hands the wake on later (the fast bridge's queue).
pub fn flow_now() -> u64 {
    FLOW.get()
}

/// ``_current_flow()``: the flow of the wake this thread is carrying now, or
/// ``None``. Called by ``coroscope.timeline`` while it records.
#[pyfunction]
pub fn _current_flow() -> Option<u64> {
    Some(FLOW.get()).filter(|flow| *flow != 0)
}

/// ``_rust_side_start()``: begin recording the Rust side; returns the clock's
/// reading now (ns), which the caller pairs with its own clock read at once.
#[pyfunction]
pub fn _rust_side_start() -> u64 {
    RECORDING.fetch_add(1, Ordering::Relaxed);
    now()
}

/// One recorded event, as Python reads it: ``(thread, kind, what, start_ns,
/// end_ns, flow)`` (``flow`` ``None`` for none).
type PyEvent = (String, &'static str, &'static str, u64, u64, Option<u64>);

/// ``_rust_side_stop(since)``: stop one recording and return the events from
/// ``since`` (the reading ``_rust_side_start`` gave) on. The log is emptied
/// when no recording is left.
#[pyfunction]
pub fn _rust_side_stop(py: Python<'_>, since: u64) -> Vec<PyEvent> {
    let Ok(was) =
        RECORDING.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
    else {
        return Vec::new(); // not recording: a stop without its start
    };
    let left = was - 1;
    py.detach(|| {
        fork_gate::inside(|| {
            let mut log = log();
            let events = log
                .events
                .iter()
                .filter(|event| event.start >= since)
                .map(|event| {
                    let flow = Some(event.flow).filter(|flow| *flow != 0);
                    let thread = log.threads[event.thread as usize].clone();
                    (thread, event.kind, event.what, event.start, event.end, flow)
                })
                .collect();
            if left == 0 {
                log.events = Vec::new();
            }
            events
        })
    })
}
