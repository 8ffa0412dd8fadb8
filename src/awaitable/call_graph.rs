//! What a suspended Rust awaitable waits on: the last link of a call graph.
//!
//! asyncio's call graph (`asyncio.capture_call_graph`, 3.14+) walks a task's
//! coroutines through `cr_await` and stops where the chain leaves Python: at a
//! [`RustAwaitable`](super::RustAwaitable) it has no frame to show, so a task
//! parked in `await sleep_fast(5)` looks as if it waited on nothing.
//! `coroscope.call_graph` goes one link further and asks the awaitable.
//!
//! What a reader would get wrong: the awaitable cannot find this out by looking
//! at its future. Once boxed, a Rust future is an opaque state machine (a
//! `dyn Future` has no "what are you waiting for?"), and its waker is handed to
//! a timer or a channel that keeps no note of who registered it. So the maker
//! of the future, which knows what it built, says it when it makes the
//! awaitable; the awaitable only stores the words (and, for a timer, the
//! deadline, so the graph can say how long is left).

use std::time::{Duration, Instant};

/// What the future inside a [`RustAwaitable`](super::RustAwaitable) waits on,
/// said by whoever made it.
#[derive(Clone, Copy, Debug)]
pub struct WaitsOn {
    /// In the call graph's words: "a task on a tokio worker".
    pub what: &'static str,
    /// When a timer is due: `None` for what has no deadline (and for a
    /// deadline too far to represent, which is as good as none).
    pub due: Option<Instant>,
    /// Its wake-up comes from another thread (a tokio task, a timer), which
    /// may beat the first poll: ready at once or pending is then a race, so
    /// the awaitable finds its loop before that poll (a step with no loop
    /// fails whichever side wins it, as `asyncio.sleep(0.01)` does).
    pub elsewhere: bool,
}

impl WaitsOn {
    /// A future the kit knows nothing more about (`into_awaitable` of any
    /// Rust future).
    pub const UNNAMED: WaitsOn = WaitsOn::on("a Rust future");
    /// Ready at its first poll: a task is never seen suspended in it.
    pub const NOTHING: WaitsOn = WaitsOn::on("nothing (ready at its first poll)");
    /// Woke itself during its poll: the task is stepped again on the loop's
    /// next pass, with no waiter and no other thread.
    pub const ITSELF: WaitsOn = WaitsOn::on("itself (a bare yield to the loop)");
    /// A task spawned on tokio at the first poll (the *hop* shape).
    pub const TOKIO_TASK: WaitsOn = WaitsOn::on("a task on a tokio worker").from_elsewhere();

    /// A wait with no deadline, in the graph's words.
    pub const fn on(what: &'static str) -> WaitsOn {
        WaitsOn {
            what,
            due: None,
            elsewhere: false,
        }
    }

    /// The same wait, woken from another thread (see `elsewhere`).
    pub const fn from_elsewhere(self) -> WaitsOn {
        WaitsOn {
            elsewhere: true,
            ..self
        }
    }

    /// A tokio timer of `seconds` made now (`seconds` already checked finite
    /// and not negative, as `shapes::sleep` checks it; zero makes no timer).
    pub fn timer(seconds: f64) -> WaitsOn {
        WaitsOn {
            what: "a tokio timer",
            due: Instant::now().checked_add(Duration::from_secs_f64(seconds)),
            elsewhere: seconds > 0.0,
        }
    }

    /// The words and the seconds left until the deadline (negative once it
    /// has passed and the wake-up is on its way), as Python reads them.
    pub fn as_python(&self) -> (&'static str, Option<f64>) {
        let now = Instant::now();
        let left = self.due.map(|due| match due.checked_duration_since(now) {
            Some(ahead) => ahead.as_secs_f64(),
            None => -now.duration_since(due).as_secs_f64(),
        });
        (self.what, left)
    }
}
