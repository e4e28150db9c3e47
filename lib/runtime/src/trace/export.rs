//! The seam between the layer and exporters: the layer calls these traits for the spans and
//! events it sees, and knows nothing of how they leave the process (`otlp` implements them).

use std::{fmt, time::SystemTime};

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

    /// A line capture-on-failure held and has now written (SPEC §9): one JSONL line of SPEC §3,
    /// marked `"captured":true`, whose event the filter hid when it happened. Its record has
    /// the line's own time, level, message, ids and fields.
    fn emit_captured(&self, line: &[u8]);

    /// Sends what is queued and stops; called once, when logging shuts down.
    fn shutdown(&self);
}
