//! Waiting for something a process does, with a bound: every wait of the tests goes through
//! [`poll`].

use std::time::{Duration, Instant};

/// Calls `f` every 20 ms until it gives a value, for up to `secs` seconds; then panics saying
/// what was awaited (`what` is asked only then).
pub fn poll<T>(secs: u64, what: impl FnOnce() -> String, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = f() {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("not within {secs} s: {}", what());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (up to `secs` s) until `done` holds, polling every 20 ms; panics with `what`.
pub fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    poll(secs, || what.to_owned(), || done().then_some(()));
}
