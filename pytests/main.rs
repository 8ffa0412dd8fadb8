//! Rust-side tests: Rust code driving a real, embedded Python interpreter.
//!
//! Tests are registered with pyo3-async-runtimes' attribute,
//! `#[pyo3_async_runtimes::tokio::test]`, as its guide and the PyO3 async
//! workshop teach: an `async fn` test runs on tokio while asyncio's loop owns the
//! main thread; a plain `fn` test runs on tokio's blocking pool. One file per
//! topic, paired with `src/<stem>.rs`, as in `tests/test_<stem>.py`.
//!
//! The stock runner (`pyo3_async_runtimes::testing::main`) prints no summary and
//! aborts on the first failure, so [`harness`] runs the same registered tests and
//! reports them the way libtest does.

mod harness;
mod test_await_from_rust;
mod test_awaitable;
mod test_bridge;

fn main() -> std::process::ExitCode {
    harness::main()
}
