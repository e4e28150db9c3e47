//! What both formats need to write a line: how lines look ([`Style`]) and what a span event
//! reports ([`SpanEvent`]).

use std::time::SystemTime;

use crate::{
    subscriber::line::timestamp::{self, Instant, TimeZone, UnixMicros},
    trace::{Redactions, ValueLimit},
};

/// How lines look, shared by both formats.
pub(crate) struct Style {
    pub(crate) zone: TimeZone,
    pub(crate) redact: Redactions,
    /// The bound on string values.
    pub(crate) limit: ValueLimit,
    pub(crate) clock: fn() -> SystemTime,
    /// `clock` is the system clock, so span events may derive their time from an `Instant`.
    pub(crate) system_clock: bool,
}

impl Style {
    /// The time of a line written now.
    pub(crate) fn now(&self) -> UnixMicros {
        if self.system_clock {
            timestamp::unix_micros_at(Instant::now())
        } else {
            (self.clock)().into()
        }
    }

    /// The time of a line about `instant`, already read for the span's timing, without a
    /// second clock read (a fixed test clock is used as is).
    pub(crate) fn at(&self, instant: Instant) -> UnixMicros {
        if self.system_clock {
            timestamp::unix_micros_at(instant)
        } else {
            (self.clock)().into()
        }
    }
}

/// The three timings of a closed span, in whole microseconds; busy + idle == duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    pub(crate) busy_us: u64,
    pub(crate) idle_us: u64,
    pub(crate) duration_us: u64,
}

/// What a span event line reports: when it happened and, for `SPAN_CLOSED`, the timings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanEvent {
    pub(crate) time: UnixMicros,
    pub(crate) closed: Option<Timings>,
}

impl SpanEvent {
    pub(crate) fn message(self) -> &'static str {
        use crate::subscriber::line::keys::{SPAN_CLOSED, SPAN_CREATED};
        if self.closed.is_some() {
            SPAN_CLOSED
        } else {
            SPAN_CREATED
        }
    }
}
