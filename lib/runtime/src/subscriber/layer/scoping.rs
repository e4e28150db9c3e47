//! Request-scoped logging of one event (SPEC §9): a line the filter hides is held for its
//! request (or dropped), an ERROR first writes what its request held, a line to be written
//! counts against its callsite's rate; and what in a span's recorded values fails its request.

use tracing::{
    field::{Field, Visit},
    Event, Level, Subscriber,
};
use tracing_subscriber::{
    layer::Context,
    registry::{LookupSpan, SpanRef},
};

use super::TracewireLayer;
use crate::subscriber::{
    line::timestamp::UnixMicros,
    output::with_buffer,
    scope::{Failed, Hold, RequestScope, Scoping},
    span_data::SpanData,
};
use crate::trace::HeldRecord;

impl TracewireLayer {
    /// Request-scoped logging of an event the subscriber let through: a hidden one is held for
    /// its request (or dropped), an ERROR first writes what its request held, and a line to be
    /// written counts against its callsite's rate. Whether the event is written now.
    pub(super) fn scope_event<S>(
        &self,
        scoping: &Scoping,
        event: &Event<'_>,
        ctx: &Context<'_, S>,
        span: Option<&SpanRef<'_, S>>,
        time: UnixMicros,
    ) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meta = event.metadata();
        let level = meta.level();
        let shown = self.filter_shows_event(event, ctx);
        // The usual case, a line the filter shows, no failure and no caller asking for lines:
        // no need of its request.
        if !shown || *level == Level::ERROR || scoping.asking() {
            let request = span.and_then(|s| s.extensions().get::<SpanData>()?.request.clone());
            if let Some(client) = request.as_ref().and_then(|r| r.client.as_ref()) {
                if client.wants(level) {
                    with_buffer(|buf| {
                        self.format
                            .write_client_line::<SpanData, S>(buf, event, span, time);
                        client.push(buf);
                    });
                }
            }
            if *level == Level::ERROR {
                if let Some(failed) = request.as_ref().and_then(|r| r.fail()) {
                    self.write_held(failed);
                }
            }
            if !shown {
                let Some(request) = request else {
                    return false;
                };
                if !request.raises(level) {
                    if scoping.holds(&request, level) {
                        self.hold(&request, event, span, time);
                    }
                    return false;
                }
            }
        }
        let Some(rate) = &scoping.rate else {
            return true;
        };
        rate.admit(meta, time.0.max(0) as u64 / 1_000_000)
    }

    /// Renders `event` into its request's held lines, with its log record when log export
    /// is on (written at once, marked, if the request has already failed).
    fn hold<S>(
        &self,
        request: &RequestScope,
        event: &Event<'_>,
        span: Option<&SpanRef<'_, S>>,
        time: UnixMicros,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let level = *event.metadata().level();
        let record = self.exports.held_record(event, span, time);
        with_buffer(|buf| {
            self.format
                .write_event::<SpanData, S>(buf, false, event, span, time);
            if let Hold::WriteNow(record) = request.hold(buf, level, record) {
                let mut marked = Vec::with_capacity(buf.len() + 20);
                self.format.write_captured(&mut marked, buf, 0);
                self.write_captured(&marked, level, record, 0);
            }
        });
    }

    /// Writes the lines a failed request held, in their order, marked as captured.
    pub(super) fn write_held(&self, failed: Failed) {
        let mut buf = Vec::new();
        for (i, held) in failed.lines.into_iter().enumerate() {
            buf.clear();
            let dropped = if i == 0 { failed.dropped } else { 0 };
            self.format.write_captured(&mut buf, &held.line, dropped);
            self.write_captured(&buf, held.level, held.record, dropped);
        }
    }

    /// A captured line written, and its record sent.
    fn write_captured(&self, line: &[u8], level: Level, record: Option<HeldRecord>, dropped: u64) {
        self.outputs.write(line);
        self.exports.held_sent(record, dropped);
        self.metrics.line(&level);
    }
}

/// Whether a span's recorded values say its request failed: `status` 5xx or `outcome`
/// `error` (SPEC §9).
pub(super) struct FailureFields(pub(super) bool);

impl Visit for FailureFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0 |= field.name() == "status" && value >= 500;
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0 |= field.name() == "status" && value >= 500;
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0 |= field.name() == "outcome" && value == "error";
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "outcome" {
            self.0 |= format!("{value:?}") == "error";
        }
    }
}
