//! trio's wake route: the same `RustAwaitable`, awaited from a trio task.
//!
//! trio has no futures to sleep on. A trio task suspends by awaiting
//! `trio.lowlevel.wait_task_rescheduled(abort_fn)` and resumes when someone
//! calls `reschedule(task)`, on the run's own thread: from elsewhere, through
//! the run's token (`run_sync_soon`). [`TrioRoute`] parks that way and
//! delivers that way. Which scheduler is waiting is asked once per awaitable,
//! at its first step that needs a route (`route_here`).
//!
//! A reader would get wrong: trio's *cancellation* also resumes the task, by
//! calling the abort function; only one of "woken" and "aborted" may win, and
//! [`WaitingTask::take_waiter`] is the single place that decides.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

use super::wake::{Parked, RouteFor, WaitingTask, WakeRoute};
use crate::support::asyncio::running_loop;

/// trio's route: the task parks in `trio.lowlevel.wait_task_rescheduled` and a
/// wake-up calls `trio.lowlevel.reschedule(task)` through the run's token
/// (`run_sync_soon`, trio's thread-safe entry). Cancellation comes through the
/// abort function: if no wake-up has taken the task yet, trio may cancel it.
pub struct TrioRoute {
    token: Py<PyAny>,
    lowlevel: Py<PyModule>,
}

impl TrioRoute {
    /// The route for the trio run this thread is in; its anchor is the token.
    pub fn here(py: Python<'_>) -> PyResult<(Bound<'_, PyAny>, Arc<dyn WakeRoute>)> {
        let lowlevel = py.import("trio.lowlevel")?;
        let token = lowlevel.call_method0("current_trio_token")?;
        let route = Arc::new(TrioRoute {
            token: token.clone().unbind(),
            lowlevel: lowlevel.unbind(),
        });
        Ok((token, route))
    }
}

impl WakeRoute for TrioRoute {
    fn wake_name(&self) -> &'static str {
        "wake: trio's run_sync_soon"
    }

    fn park(&self, anchor: &Bound<'_, PyAny>, waiting: WaitingTask) -> PyResult<Parked> {
        let py = anchor.py();
        let lowlevel = self.lowlevel.bind(py);
        let task = lowlevel.call_method0("current_task")?;
        let abort = lowlevel.getattr("Abort")?;
        let (succeeded, failed) = (abort.getattr("SUCCEEDED")?, abort.getattr("FAILED")?);
        let (succeeded, failed) = (succeeded.unbind(), failed.unbind());
        // trio calls this to cancel the wait: allowed only if no wake-up has
        // taken the task (it would reschedule it a second time).
        let on_abort = PyCFunction::new_closure(
            py,
            None,
            None,
            move |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| {
                let py = args.py();
                match waiting.take_waiter() {
                    Some(_) => succeeded.clone_ref(py),
                    None => failed.clone_ref(py),
                }
            },
        )?;
        let trap = lowlevel.call_method1("wait_task_rescheduled", (on_abort,))?;
        let yielded = trap.call_method1("send", (py.None(),))?;
        Ok(Parked {
            waiter: task.unbind(),
            yielded: yielded.unbind(),
            trap: Some(trap.unbind()),
        })
    }

    fn deliver(&self, waiting: WaitingTask) {
        if let Some(task) = waiting.take_waiter() {
            crate::support::rust_side::try_attach("trio: run_sync_soon", |py| {
                let posted = self
                    .lowlevel
                    .bind(py)
                    .getattr("reschedule")
                    .and_then(|reschedule| {
                        self.token
                            .bind(py)
                            .call_method1("run_sync_soon", (reschedule, task))
                    });
                // The run has finished: nobody is left to resume.
                if let Err(err) = posted {
                    err.write_unraisable(py, Some(self.token.bind(py)));
                }
            });
        }
    }

    fn bare_yield_ok(&self) -> bool {
        false
    }
}

/// The scheduler waiting on this thread, and the route to it: the trio run, or
/// asyncio's running loop on the route `route_for` makes.
pub(super) fn route_here(
    py: Python<'_>,
    route_for: RouteFor,
) -> PyResult<(Bound<'_, PyAny>, Arc<dyn WakeRoute>)> {
    if under_trio(py)? {
        return TrioRoute::here(py);
    }
    let event_loop = running_loop(py)?;
    let route = route_for(&event_loop)?;
    Ok((event_loop, route))
}

/// Whether the awaiting task is trio's. This is sniffio's own test (trio sets
/// `sniffio.thread_local.name` while it runs; trio-asyncio uses the context
/// variable), read directly rather than through `current_async_library()`,
/// which costs a Python call plus `asyncio.current_task()` on asyncio: a future
/// that wakes itself asks on every await. False when sniffio is not installed.
pub(super) fn under_trio(py: Python<'_>) -> PyResult<bool> {
    static SNIFFIO: PyOnceLock<Option<(Py<PyAny>, Py<PyAny>)>> = PyOnceLock::new();
    let sniffio = SNIFFIO.get_or_init(py, || {
        let sniffio = py.import("sniffio").ok()?;
        let thread_local = sniffio.getattr("thread_local").ok()?;
        let cvar = sniffio.getattr("current_async_library_cvar").ok()?;
        Some((thread_local.unbind(), cvar.unbind()))
    });
    let Some((thread_local, cvar)) = sniffio else {
        return Ok(false);
    };
    let mut name = thread_local.bind(py).getattr("name")?;
    if name.is_none() {
        name = cvar.bind(py).call_method0("get")?;
    }
    Ok(!name.is_none() && name.eq("trio")?)
}
