//! `trace` and its records: a whole run of a coroutine, one [`StepRecord`] per
//! step, kept in a [`Trace`], and the tables that show them.
//!
//! `trace` runs a coroutine to its end with `drive_send`'s loop
//! ([`super::drive`]), timing each step and keeping what went in and what came
//! out: a yield, a return or a raise. A [`Trace`] is a read-only sequence that
//! Jupyter shows as a table (`_repr_html_`) and IPython's terminal as a text
//! table (`_repr_pretty_`); a single `StepRecord`, and a `Stepper`
//! ([`super::stepper`], which takes the steps one at a time), show the same way.
//!
//! A reader would get wrong: a raise *of the coroutine* is a step like any
//! other (recorded, not raised), but `KeyboardInterrupt` and `SystemExit`
//! stop the program, not the coroutine, and go through as every driver lets
//! them.

use std::time::Instant;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::pyclass::{PyTraverseError, PyVisit};
use pyo3::types::PyList;

use crate::support::asyncio::stops_the_program;
use crate::support::depth::repr_of;
use crate::support::trashcan::Flat;

use super::drive::{DEFAULT_MAX_STEPS, Step, awaitable_iter, run_to_completion, send_step};

/// One step of a coroutine: what went in, what came out, and how long it took.
///
/// ``action`` is ``"send"``, ``"throw"`` or ``"close"``; ``sent`` is the value sent
/// or the exception thrown. ``outcome`` is ``"yield"``, ``"return"`` or ``"raise"``,
/// and ``value`` is what was yielded, returned or raised. ``ns`` is the wall time
/// of the step in nanoseconds.
#[pyclass(frozen, get_all, module = "coroscope.await_from_rust")]
pub struct StepRecord {
    /// 1 for the first step.
    pub(super) index: u64,
    action: &'static str,
    sent: Flat,
    pub(super) outcome: &'static str,
    pub(super) value: Flat,
    ns: u64,
}

#[pymethods]
impl StepRecord {
    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&*self.sent)?;
        visit.call(&*self.value)
    }

    /// Jupyter shows a record as a one-row step table.
    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        step_table(py, "", [self])
    }

    /// IPython's terminal shows it as a one-row text table.
    fn _repr_pretty_(&self, printer: &Bound<'_, PyAny>, cycle: bool) -> PyResult<()> {
        let py = printer.py();
        pretty(printer, cycle, self.__repr__(py)?, || {
            step_text(py, "", [self])
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<step {}: {} {} -> {} {}>",
            self.index,
            self.action,
            repr_of(self.sent.bind(py))?,
            self.outcome,
            repr_of(self.value.bind(py))?
        ))
    }
}

/// What ``trace`` returns: every ``StepRecord`` of a run, in order. A read-only
/// sequence (``len``, indexing, slicing, iteration; equal to a list with the
/// same records) that Jupyter shows as a step table.
#[pyclass(frozen, sequence, module = "coroscope.await_from_rust")]
pub struct Trace {
    /// The records, in a list nobody else holds: read through, never changed.
    records: Py<PyList>,
}

#[pymethods]
impl Trace {
    fn __len__(&self, py: Python<'_>) -> usize {
        self.records.bind(py).len()
    }

    /// A record by index, or a ``list`` of them by slice.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.records.bind(py).as_any().get_item(key)
    }

    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.records.bind(py).as_any().try_iter()?.into_any())
    }

    /// The index of the first record equal to ``value`` (``ValueError`` if
    /// none), as a list answers: a ``Sequence`` has it.
    #[pyo3(
        signature = (value, start = 0, stop = isize::MAX, /),
        text_signature = "($self, value, start=0, stop=sys.maxsize, /)"
    )]
    fn index(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        start: isize,
        stop: isize,
    ) -> PyResult<usize> {
        self.records
            .bind(py)
            .call_method1(intern!(py, "index"), (value, start, stop))?
            .extract()
    }

    /// How many records equal ``value``.
    #[pyo3(signature = (value, /))]
    fn count(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<usize> {
        self.records
            .bind(py)
            .call_method1(intern!(py, "count"), (value,))?
            .extract()
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        match other.cast::<Trace>() {
            Ok(other) => self.records.bind(py).eq(other.get().records.bind(py)),
            Err(_) => self.records.bind(py).eq(other),
        }
    }

    fn __traverse__(&self, visit: PyVisit<'_>) -> Result<(), PyTraverseError> {
        visit.call(&self.records)
    }

    /// Short: how many steps, and how the run ended.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let records = self.records.bind(py);
        let Some(last) = records.iter().last() else {
            return Ok("<Trace: no steps>".to_owned());
        };
        let last = last.cast_into::<StepRecord>()?;
        let last = last.get();
        Ok(format!(
            "<Trace: {} step{}, then {} {}>",
            records.len(),
            if records.len() == 1 { "" } else { "s" },
            last.outcome,
            repr_of(last.value.bind(py))?
        ))
    }

    /// Jupyter shows the whole run as a step table.
    fn _repr_html_(&self, py: Python<'_>) -> PyResult<String> {
        let records = self.owned(py)?;
        step_table(py, &self.__repr__(py)?, records.iter().map(Py::get))
    }

    /// IPython's terminal shows the whole run as a text table.
    fn _repr_pretty_(&self, printer: &Bound<'_, PyAny>, cycle: bool) -> PyResult<()> {
        let py = printer.py();
        let caption = self.__repr__(py)?;
        let records = self.owned(py)?;
        pretty(printer, cycle, caption.clone(), || {
            step_text(py, &caption, records.iter().map(Py::get))
        })
    }
}

impl Trace {
    fn owned(&self, py: Python<'_>) -> PyResult<Vec<Py<StepRecord>>> {
        self.records
            .bind(py)
            .iter()
            .map(|r| Ok(r.cast_into::<StepRecord>()?.unbind()))
            .collect()
    }
}

/// Take one step of `iter` and describe it. A raise is an outcome here, not an
/// error: it is returned in the record, and again as `Err` for the caller to pass on.
pub(super) fn recorded_step<'py>(
    iter: &Bound<'py, PyAny>,
    index: u64,
    action: &'static str,
    sent: &Bound<'py, PyAny>,
    step: impl FnOnce() -> PyResult<Step<'py>>,
) -> (StepRecord, PyResult<Step<'py>>) {
    let py = iter.py();
    let started = Instant::now();
    let result = step();
    let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let (outcome, value) = match &result {
        Ok(Step::Yield(v)) => ("yield", v.clone().unbind()),
        Ok(Step::Return(v)) => ("return", v.clone().unbind()),
        Err(err) => ("raise", err.value(py).clone().into_any().unbind()),
    };
    let record = StepRecord {
        index,
        action,
        sent: Flat::new(sent.clone().unbind()),
        outcome,
        value: Flat::new(value),
        ns,
    };
    (record, result)
}

/// Run an awaitable to completion with ``drive_send`` and return every step as a
/// ``StepRecord`` (for tables and plots).
///
/// An exception raised by the coroutine is recorded as the last step, not raised;
/// but ``KeyboardInterrupt`` and ``SystemExit`` (Ctrl-C, ``sys.exit``) are raised,
/// as every driver raises them: they stop the program, not the coroutine. A
/// driver error (a pending future, a bad yield, ``max_steps`` exceeded) is
/// raised as ``drive_send`` raises it.
#[pyfunction]
#[pyo3(
    signature = (obj, /, *, max_steps = DEFAULT_MAX_STEPS),
    text_signature = "(obj, /, *, max_steps=1000000)"
)]
pub fn trace<'py>(obj: &Bound<'py, PyAny>, max_steps: i64) -> PyResult<Bound<'py, Trace>> {
    let py = obj.py();
    let iter = awaitable_iter(obj)?;
    let none = py.None().into_bound(py);
    let mut records = Vec::new();
    let mut coroutine_raised = false;
    let outcome = run_to_completion(obj.py(), max_steps, || {
        let (record, result) =
            recorded_step(&iter, records.len() as u64 + 1, "send", &none, || {
                send_step(&iter, &none)
            });
        coroutine_raised = result.is_err();
        records.push(record);
        result
    });
    match outcome {
        Err(err) if !coroutine_raised || stops_the_program(py, &err) => Err(err),
        _ => Bound::new(
            py,
            Trace {
                records: PyList::new(py, records)?.unbind(),
            },
        ),
    }
}

/// The step table Jupyter shows: step, action, value sent, outcome, value,
/// time. Every value is its `repr`, escaped: a value is arbitrary Python.
pub(super) fn step_table<'a>(
    py: Python<'_>,
    caption: &str,
    records: impl IntoIterator<Item = &'a StepRecord>,
) -> PyResult<String> {
    let escape = py.import("html")?.getattr("escape")?;
    let cell = |text: String| -> PyResult<String> {
        Ok(format!(
            "<td>{}</td>",
            escape.call1((text,))?.extract::<String>()?
        ))
    };
    let mut html = String::from("<table>");
    if !caption.is_empty() {
        let caption: String = escape.call1((caption,))?.extract()?;
        html += &format!("<caption>{caption}</caption>");
    }
    html += "<tr><th>step</th><th>action</th><th>sent</th><th>outcome</th>\
             <th>value</th><th>µs</th></tr>";
    for record in records {
        html += "<tr>";
        html += &cell(record.index.to_string())?;
        html += &cell(record.action.to_owned())?;
        html += &cell(repr_of(record.sent.bind(py))?.to_string())?;
        html += &cell(record.outcome.to_owned())?;
        html += &cell(repr_of(record.value.bind(py))?.to_string())?;
        html += &cell(format!("{:.1}", record.ns as f64 / 1e3))?;
        html += "</tr>";
    }
    html += "</table>";
    Ok(html)
}

/// IPython's pretty printer protocol: the text table, or only the short repr
/// when the object is met again inside itself (`cycle`: a value that holds it).
pub(super) fn pretty(
    printer: &Bound<'_, PyAny>,
    cycle: bool,
    repr: String,
    table: impl FnOnce() -> PyResult<String>,
) -> PyResult<()> {
    let text = if cycle { repr } else { table()? };
    printer.call_method1(intern!(printer.py(), "text"), (text,))?;
    Ok(())
}

/// The same table as text, for IPython's terminal: fixed columns, each value's
/// `repr` cut to [`TEXT_CELL`] characters so one long value cannot hide the rest.
pub(super) fn step_text<'a>(
    py: Python<'_>,
    caption: &str,
    records: impl IntoIterator<Item = &'a StepRecord>,
) -> PyResult<String> {
    let cut = |text: String| -> String {
        if text.chars().count() <= TEXT_CELL {
            text
        } else {
            text.chars().take(TEXT_CELL - 1).collect::<String>() + "…"
        }
    };
    let mut lines = Vec::new();
    if !caption.is_empty() {
        lines.push(caption.to_owned());
    }
    let w = TEXT_CELL;
    lines.push(format!(
        "{:>4}  {:<6} {:<w$} {:<7} {:<w$} {:>8}",
        "step", "action", "sent", "outcome", "value", "µs"
    ));
    for record in records {
        lines.push(format!(
            "{:>4}  {:<6} {:<w$} {:<7} {:<w$} {:>8.1}",
            record.index,
            record.action,
            cut(repr_of(record.sent.bind(py))?.to_string()),
            record.outcome,
            cut(repr_of(record.value.bind(py))?.to_string()),
            record.ns as f64 / 1e3
        ));
    }
    Ok(lines.join("\n"))
}

/// The widest a value's `repr` is shown in a text table.
const TEXT_CELL: usize = 28;

pub(super) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(trace, m)?)?;
    m.add_class::<StepRecord>()?;
    m.add_class::<Trace>()?;
    // What the stubs promise: `isinstance(trace(c), collections.abc.Sequence)`.
    m.py()
        .import("collections.abc")?
        .getattr("Sequence")?
        .call_method1("register", (m.getattr("Trace")?,))?;
    Ok(())
}
