//! A libtest-compatible runner for tests registered with
//! `#[pyo3_async_runtimes::tokio::test]`.
//!
//! What it adds to `pyo3_async_runtimes::testing::main`: every test runs even if
//! one fails (a panic or an `Err` is a failure, not an abort), standard flags such
//! as `--nocapture` or `--test-threads=1` are accepted, and the run ends with
//! libtest's `test result: ok. N passed; 0 failed; ...` line and a failing exit
//! code when anything failed, so that cargo and CI read it as they read any test.

use std::process::ExitCode;
use std::time::Instant;

use pyo3::prelude::*;
use pyo3_async_runtimes::testing::Test;

/// libtest flags that take a value; the value is skipped with the flag.
const FLAGS_WITH_VALUE: [&str; 6] = [
    "--test-threads",
    "--skip",
    "--format",
    "--color",
    "--logfile",
    "-Z",
];

/// The test-name filters given on the command line (every positional argument).
fn filters() -> (Vec<String>, Vec<String>) {
    let (mut filters, mut skips) = (Vec::new(), Vec::new());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--skip" {
            skips.extend(args.next());
        } else if FLAGS_WITH_VALUE.contains(&arg.as_str()) {
            args.next();
        } else if !arg.starts_with('-') {
            filters.push(arg);
        }
    }
    (filters, skips)
}

/// The embedded interpreter does not know about the project's venv (it was not
/// started from the venv's `python`), so its site-packages are added by hand:
/// tests may import what the venv has (uvloop, say).
fn add_venv_site_packages(py: Python<'_>) -> PyResult<()> {
    let venv = std::env::var("VIRTUAL_ENV")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv").to_owned());
    let site = py.import("site")?;
    for dir in py
        .import("glob")?
        .call_method1("glob", (format!("{venv}/lib/python3*/site-packages"),))?
        .try_iter()?
    {
        site.call_method1("addsitedir", (dir?,))?;
    }
    Ok(())
}

/// Run one test on tokio, so that a panic is caught as a failed `JoinHandle`.
/// The spawned task gets the runner's task locals (asyncio's loop and context),
/// as a test run in place would, so `into_future` finds the loop.
async fn run_one(test: &Test) -> Result<(), String> {
    let locals = Python::attach(pyo3_async_runtimes::tokio::get_current_locals)
        .map_err(|err| err.to_string())?;
    match pyo3_async_runtimes::tokio::get_runtime()
        .spawn(pyo3_async_runtimes::tokio::scope(locals, test.task()))
        .await
    {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(Python::attach(|py| {
            let traceback = err
                .traceback(py)
                .and_then(|tb| tb.format().ok())
                .unwrap_or_default();
            format!("{traceback}{}", err)
        })),
        Err(join_error) => Err(match join_error.try_into_panic() {
            Ok(panic) => panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panicked".to_owned()),
            Err(err) => err.to_string(),
        }),
    }
}

/// Run the selected tests one after another; report as libtest does.
async fn run_all() -> PyResult<bool> {
    let started = Instant::now();
    let (filters, skips) = filters();
    let mut tests: Vec<Test> = pyo3_async_runtimes::inventory::iter::<Test>()
        .cloned()
        .collect();
    tests.sort_by_key(|t| t.name);
    let total = tests.len();
    tests.retain(|t| {
        (filters.is_empty() || filters.iter().any(|f| t.name.contains(f.as_str())))
            && !skips.iter().any(|s| t.name.contains(s.as_str()))
    });
    let filtered_out = total - tests.len();

    println!("\nrunning {} tests", tests.len());
    let mut failures = Vec::new();
    for test in &tests {
        match run_one(test).await {
            Ok(()) => println!("test {} ... ok", test.name),
            Err(why) => {
                println!("test {} ... FAILED", test.name);
                failures.push((test.name, why));
            }
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:\n");
        for (name, why) in &failures {
            println!("---- {name} ----\n{why}\n");
        }
        println!("failures:");
        for (name, _) in &failures {
            println!("    {name}");
        }
    }
    let verdict = if failures.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {filtered_out} filtered out; finished in {:.2}s\n",
        tests.len() - failures.len(),
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(failures.is_empty())
}

/// Start Python, give asyncio's loop the main thread, and run the tests on it
/// (what `#[pyo3_async_runtimes::tokio::main]` does, with our runner inside).
pub fn main() -> ExitCode {
    Python::initialize();
    let passed = Python::attach(|py| {
        add_venv_site_packages(py)?;
        pyo3_async_runtimes::tokio::run(py, run_all())
    });
    match passed {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(101),
        Err(err) => {
            Python::attach(|py| err.print(py));
            ExitCode::from(101)
        }
    }
}
