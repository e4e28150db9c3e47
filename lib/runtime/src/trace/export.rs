//! The seam between the layer and exporters: the layer calls these traits for the spans and
//! events it sees, and knows nothing of how they leave the process (`otlp` implements them).

use std::{any::Any, fmt, time::SystemTime};

use tracing::{Event, Metadata};

use super::{context::SpanContext, fields::SpanFields};

/// Receives the spans the layer sees, at INFO and above.
pub trait SpanExporter: Send + Sync + fmt::Debug + 'static {
    /// Whether a new span is sampled (recorded and exported). `ctx` is its identity, whose
    /// flags are still its parent's (or a new trace's); the layer sets the sampled bit from the
    /// answer, so that outgoing calls propagate the decision.
    fn sample(
        &self,
        meta: &'static Metadata<'static>,
        ctx: &SpanContext,
        fields: &SpanFields,
    ) -> bool;

    /// A sampled span has closed.
    fn end(&self, span: EndedSpan<'_>);

    /// Sends what is queued and stops; called once, when logging shuts down.
    fn shutdown(&self);
}

/// A closed span, as [`SpanExporter::end`] receives it.
#[derive(Debug, Clone, Copy)]
pub struct EndedSpan<'a> {
    /// The span's callsite.
    pub meta: &'static Metadata<'static>,
    /// Its identity: the same ids as its log lines.
    pub context: &'a SpanContext,
    /// Its fields (redacted).
    pub fields: &'a SpanFields,
    /// When it was created.
    pub start: SystemTime,
    /// When it closed: `start` plus the duration its `SPAN_CLOSED` line reports.
    pub end: SystemTime,
}

/// Receives the events the filter lets through.
pub trait LogExporter: Send + Sync + fmt::Debug + 'static {
    /// One event, inside `span` (its identity and fields) if any, at `time`.
    fn emit(&self, event: &Event<'_>, span: Option<(&SpanContext, &SpanFields)>, time: SystemTime);

    /// The record of an event whose line capture-on-failure holds (SPEC §9): made now, from
    /// the event itself (whatever the line format), and sent only if the request fails.
    fn hold(
        &self,
        event: &Event<'_>,
        span: Option<(&SpanContext, &SpanFields)>,
        time: SystemTime,
    ) -> HeldRecord;

    /// A held record whose line has now been written: sent with its own time, `captured`
    /// among its attributes (and `captured_dropped`, if `dropped` lines were lost before it).
    fn emit_held(&self, held: HeldRecord, dropped: u64);

    /// Sends what is queued and stops; called once, when logging shuts down.
    fn shutdown(&self);
}

/// Marks a line (and its record) written by capture on failure (SPEC §9).
pub const CAPTURED: &str = "captured";
/// On the first captured line: how many older lines the capture limits dropped.
pub const CAPTURED_DROPPED: &str = "captured_dropped";

/// A record an exporter made for a held line ([`LogExporter::hold`]), in the exporter's own
/// type; it is held beside the line, its size counted against the same limits.
pub struct HeldRecord {
    record: Box<dyn Any + Send>,
    bytes: usize,
}

impl HeldRecord {
    /// `record`, which holds about `bytes` bytes.
    pub fn new<R: Any + Send>(record: R, bytes: usize) -> Self {
        HeldRecord {
            record: Box::new(record),
            bytes,
        }
    }

    /// About how many bytes it holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The record, if it is an `R` (the exporter that made it asks for its own type).
    pub fn into_inner<R: Any>(self) -> Option<R> {
        self.record.downcast().ok().map(|b| *b)
    }
}

impl fmt::Debug for HeldRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldRecord")
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
}
