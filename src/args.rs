//! Argument checks every entry point shares, so the same mistake gets the same
//! error, in Python's own type, naming the argument, wherever it is made.
//!
//! A leaf module: it imports no lesson, so any lesson may use it.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Seconds as a `Duration`, or `ValueError` naming `what` (negative, NaN,
/// infinite, or too large for a `Duration`).
pub fn seconds(what: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        PyValueError::new_err(format!(
            "{what} must be a finite, non-negative number of seconds, not {seconds}"
        ))
    })
}
