//! The seam between the layer and the formats: [`Formatter`] (the one `match` on the format),
//! what a format keeps per span ([`SpanLines`]), how lines look ([`Style`]) and what a span
//! event reports ([`SpanEvent`]).

use tracing::{field::Visit, Event, Metadata};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::{
    jsonl, readable,
    style::{SpanEvent, Style},
};
use crate::subscriber::line::timestamp::UnixMicros;
use crate::trace::{SpanContext, SpanFields};

/// Which format lines are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// One human-readable line per event (SPEC §2).
    #[default]
    Readable,
    /// One JSON object per line (SPEC §3).
    Jsonl,
}

impl std::str::FromStr for Format {
    type Err = crate::settings::Rejected;
    /// A boolean: whether lines are JSONL (`DYN_LOGGING_JSONL`, `jsonl`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::settings::Flag::choose(s, Format::Jsonl, Format::Readable)
    }
}

crate::setting_value!(Format, FLAG, crate::settings::Flag::EXPECTING);

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

/// What the readable format reads of a span: its text, from the lines a span keeps.
impl<D: SpanView> readable::ReadableSpan for D {
    fn text(&self) -> Option<&readable::SpanText> {
        match self.lines() {
            SpanLines::Readable(text) => Some(text),
            SpanLines::Jsonl(_) => None,
        }
    }

    fn context(&self) -> &SpanContext {
        SpanView::context(self)
    }
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
                json.record(meta, &self.style.redact, self.style.limit, record);
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
            SpanLines::Jsonl(json) => {
                json.record(meta, &self.style.redact, self.style.limit, record)
            }
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

    /// Writes an event line that happened at `time` (read once by the layer for everything
    /// the event needs); `span` is the event's span.
    pub(crate) fn write_event<D, S>(
        &self,
        buf: &mut Vec<u8>,
        ansi: bool,
        event: &Event<'_>,
        span: Option<&SpanRef<'_, S>>,
        time: UnixMicros,
    ) where
        D: SpanView,
        S: for<'a> LookupSpan<'a>,
    {
        match self.format {
            Format::Jsonl => {
                let extensions = span.map(|s| s.extensions());
                let json = match extensions.as_ref().and_then(|e| e.get::<D>()).map(D::lines) {
                    Some(SpanLines::Jsonl(json)) => Some(json),
                    _ => None,
                };
                jsonl::write_event(buf, &self.style, event, json, time);
            }
            Format::Readable => {
                readable::write_event::<D, S>(buf, &self.style, ansi, event, span, time)
            }
        }
    }

    /// Writes an event line for a request's caller (SPEC §13): JSONL whatever this format is,
    /// with the span's identity; under the readable format the span's own fields are left out
    /// (its spans keep them as text).
    pub(crate) fn write_client_line<D, S>(
        &self,
        buf: &mut Vec<u8>,
        event: &Event<'_>,
        span: Option<&SpanRef<'_, S>>,
        time: UnixMicros,
    ) where
        D: SpanView,
        S: for<'a> LookupSpan<'a>,
    {
        let extensions = span.map(|s| s.extensions());
        let data = extensions.as_ref().and_then(|e| e.get::<D>());
        let identity;
        let json = match data {
            Some(data) => match data.lines() {
                SpanLines::Jsonl(json) => Some(json),
                SpanLines::Readable(_) => {
                    let mut json = jsonl::SpanJson::default();
                    json.set_identity(span.map_or("", |s| s.name()), SpanView::context(data));
                    identity = json;
                    Some(&identity)
                }
            },
            None => None,
        };
        jsonl::write_event(buf, &self.style, event, json, time);
    }

    /// Writes `line`, an event line this format wrote earlier and held for its request, marked
    /// as such: `"captured":true` (JSONL) or ` captured=true` (readable) at its end, and on the
    /// first line written for a request, how many of its held lines were dropped before.
    pub(crate) fn write_captured(&self, buf: &mut Vec<u8>, line: &[u8], dropped: u64) {
        let (end, mark, count): (&[u8], &[u8], &[u8]) = match self.format {
            Format::Jsonl => (b"}\n", b",\"captured\":true", b",\"captured_dropped\":"),
            Format::Readable => (b"\n", b" captured=true", b" captured_dropped="),
        };
        debug_assert!(line.ends_with(end));
        buf.extend_from_slice(&line[..line.len().saturating_sub(end.len())]);
        buf.extend_from_slice(mark);
        if dropped > 0 {
            buf.extend_from_slice(count);
            buf.extend_from_slice(itoa::Buffer::new().format(dropped).as_bytes());
        }
        buf.extend_from_slice(end);
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
                SpanView::context(own),
                kind,
            ),
        }
    }
}
