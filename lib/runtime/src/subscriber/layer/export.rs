//! The layer's optional exporters (the `trace` seam's, which `otlp` implements): spans at INFO
//! and above are sampled when created and handed over, with the ids of their lines, when they
//! close; events the layer writes go out as records with their span's identity. Without them,
//! none of this runs per span or event.

use std::{sync::Arc, time::SystemTime};

use tracing::{Event, Metadata};
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::filtering::TRACING_FLOOR;
use crate::{
    subscriber::{
        line::timestamp::{Instant, UnixMicros},
        span_data::SpanData,
    },
    trace::{EndedSpan, HeldRecord, LogExporter, SpanContext, SpanExporter, SpanFields},
};

/// The exporters a layer was built with.
#[derive(Default)]
pub(super) struct Exports {
    pub(super) spans: Option<Arc<dyn SpanExporter>>,
    pub(super) logs: Option<Arc<dyn LogExporter>>,
}

impl Exports {
    /// Whether spans keep their typed field values for an exporter (a span's fields are its
    /// exported span's attributes, and its records' too).
    pub(super) fn keeps_fields(&self) -> bool {
        self.spans.is_some() || self.logs.is_some()
    }

    /// Samples a new span at INFO or above: the answer sets its context's sampled flag (which
    /// outgoing calls propagate); a sampled span's start is kept for its export.
    #[inline]
    pub(super) fn span_started(
        &self,
        meta: &'static Metadata<'static>,
        context: &mut SpanContext,
        fields: &SpanFields,
    ) -> Option<SystemTime> {
        let export = self.spans.as_ref()?;
        if *meta.level() > TRACING_FLOOR {
            return None;
        }
        let sampled = export.sample(meta, context, fields);
        context.flags = context.flags.with_sampled(sampled);
        sampled.then(SystemTime::now)
    }

    /// Hands a closed, sampled span over. Its end is its start plus the duration its
    /// `SPAN_CLOSED` line reports, so both agree.
    #[inline]
    pub(super) fn span_ended(
        &self,
        meta: &'static Metadata<'static>,
        data: &SpanData,
        now: Instant,
    ) {
        if let (Some(export), Some(start)) = (&self.spans, data.export_start) {
            let end = start + now.duration_since(data.timing.created);
            export.end(EndedSpan {
                meta,
                context: &data.context,
                fields: &data.fields,
                start,
                end,
            });
        }
    }

    /// Hands over an event the layer writes, in `span` if any, at the line's `time`.
    #[inline]
    pub(super) fn event<S>(
        &self,
        event: &Event<'_>,
        span: Option<&SpanRef<'_, S>>,
        time: UnixMicros,
    ) where
        S: for<'a> LookupSpan<'a>,
    {
        let Some(export) = &self.logs else { return };
        let extensions = span.map(|s| s.extensions());
        let data = extensions.as_ref().and_then(|e| e.get::<SpanData>());
        export.emit(
            event,
            data.map(|d| (&d.context, &d.fields)),
            time.to_system_time(),
        );
    }

    /// The log record of an event whose line is held for its request, if logs are exported.
    pub(super) fn held_record<S>(
        &self,
        event: &Event<'_>,
        span: Option<&SpanRef<'_, S>>,
        time: UnixMicros,
    ) -> Option<HeldRecord>
    where
        S: for<'a> LookupSpan<'a>,
    {
        let export = self.logs.as_ref()?;
        let extensions = span.map(|s| s.extensions());
        let data = extensions.as_ref().and_then(|e| e.get::<SpanData>());
        Some(export.hold(
            event,
            data.map(|d| (&d.context, &d.fields)),
            time.to_system_time(),
        ))
    }

    /// Sends a held record whose line has been written.
    pub(super) fn held_sent(&self, record: Option<HeldRecord>, dropped: u64) {
        if let (Some(export), Some(record)) = (&self.logs, record) {
            export.emit_held(record, dropped);
        }
    }
}
