//! `Stepper`: a coroutine's steps, one at a time, to look at.
//!
//! The drivers in [`super::drive`] run a coroutine to its end; a `Stepper`
//! stops between steps, so a learner can see what each `send`, `throw` and
//! `close` does (as a generator has them), and what came out: a yield, a
//! return or a raise, kept as the [`StepRecord`]s that [`super::records`]
//! shows as tables.
//!
//! A reader would get wrong: the Stepper must agree with CPython on the
//! *first* call too. Sending a value other than `None` to an unstarted
//! coroutine is a `TypeError` that leaves it unstarted (and closable), and a
//! failed step with a live frame leaves it suspended: the state machine below
//! follows the iterator's frame, not the call's outcome.

use std::sync::Mutex;

use pyo3::exceptions::{PyBaseException, PyRuntimeError, PyStopIteration};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyList;

use crate::support::asyncio::{invalid_state, stops_the_program, type_name};
use crate::support::depth::repr_of;
use crate::support::trashcan::Flat;

use super::drive::{Step, awaitable_iter, is_native_coroutine, send_step, throw_step};
use super::records::{StepRecord, pretty, recorded_step, step_table, step_text};

/// Where a [`Stepper`]'s coroutine stands.
enum State {
    Suspended,
    Returned(Py<PyAny>),
    /// The exception itself (not a `PyErr`): `__traverse__` must show it to
    /// the collector, as a cycle through it is one the collector frees.
    Raised(Py<PyBaseException>),
    Closed,
}

/// What a [`Stepper`] has seen. Behind a mutex because the module declares it
/// runs without the GIL: the lock is never held while Python code runs, so a
/// coroutine that touches its own Stepper cannot deadlock (it gets the
/// coroutine's own "already executing" error instead).
struct Log {
    state: State,
    history: Vec<Py<StepRecord>>,
}

/// Step a coroutine by hand, for exploration (in Jupyter, say).
///
/// ``Stepper(obj)`` accepts whatever ``await_foo`` accepts. ``send``, ``throw`` and
/// ``close`` behave as a generator's do: ``send`` returns what the coroutine
/// yielded and raises ``StopIteration(value)`` when it returns; ``throw(exc)``
/// raises ``exc`` at the suspended ``await``; ``close()`` throws ``GeneratorExit``
/// so ``finally`` blocks run. ``step()`` is ``send(None)`` that returns the
/// ``StepRecord`` instead of raising what the coroutine raised. ``history``
/// lists every step taken. ``KeyboardInterrupt`` and ``SystemExit`` are recorded
/// and then raised by every call: they stop the program, not the coroutine.
#[pyclass(frozen, module = "coroscope.await_from_rust")]
pub struct Stepper {
    /// The awaitable's iterator; a coroutine itself when `obj` was one, so that
    /// `send` takes the fast path and `cr_await`/`cr_frame` stay inspectable.
    /// Released flat: a coroutine may hold the next `Stepper` of a chain.
    iter: Flat,
    log: Mutex<Log>,
}

impl Stepper {
    /// Lock the log. A poisoned lock only means a panic elsewhere while recording;
    /// the log itself is always consistent, so it is used as it is.
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Take one step (send, throw or close), record it, and update the state.
    fn take<'py>(
        &self,
        py: Python<'py>,
        action: &'static str,
        sent: &Bound<'py, PyAny>,
        step: impl FnOnce(&Bound<'py, PyAny>) -> PyResult<Step<'py>>,
    ) -> PyResult<(Py<StepRecord>, PyResult<Step<'py>>)> {
        let iter = self.iter.bind(py);
        let index = self.log().history.len() as u64 + 1;
        let (record, result) = recorded_step(iter, index, action, sent, || step(iter));
        // Allocating the record runs no Python code; do it before taking the lock.
        let record = Py::new(py, record)?;
        let state = match &result {
            Ok(Step::Yield(_)) => State::Suspended,
            Ok(Step::Return(value)) if action == "close" && value.is_none() => State::Closed,
            Ok(Step::Return(value)) => State::Returned(value.clone().unbind()),
            Err(err) if action == "close" && is_close_signal(py, err) => State::Closed,
            // Refused without running (a value sent into a just-started
            // coroutine, a throw of something that is no exception): CPython
            // leaves the coroutine as it was, unstarted and closable.
            Err(_) if has_live_frame(iter)? => State::Suspended,
            Err(err) => State::Raised(err.value(py).clone().unbind()),
        };
        let replaced = {
            let mut log = self.log();
            log.history.push(record.clone_ref(py));
            // Once done, the outcome stays: a later send or throw only bounces off
            // the finished coroutine (and is still recorded in the history).
            if matches!(log.state, State::Suspended) {
                std::mem::replace(&mut log.state, state)
            } else {
                state
            }
        };
        // Dropping a state may run `__del__` code: do it outside the lock.
        drop(replaced);
        // Recorded, and then passed on whatever the action: Ctrl-C or
        // `sys.exit()` stops the program, not just the coroutine.
        if let Err(err) = &result
            && stops_the_program(py, err)
        {
            return Err(err.clone_ref(py));
        }
        Ok((record, result))
    }

    /// Hand a step's result to Python with generator semantics.
    fn as_generator_result<'py>(result: PyResult<Step<'py>>) -> PyResult<Bound<'py, PyAny>> {
        match result? {
            Step::Yield(yielded) => Ok(yielded),
            Step::Return(value) => Err(PyStopIteration::new_err((value.unbind(),))),
        }
    }
}

/// Whether `iter` is a coroutine or generator whose frame still exists: it has
/// not finished, whatever the step that just failed. Other iterators have no
/// frame to ask, and a failed step ends them.
fn has_live_frame(iter: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = iter.py();
    for frame in [intern!(py, "cr_frame"), intern!(py, "gi_frame")] {
        if let Some(frame) = iter.getattr_opt(frame)? {
            return Ok(!frame.is_none());
        }
    }
    Ok(false)
}

/// `close()` succeeded if the coroutine let `GeneratorExit` (or, having caught
/// it, a `StopIteration`) out: that is how CPython's `gen_close` judges it.
fn is_close_signal(py: Python<'_>, err: &PyErr) -> bool {
    err.is_instance_of::<pyo3::exceptions::PyGeneratorExit>(py)
        || err.is_instance_of::<PyStopIteration>(py)
}

#[pymethods]
impl Stepper {
    #[new]
    fn new(obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        Ok(Self {
            iter: Flat::new(awaitable_iter(obj)?.unbind()),
            log: Mutex::new(Log {
                state: State::Suspended,
                history: Vec::new(),
            }),
        })
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.iter)?;
        // The collector may run while this thread holds the log (an
        // allocation can trigger it): not visiting only delays a collection.
        let Ok(log) = self.log.try_lock() else {
            return Ok(());
        };
        match &log.state {
            State::Returned(value) => visit.call(value)?,
            State::Raised(err) => visit.call(err)?,
            State::Suspended | State::Closed => {}
        }
        for record in &log.history {
            visit.call(record)?;
        }
        Ok(())
    }

    /// Resume the coroutine with ``value`` (``None`` for the first step); return
    /// what it yields, or raise ``StopIteration(result)`` when it returns.
    fn send<'py>(&self, py: Python<'py>, value: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (_, result) = self.take(py, "send", &value, |iter| send_step(iter, &value))?;
        Self::as_generator_result(result)
    }

    /// Raise ``exc`` (an exception instance or class) inside the coroutine, at the
    /// ``await`` where it is suspended; return what it yields next, raise
    /// ``StopIteration(result)`` if it returns, or let the exception out.
    fn throw<'py>(&self, py: Python<'py>, exc: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (_, result) = self.take(py, "throw", &exc, |iter| throw_step(iter, &exc))?;
        Self::as_generator_result(result)
    }

    /// Throw ``GeneratorExit`` in so that ``finally`` blocks run, as
    /// ``generator.close()`` does. A coroutine that yields instead of exiting raises
    /// ``RuntimeError`` and stays suspended; a closed or finished one is left alone.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if !matches!(self.log().state, State::Suspended) {
            return Ok(());
        }
        let exit = py
            .get_type::<pyo3::exceptions::PyGeneratorExit>()
            .into_any();
        let iter_has_close = self.iter.bind(py).hasattr(intern!(py, "close"))?;
        let (_, result) = self.take(py, "close", &exit, |iter| {
            if iter_has_close {
                throw_step(iter, &exit)
            } else {
                // A plain iterator has nothing to clean up: closing it just ends it.
                Ok(Step::Return(py.None().into_bound(py)))
            }
        })?;
        match result {
            Ok(Step::Yield(_)) => {
                let kind = if is_native_coroutine(self.iter.bind(py)) {
                    "coroutine"
                } else {
                    "generator"
                };
                Err(PyRuntimeError::new_err(format!(
                    "{kind} ignored GeneratorExit"
                )))
            }
            Ok(Step::Return(_)) => Ok(()),
            Err(err) if is_close_signal(py, &err) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Take one step with ``send(None)`` and return its ``StepRecord``; never raises
    /// what the coroutine raises (the record holds it).
    fn step(&self, py: Python<'_>) -> PyResult<Py<StepRecord>> {
        let none = py.None().into_bound(py);
        Ok(self
            .take(py, "send", &none, |iter| send_step(iter, &none))?
            .0)
    }

    /// How many steps have been taken (sends, throws and closes).
    #[getter]
    fn steps(&self) -> u64 {
        self.log().history.len() as u64
    }

    /// Every step taken so far, as ``StepRecord`` objects.
    #[getter]
    fn history<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let history: Vec<_> = self.log().history.iter().map(|r| r.clone_ref(py)).collect();
        PyList::new(py, history)
    }

    /// ``True`` once the coroutine has returned, raised or been closed.
    #[getter]
    fn done(&self) -> bool {
        !matches!(self.log().state, State::Suspended)
    }

    /// The coroutine's return value. Raises what the coroutine raised, or
    /// ``asyncio.InvalidStateError`` if it is still suspended.
    #[getter]
    fn result(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.log().state {
            State::Returned(value) => Ok(value.clone_ref(py)),
            State::Raised(err) => Err(PyErr::from_value(err.bind(py).clone().into_any())),
            State::Closed => Ok(py.None()),
            State::Suspended => Err(invalid_state(py, "coroutine is still suspended")),
        }
    }

    /// The exception the coroutine raised, or ``None`` if it returned or was
    /// closed. Raises ``asyncio.InvalidStateError`` if it is still suspended.
    #[getter]
    fn exception(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        match &self.log().state {
            State::Raised(err) => Ok(err.clone_ref(py).into_any()),
            State::Returned(_) | State::Closed => Ok(py.None()),
            State::Suspended => Err(invalid_state(py, "coroutine is still suspended")),
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let iter = self.iter.bind(py);
        let name = match iter.getattr_opt(intern!(py, "__qualname__"))? {
            Some(name) => format!("{} {}", type_name(iter), name),
            None => type_name(iter),
        };
        let log = self.log();
        let state = match &log.state {
            State::Suspended => match log.history.last() {
                Some(last) => format!(
                    "suspended, last yielded {}",
                    repr_of(last.get().value.bind(py))?
                ),
                None => "not started".to_owned(),
            },
            State::Returned(value) => format!("returned {}", repr_of(value.bind(py))?),
            State::Raised(err) => format!("raised {}", repr_of(err.bind(py))?),
            State::Closed => "closed".to_owned(),
        };
        Ok(format!(
            "<Stepper {name} steps={} {state}>",
            log.history.len()
        ))
    }

    /// Jupyter shows a Stepper as its repr over the table of its steps.
    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let caption = self.__repr__(py)?;
        let history: Vec<Py<StepRecord>> =
            self.log().history.iter().map(|r| r.clone_ref(py)).collect();
        step_table(py, &caption, history.iter().map(Py::get))
    }

    /// IPython's terminal shows it as its repr over a text table of its steps.
    fn _repr_pretty_(&self, printer: &Bound<'_, PyAny>, cycle: bool) -> PyResult<()> {
        let py = printer.py();
        let caption = self.__repr__(py)?;
        let history: Vec<Py<StepRecord>> =
            self.log().history.iter().map(|r| r.clone_ref(py)).collect();
        pretty(printer, cycle, caption.clone(), || {
            step_text(py, &caption, history.iter().map(Py::get))
        })
    }
}

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Stepper>()
}
