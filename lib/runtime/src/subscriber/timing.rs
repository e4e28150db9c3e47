//! Span timing: busy time is measured directly at enter and exit, idle is the rest of the
//! lifetime, and `busy + idle == duration` exactly.

use std::cell::RefCell;

use tracing::span::Id;

use super::{
    format::Timings,
    line::timestamp::{self, Instant},
};

/// What a span keeps to report its timings.
#[derive(Debug)]
pub(crate) struct Timing {
    pub(crate) created: Instant,
    /// The time entered so far, added at each exit (see [`ENTERED`]). A span cannot close while
    /// entered: the registry holds a reference to it for each thread it is entered on.
    busy_nanos: u64,
}

impl Timing {
    pub(crate) fn new(created: Instant) -> Self {
        Timing {
            created,
            busy_nanos: 0,
        }
    }

    /// Adds time spent entered.
    pub(crate) fn add_busy(&mut self, nanos: u64) {
        self.busy_nanos += nanos;
    }

    /// The timings of the span closing `now`, in whole microseconds.
    pub(crate) fn close(&self, now: Instant) -> Timings {
        let duration_us = timestamp::nanos(now.duration_since(self.created)) / 1000;
        let busy_us = (self.busy_nanos / 1000).min(duration_us);
        Timings {
            busy_us,
            idle_us: duration_us - busy_us,
            duration_us,
        }
    }
}

thread_local! {
    /// The spans entered on this thread and not yet exited, innermost last: the layer, the
    /// span and when it was entered. Enter pushes here instead of looking the span up in the
    /// registry and locking its extensions (four atomic operations); exit adds the time to the
    /// span. A span entered on several threads at once counts each thread's time, and busy
    /// time is capped at the span's duration.
    static ENTERED: RefCell<Vec<(usize, Id, Instant)>> = const { RefCell::new(Vec::new()) };
}

/// Notes that `layer` saw `id` entered on this thread at `now`.
pub(crate) fn enter(layer: usize, id: &Id, now: Instant) {
    ENTERED.with(|entered| {
        if let Ok(mut entered) = entered.try_borrow_mut() {
            entered.push((layer, id.clone(), now));
        }
    });
}

/// Takes `layer`'s innermost entry of `id` off this thread's entered spans; gives when it was
/// entered, unless the span is still entered further out (re-entered), whose own entry already
/// counts this time.
pub(crate) fn leave(layer: usize, id: &Id) -> Option<Instant> {
    ENTERED.with(|entered| {
        let mut entered = entered.try_borrow_mut().ok()?;
        let ours = |(l, span, _): &(usize, Id, Instant)| *l == layer && span == id;
        let at = entered.iter().rposition(ours)?;
        let (_, _, since) = entered.remove(at);
        (!entered[..at].iter().any(ours)).then_some(since)
    })
}
