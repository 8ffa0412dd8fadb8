//! What the lessons share and none of them teaches: the map.
//!
//! A lesson (`await_from_rust`, `awaitable`, `bridge` and their files) is read
//! to learn one mechanism. The files here are what those mechanisms stand on;
//! each is a leaf that imports no lesson, so a lesson can be read with these
//! taken as given.
//!
//! # The runtime and its threads
//!
//! - [`runtime`]: the tokio runtime the kit owns: started on first use, shut
//!   down at interpreter exit (the exit crash it prevents is told there) or by
//!   hand (cutting the work loops wait for), started afresh in a fork child.
//! - [`kit_tokio`]: pyo3-async-runtimes on that runtime, through its `generic`
//!   API, instead of the `static` runtime nobody can shut down.
//! - [`threads`]: the kit's own threads (`Kitchen` cooks): a stop signal to
//!   wait on instead of sleeping, and a count that shutdown waits for; and
//!   the blocking waits that let Ctrl-C in.
//! - [`in_flight`]: the count of work that ends by reaching into Python,
//!   which shutdown and the exit wait for.
//! - [`exit`]: the flag the exit raises, and what a wait of the kit's does
//!   then: parked for good in a daemon thread, answered in a thread the
//!   interpreter joins after `atexit` (3.15+).
//! - [`fork_gate`]: a fork waits until no thread of the kit is in the middle
//!   of its work, so the child never inherits a lock held by a thread that
//!   stayed in the parent.
//!
//! # asyncio's vocabulary
//!
//! - [`asyncio`]: asyncio's own exception types, loop rules and reports,
//!   looked up once, so every lesson speaks asyncio's words.
//! - [`finalize`]: asyncio's `__del__` for the Rust Future and Task, so their
//!   lost-exception and destroyed-pending reports are made before the cycle
//!   collector clears the loop they go to.
//! - `c_future` (3.14+): asyncio's C `Future` as the base of the Rust one
//!   (PEP 697), so `isinstance(fut, asyncio.Future)` holds and asyncio's call
//!   graph sees the kit's futures and tasks.
//! - [`finish`]: the two ways an await finishes, and their costs.
//! - [`args`]: argument checks every entry point shares.
//!
//! # Deep chains, locks, proofs
//!
//! - [`trashcan`] and [`depth`]: deep chains (`Ready(Ready(...))` sixty
//!   thousand deep) freed without deep recursion, and walked (awaited, driven,
//!   printed) with a guard that raises `RecursionError` before the C stack ends.
//! - [`state_lock`]: the lock around the Future's and the Task's state, which
//!   on a build with a GIL is the GIL itself (no atomic instruction per access).
//! - [`live`]: the one counter of Rust futures alive, which proves a drop.
//!
//! # For the instruments
//!
//! - [`shapes`]: the example futures (yield, hop, sleep, panic) every bridge
//!   wraps, written once, so benchmarks compare bridges, not examples.
//! - [`timeline`]: the hooks that let `coroscope.timeline.record()` watch every
//!   step of the Rust Task (and hear which wake-ups only Rust sees).
//! - [`rust_side`]: the other half of each crossing, recorded where it
//!   happens (tokio's polls, waits for the GIL, wakes and where they lead),
//!   at one atomic load per hook when nobody records.
//! - [`build_info`]: what this build is (profile, versions), so that benchmark
//!   numbers always say what produced them.

pub mod args;
pub mod asyncio;
pub mod build_info;
#[cfg(Py_3_14)]
pub mod c_future;
pub mod depth;
pub mod exit;
pub mod finalize;
pub mod finish;
pub mod fork_gate;
pub mod in_flight;
pub mod kit_tokio;
pub mod live;
pub mod runtime;
pub mod rust_side;
pub mod shapes;
pub mod state_lock;
pub mod threads;
pub mod timeline;
pub mod trashcan;
