//! Argument checks every entry point shares, so the same mistake gets the same
//! error, in Python's own type, naming the argument, wherever it is made.
//!
//! A leaf module: it imports no lesson, so any lesson may use it.

use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyValueError};
use pyo3::prelude::*;

/// Seconds as a `Duration`, or an error naming `what`: `ValueError` for a
/// negative, NaN or infinite number (as `time.sleep` says), `OverflowError` for
/// a finite one too large for a `Duration` (over 584 billion years, which
/// `time.sleep` and `Lock.acquire` also refuse with an `OverflowError`).
pub fn seconds(what: &str, seconds: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        if seconds.is_finite() && seconds > 0.0 {
            PyOverflowError::new_err(format!("{what} is too large: {seconds:e} seconds"))
        } else {
            PyValueError::new_err(format!(
                "{what} must be a finite, non-negative number of seconds, not {seconds}"
            ))
        }
    })
}

/// A count from Python (an `int` that may be negative) as a `u64`, or
/// `ValueError` naming `what`: Rust's `u64` would turn `-1` into an
/// `OverflowError` about C types, which names nothing the caller wrote.
pub fn count(what: &str, n: i64) -> PyResult<u64> {
    u64::try_from(n).map_err(|_| {
        PyValueError::new_err(format!("{what} must be a non-negative integer, not {n}"))
    })
}
