//! PyO3's own `async fn`: a `#[pyfunction] async fn` returns a Python
//! coroutine, with no runtime crate involved.
//!
//! PyO3 wraps the Rust future in a coroutine object whose steps poll it on the
//! thread that awaits it (the loop's), and whose waker resumes it through
//! `call_soon_threadsafe`. So `asyncio.run(order_async_fn([...]))` works as is:
//! unlike `future_into_py`, nothing needs the loop until the first step.
//!
//! Its limits (PyO3 0.30, `experimental-async`):
//!
//! - **No reactor.** The future is polled outside tokio, so a tokio timer or
//!   socket made inside it panics with "there is no reactor running". Work that
//!   needs tokio is spawned onto a runtime (here the kit's own, see
//!   [`crate::support::runtime`]) and the `JoinHandle`, which any thread may poll, is
//!   awaited.
//! - **asyncio only**: the coroutine's waker talks to an asyncio loop (no trio).
//! - **`Send + 'static`**: the future may not borrow from the call's arguments
//!   or hold a `Bound`; methods take `&self` or `&mut self` through a borrow
//!   that lasts the whole await, so a second call on the same object while one
//!   is pending fails with "Already borrowed".
//! - **Arguments live in the coroutine** as raw Python objects until it runs
//!   (extraction happens inside the future), so `ready_async_fn(ready_async_fn(
//!   ...))` never awaited is a chain that frees one coroutine inside another's
//!   deallocation. `register` gives PyO3's coroutine type a trashcan
//!   ([`guard_dealloc`]) so sixty thousand links free as CPython's do.
//! - **The waker attaches wherever it is woken**: a tokio worker that ends the
//!   spawned work attaches to call `call_soon_threadsafe`. At interpreter exit
//!   that is an abort (a thread attaching while Python finalizes), so the kit
//!   hands PyO3's waker over counted ([`CountedWakes`]).

use std::collections::HashMap;
use std::future::Future as RustFuture;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use pyo3::prelude::*;

use super::burger::{cook_on_tokio, take_order};
use crate::support::asyncio::running_loop;
use crate::support::exit::in_flight_unless_exiting;
use crate::support::rust_side::Recorded;
use crate::support::trashcan::guard_dealloc;

/// `fut`, its waker (PyO3's) woken as work in flight that the exit waits for
/// ([`in_flight_unless_exiting`]), and not at all once the exit has begun: 3,000 pending
/// `order_async_fn`s cut by a `shutdown(0)` aborted seven exits in ten, their
/// wakes attaching on tokio's workers while the interpreter finalized.
pub struct CountedWakes<F> {
    fut: Pin<Box<F>>,
    /// The waker last given, and the counted one made for it (made again only
    /// when the task's waker changes).
    wakers: Option<(Waker, Waker)>,
}

impl<F> CountedWakes<F> {
    /// `fut`, counted so.
    pub fn new(fut: F) -> Self {
        CountedWakes {
            fut: Box::pin(fut),
            wakers: None,
        }
    }
}

impl<F: RustFuture> RustFuture for CountedWakes<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let counted = match &this.wakers {
            Some((given, counted)) if given.will_wake(cx.waker()) => counted.clone(),
            _ => {
                let counted = Waker::from(Arc::new(Counted(cx.waker().clone())));
                this.wakers = Some((cx.waker().clone(), counted.clone()));
                counted
            }
        };
        this.fut.as_mut().poll(&mut Context::from_waker(&counted))
    }
}

struct Counted(Waker);

impl Wake for Counted {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(_in_flight) = in_flight_unless_exiting() {
            self.0.wake_by_ref();
        }
    }
}

/// The running loop, asked for at the first step of a coroutine woken from
/// another thread. PyO3's coroutine looks for it only at a pending step, and
/// whether that step is pending is a race (the tokio work may be back before
/// PyO3 looks): with no loop, `hop_async_fn(1)` stepped by hand returned or
/// failed as the threads ran. Asked first, it fails every time, as
/// `asyncio.sleep(0.01)` does (and as the kit's awaitables do).
fn loop_first() -> PyResult<()> {
    // Attached already: the coroutine is stepped by Python.
    Python::attach(|py| running_loop(py).map(drop))
}

/// What a wake of PyO3's waker is called in a recording. The waker is PyO3's,
/// so the kit cannot record it by itself; the futures below wrap it
/// ([`Recorded::wakes`]) for the time a recording is on.
const PYO3_WAKER: &str = "wake: PyO3's waker";

/// ``await order_async_fn(items, *, prep_times=None)``: PyBurger as a PyO3
/// ``async fn``: the same contract as ``order``, but a real coroutine, so
/// ``asyncio.run(order_async_fn([...]))`` works directly (asyncio only).
#[pyfunction]
#[pyo3(signature = (items, *, prep_times = None))]
pub async fn order_async_fn(
    items: Vec<String>,
    prep_times: Option<HashMap<String, f64>>,
) -> PyResult<Vec<&'static str>> {
    let (items, menu) = take_order(&items, prep_times)?;
    loop_first()?;
    // Spawned, not awaited in place: this future is polled on the loop's
    // thread, and `make_order` needs tokio's timers.
    CountedWakes::new(Recorded::wakes(PYO3_WAKER, cook_on_tokio(items, menu)?)).await
}

/// ``await ready_async_fn(value)`` gives ``value`` from a PyO3 ``async fn`` that
/// never waits: the cost of PyO3's coroutine object alone.
#[pyfunction]
pub async fn ready_async_fn(value: Py<PyAny>) -> Py<PyAny> {
    value
}

/// ``await yield_async_fn(value)``: ``value`` from a PyO3 ``async fn`` that is
/// pending once and wakes itself: PyO3's coroutine then yields a bare ``None``
/// to the loop (its ``asyncio.sleep(0)``) instead of an asyncio future.
#[pyfunction]
pub async fn yield_async_fn(value: Py<PyAny>) -> Py<PyAny> {
    crate::support::shapes::yield_now().await;
    value
}

/// ``await hop_async_fn(value)``: ``value`` back from a task spawned on tokio,
/// awaited in a PyO3 ``async fn`` (woken from the tokio worker).
#[pyfunction]
pub async fn hop_async_fn(value: Py<PyAny>) -> PyResult<Py<PyAny>> {
    loop_first()?;
    CountedWakes::new(Recorded::wakes(
        PYO3_WAKER,
        crate::support::shapes::hop(value),
    ))
    .await
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    guard_dealloc(&m.py().get_type::<pyo3::coroutine::Coroutine>());
    m.add_function(wrap_pyfunction!(order_async_fn, m)?)?;
    m.add_function(wrap_pyfunction!(ready_async_fn, m)?)?;
    m.add_function(wrap_pyfunction!(yield_async_fn, m)?)?;
    m.add_function(wrap_pyfunction!(hop_async_fn, m)?)?;
    Ok(())
}
