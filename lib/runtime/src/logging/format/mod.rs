//! The two line formats, side by side behind one seam: [`Formatter`] is the only place that
//! tells them apart, and each format owns what it keeps per span ([`SpanLines`]) and how it
//! reads a span's ancestors.
//!
//! - [`jsonl`]: one JSON object per line (SPEC §3), a span's fields and identity rendered to
//!   JSON once, when recorded, and copied into each of its lines.
//! - [`readable`]: tracing-subscriber's full format (SPEC §2), a span's `name{fields}` rendered
//!   once and chained from the root at each line.
//!
//! The layer calls the seam with what it knows (the event, the span, the identity); it does
//! not name a format.

mod jsonl;
mod readable;

use std::time::SystemTime;

use tracing::{field::Visit, Event, Metadata};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::line::timestamp::{self, Instant, TimeZone, UnixMicros};
use crate::trace::{Redactions, SpanContext, SpanFields};

/// Which format lines are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One human-readable line per event (SPEC §2).
    #[default]
    Readable,
    /// One JSON object per line (SPEC §3).
    Jsonl,
}

/// How lines look, shared by both formats.
pub(crate) struct Style {
    pub(crate) zone: TimeZone,
    pub(crate) redact: Redactions,
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
        use super::line::keys::{SPAN_CLOSED, SPAN_CREATED};
        if self.closed.is_some() {
            SPAN_CLOSED
        } else {
            SPAN_CREATED
        }
    }
}

/// What a format keeps per span, rendered when the span's fields are recorded.
#[derive(Debug)]
pub(crate) enum SpanLines {
    Jsonl(jsonl::SpanJson),
    Readable(readable::SpanText),
}

/// A span as the formats read it from the registry's extensions: the layer's per-span record
/// implements it.
pub(crate) trait SpanView: Send + Sync + 'static {
    fn context(&self) -> &SpanContext;
    fn lines(&self) -> &SpanLines;
}

/// The format of a layer, with its style.
pub(crate) struct Formatter {
    format: Format,
    pub(crate) style: Style,
}

impl Formatter {
    pub(crate) fn new(format: Format, style: Style) -> Self {
        Formatter { format, style }
    }

    /// Whether spans keep typed field values for this format (the readable text is rendered
    /// from them; JSONL writes values straight to JSON).
    pub(crate) fn keeps_fields(&self) -> bool {
        self.format == Format::Readable
    }

    /// Whether lines may carry ANSI colour.
    pub(crate) fn colours(&self) -> bool {
        self.format == Format::Readable
    }

    /// A new span's lines from its values (`record` visits them, identity fields taken out)
    /// and, for the formats that keep them, its typed `fields`; the identity follows with
    /// [`set_identity`](Self::set_identity).
    pub(crate) fn new_span(
        &self,
        meta: &'static Metadata<'static>,
        fields: &SpanFields,
        record: impl FnOnce(&mut dyn Visit),
    ) -> SpanLines {
        match self.format {
            Format::Jsonl => {
                let mut json = jsonl::SpanJson::default();
                json.record(meta, &self.style.redact, record);
                SpanLines::Jsonl(json)
            }
            Format::Readable => SpanLines::Readable(readable::SpanText::new(
                meta.name(),
                fields,
                &self.style.redact,
            )),
        }
    }

    /// Values recorded later (`Span::record`).
    pub(crate) fn record(
        &self,
        lines: &mut SpanLines,
        meta: &'static Metadata<'static>,
        fields: &SpanFields,
        record: impl FnOnce(&mut dyn Visit),
    ) {
        match lines {
            SpanLines::Jsonl(json) => json.record(meta, &self.style.redact, record),
            SpanLines::Readable(text) => {
                *text = readable::SpanText::new(meta.name(), fields, &self.style.redact)
            }
        }
    }

    /// The span's identity, once known or after its request id changes.
    pub(crate) fn set_identity(
        &self,
        lines: &mut SpanLines,
        meta: &Metadata<'_>,
        ctx: &SpanContext,
    ) {
        match lines {
            SpanLines::Jsonl(json) => json.set_identity(meta.name(), ctx),
            // Readable lines read the identity from the span's context.
            SpanLines::Readable(_) => {}
        }
    }

    /// Writes an event line; `span` is the event's span.
    pub(crate) fn write_event<D, S>(
        &self,
        buf: &mut Vec<u8>,
        ansi: bool,
        event: &Event<'_>,
        span: Option<&SpanRef<'_, S>>,
    ) where
        D: SpanView,
        S: for<'a> LookupSpan<'a>,
    {
        match self.format {
            Format::Jsonl => {
                let extensions = span.map(|s| s.extensions());
                let data = extensions.as_ref().and_then(|e| e.get::<D>());
                jsonl::write_event(buf, &self.style, event, data.map(D::lines));
            }
            Format::Readable => readable::write_event::<D, S>(buf, &self.style, ansi, event, span),
        }
    }

    /// Writes a `SPAN_CREATED` or `SPAN_CLOSED` line for `span`, whose record `own` the caller
    /// holds (at creation it is not in the registry yet).
    pub(crate) fn write_span_event<D, S>(
        &self,
        buf: &mut Vec<u8>,
        ansi: bool,
        span: &SpanRef<'_, S>,
        own: &D,
        kind: SpanEvent,
    ) where
        D: SpanView,
        S: for<'a> LookupSpan<'a>,
    {
        let meta = span.metadata();
        match own.lines() {
            SpanLines::Jsonl(json) => jsonl::write_span_event(buf, &self.style, meta, json, kind),
            SpanLines::Readable(text) => readable::write_span_event::<D, S>(
                buf,
                &self.style,
                ansi,
                span,
                text,
                own.context(),
                kind,
            ),
        }
    }
}
