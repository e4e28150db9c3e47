//! [`TracewireLayer`]: filtering, trace identity, span timing and line output in one
//! `tracing_subscriber::Layer`, on top of the formats, the outputs and the exporter seam.
//!
//! Filtering policy. `DYN_LOG` decides which lines are written, not which spans exist: spans at
//! INFO or above always exist (they carry a request's trace identity even with `DYN_LOG=warn` or
//! `off`); DEBUG and TRACE spans exist when the filter enables them, so chatty dependency spans
//! cost nothing. Events follow the filter through tracing's callsite interest, so a disabled
//! event costs what tracing's callsite cache costs. `SPAN_CREATED` / `SPAN_CLOSED` lines are
//! written only for spans the filter enables.
//!
//! Request-scoped logging ([`scope`](super::scope)) adds to the filter: a request's own level,
//! lines held for a request until it fails, the rate limit per callsite.

use std::{
    cell::RefCell,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::SystemTime,
};

use tracing::{
    field::{Field, Visit},
    span::{Attributes, Id, Record},
    subscriber::Interest,
    Dispatch, Event, Level, Metadata, Subscriber,
};
use tracing_log::NormalizeEvent;
use tracing_subscriber::{
    filter::LevelFilter,
    layer::Context,
    registry::{LookupSpan, SpanRef},
    Layer,
};

use super::{
    config::LoggingConfig,
    format::{Formatter, SpanEvent, Style, Timings},
    line::{
        callsite::{self, Slots},
        keys::LOG_TARGET,
        timestamp::{self, Instant, UnixMicros},
    },
    output::{with_buffer, LineSink, Outputs},
    reload::{FilterHandle, SharedFilter},
    scope::{Failed, Hold, RateLimiter, RequestScope, Scoping},
    span_data::SpanData,
    timing::{self, Timing},
};
use crate::metrics::{metrics, Metrics};
use crate::trace::{
    EndedSpan, IdentityFields, LogExporter, Recorder, Redactions, SpanContext, SpanExporter,
    SpanFields, Split,
};

/// Spans at this level or above always exist, whatever the filter says.
const TRACING_FLOOR: Level = Level::INFO;

/// The tracewire layer. Build it with [`TracewireLayer::new`] (or let
/// [`LoggingConfig::layer`] build it with its outputs and exporters), add it to a
/// `tracing_subscriber::registry()`, and install that (or use it scoped in tests):
///
/// ```
/// use tracewire_runtime::logging::{LoggingConfig, MemorySink, TracewireLayer, Format};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let config = LoggingConfig { format: Format::Jsonl, span_events: Some(true), ..Default::default() };
/// let sink = MemorySink::default();
/// let subscriber = tracing_subscriber::registry().with(TracewireLayer::new(&config, sink.clone()));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("work", job = 7).in_scope(|| tracing::info!(rows = 3, "done"));
/// });
/// let lines = sink.lines();
/// assert_eq!(lines.len(), 3); // SPAN_CREATED, the event, SPAN_CLOSED
/// assert!(lines[1].contains(r#""message":"done""#) && lines[1].contains(r#""rows":3"#));
/// ```
pub struct TracewireLayer {
    id: usize,
    /// The filter, replaceable at runtime through a [`FilterHandle`]: no disabled event reaches
    /// it (see [`reload`](super::reload)).
    filter: Arc<SharedFilter>,
    span_events: bool,
    format: Formatter,
    outputs: Outputs,
    export: Option<Arc<dyn SpanExporter>>,
    log_export: Option<Arc<dyn LogExporter>>,
    /// Counts the lines written (`tracewire_log_lines_total`).
    metrics: &'static Metrics,
    /// Request-scoped logging, if configured.
    scoping: Option<Scoping>,
}

impl TracewireLayer {
    /// A layer for `config` writing uncoloured lines to `sink`.
    pub fn new(config: &LoggingConfig, sink: impl LineSink) -> Self {
        Self::without_outputs(config).with_output(sink, false)
    }

    /// A layer for `config` with no sink yet; [`with_output`](Self::with_output) adds them.
    pub(crate) fn without_outputs(config: &LoggingConfig) -> Self {
        // The clock calibrates itself on first use (up to 200 ms): here, not in a request.
        Instant::now();
        let style = Style {
            zone: config.time_zone,
            redact: Redactions::new(&config.redact),
            limit: config.max_value_bytes,
            clock: SystemTime::now,
            system_clock: true,
        };
        TracewireLayer {
            id: LAYER_IDS.fetch_add(1, Ordering::Relaxed),
            filter: Arc::new(SharedFilter::new(
                &config.filter,
                config.scope.most_verbose(),
            )),
            span_events: config.span_events(),
            format: Formatter::new(config.format, style),
            outputs: Outputs::default(),
            export: None,
            log_export: None,
            metrics: metrics(),
            scoping: Scoping::new(&config.scope),
        }
    }

    /// Also writes every line to `sink`, with ANSI colour if `ansi` (readable format only).
    pub fn with_output(mut self, sink: impl LineSink, ansi: bool) -> Self {
        let ansi = ansi && self.format.colours();
        self.outputs.push(Arc::new(sink), ansi);
        self
    }

    /// Also hands every span at INFO or above to `export`, which samples it when it is created
    /// (the sampled flag then propagates) and receives it, with the same ids as the lines, when
    /// it closes.
    pub fn with_span_export(mut self, export: Arc<dyn SpanExporter>) -> Self {
        self.export = Some(export);
        self
    }

    /// Also hands every event the filter lets through to `export`, with its span's identity.
    pub fn with_log_export(mut self, export: Arc<dyn LogExporter>) -> Self {
        self.log_export = Some(export);
        self
    }

    /// Reads the time from `clock` instead of the system clock (for tests that compare output).
    /// Defaults to [`SystemTime::now`].
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.format.style.clock = clock;
        self.format.style.system_clock = false;
        self
    }

    /// The most verbose level at which the filter writes any event (for the `log` bridge).
    pub(crate) fn max_event_level(&self) -> LevelFilter {
        self.filter.max_event_level()
    }

    /// A handle that changes this layer's filter while it runs.
    pub fn filter_handle(&self) -> FilterHandle {
        FilterHandle::new(self.filter.clone())
    }

    /// The sinks, for flushing at shutdown.
    pub(crate) fn sinks(&self) -> Vec<Arc<dyn LineSink>> {
        self.outputs.sinks()
    }

    /// The rate limit, if any, for its last report at shutdown.
    pub(crate) fn rate_limiter(&self) -> Option<Arc<RateLimiter>> {
        self.scoping.as_ref()?.rate.clone()
    }

    /// Whether the filter enables a span or event of this callsite. With static directives
    /// only, the answer depends on the callsite alone, and scanning the directives (target
    /// prefixes) for every span would cost more than a per-thread cache: it is remembered per
    /// thread.
    fn shows<S>(&self, meta: &'static Metadata<'static>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if self.filter.is_dynamic() {
            return self.filter.with(|f| f.env.enabled(meta, ctx.clone()));
        }
        // Keyed by the filter's id: a changed filter is asked again.
        callsite::with_cached_for(
            &SHOWN,
            meta,
            self.filter.cache_id(),
            || self.filter.with(|f| f.env.enabled(meta, ctx.clone())),
            |shown| *shown,
        )
    }

    /// Whether the filter itself shows `event` (rather than its request's level or capture).
    /// A `log` record is asked afresh: its callsite is one per level, whatever its target.
    fn filter_shows_event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // Only the `log` bridge's callsites (target "log") can normalize; the check is cheaper.
        let bridged = event.metadata().target() == LOG_TARGET;
        match bridged.then(|| event.normalized_metadata()).flatten() {
            Some(meta) => self.filter.with(|f| f.env.enabled(&meta, ctx.clone())),
            None => self.shows(event.metadata(), ctx),
        }
    }

    /// Whether the current span's request wants a span or event of `meta` the filter hides.
    fn current_request_wants<S>(
        &self,
        scoping: &Scoping,
        meta: &Metadata<'_>,
        ctx: &Context<'_, S>,
    ) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let Some(span) = ctx.lookup_current() else {
            return false;
        };
        let extensions = span.extensions();
        extensions
            .get::<SpanData>()
            .and_then(|d| d.request.as_deref())
            .is_some_and(|request| scoping.wants(request, meta))
    }

    /// Request-scoped logging of an event the subscriber let through: a hidden one is held for
    /// its request (or dropped), an ERROR first writes what its request held, and a line to be
    /// written counts against its callsite's rate. Whether the event is written now.
    fn scope_event<S>(
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
        // The usual case, a line the filter shows and no failure: no need of its request.
        if !shown || *level == Level::ERROR {
            let request = span.and_then(|s| s.extensions().get::<SpanData>()?.request.clone());
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

    /// Renders `event` into its request's held lines (written at once, marked, if the request
    /// has already failed).
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
        with_buffer(|buf| {
            self.format
                .write_event::<SpanData, S>(buf, false, event, span, time);
            if let Hold::WriteNow = request.hold(buf, level) {
                let mut marked = Vec::with_capacity(buf.len() + 20);
                self.format.write_captured(&mut marked, buf, 0);
                self.outputs.write(&marked);
                self.metrics.line(&level);
            }
        });
    }

    /// Writes the lines a failed request held, in their order, marked as captured.
    fn write_held(&self, failed: Failed) {
        let mut buf = Vec::new();
        for (i, (line, level)) in failed.lines.iter().enumerate() {
            buf.clear();
            let dropped = if i == 0 { failed.dropped } else { 0 };
            self.format.write_captured(&mut buf, line, dropped);
            self.outputs.write(&buf);
            self.metrics.line(level);
        }
    }

    /// Whether spans keep their typed field values: for the format, or for an exporter.
    fn keeps_fields(&self) -> bool {
        self.format.keeps_fields() || self.export.is_some()
    }

    /// Writes a span event of `span`, whose record the caller holds, that happened at `at`.
    fn span_event<S>(
        &self,
        span: &SpanRef<'_, S>,
        data: &SpanData,
        closed: Option<Timings>,
        at: Instant,
    ) where
        S: for<'a> LookupSpan<'a>,
    {
        let kind = SpanEvent {
            time: self.format.style.at(at),
            closed,
        };
        self.outputs.emit(|buf, ansi| {
            self.format
                .write_span_event::<SpanData, S>(buf, ansi, span, data, kind)
        });
        self.metrics.line(span.metadata().level());
    }
}

/// Distinguishes layers in the per-thread caches.
static LAYER_IDS: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// Whether a layer (the owner) shows a span callsite.
    static SHOWN: RefCell<Slots<bool>> = const { RefCell::new(Slots::new()) };
}

impl<S> Layer<S> for TracewireLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = self
            .filter
            .with(|f| Layer::<S>::register_callsite(&f.env, meta));
        if meta.is_span() && *meta.level() <= TRACING_FLOOR {
            Interest::always()
        } else if interest.is_never()
            && self.scoping.as_ref().is_some_and(|s| s.may_ever_want(meta))
        {
            // Hidden by the filter, but a request may want it: asked per event.
            Interest::sometimes()
        } else {
            interest
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        if meta.is_span() && *meta.level() <= TRACING_FLOOR {
            return true;
        }
        if let Some(scoping) = &self.scoping {
            if scoping.may_want(meta) && self.current_request_wants(scoping, meta, &ctx) {
                return true;
            }
            // The callsite's own metadata (not a `log` record's, whose target varies): the
            // filter's answer is cached, so a hidden event a request could want costs little.
            let own = meta.callsite().0.metadata();
            if std::ptr::eq(own, meta) {
                return self.shows(own, &ctx);
            }
        }
        self.filter.with(|f| f.env.enabled(meta, ctx))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        let filter = self
            .filter
            .with(|f| f.env.max_level_hint())
            .unwrap_or(LevelFilter::TRACE);
        let scoped = self
            .scoping
            .as_ref()
            .map_or(LevelFilter::OFF, Scoping::ceiling);
        Some(
            filter
                .max(scoped)
                .max(LevelFilter::from_level(TRACING_FLOOR)),
        )
    }

    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        if let Some(rate) = self.scoping.as_ref().and_then(|s| s.rate.as_ref()) {
            rate.set_dispatch(dispatch);
        }
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if self.filter.is_dynamic() {
            self.filter
                .with(|f| f.env.on_new_span(attrs, id, ctx.clone()));
        }
        let Some(span) = ctx.span(id) else { return };
        let meta = attrs.metadata();
        let mut identity = IdentityFields::default();
        let mut fields = SpanFields::default();
        if self.keeps_fields() {
            let mut recorder = Recorder {
                fields: &mut fields,
                redact: &self.format.style.redact,
                limit: self.format.style.limit,
            };
            attrs.record(&mut Split {
                identity: &mut identity,
                rest: &mut recorder,
            });
        }
        let mut lines = self.format.new_span(meta, &fields, |v| {
            attrs.record(&mut Split {
                identity: &mut identity,
                rest: v,
            })
        });
        let remote = identity.remote.is_some();
        let (mut context, parent_request) = {
            let parent = span.parent();
            let parent_ext = parent.as_ref().map(|p| p.extensions());
            let parent_data = parent_ext.as_ref().and_then(|e| e.get::<SpanData>());
            (
                SpanContext::new(
                    identity.remote,
                    parent_data.map(|d| &d.context),
                    identity.x_request_id,
                ),
                parent_data.and_then(|d| d.request.clone()),
            )
        };
        let (request, starts_request) = match &self.scoping {
            Some(scoping) => scoping.for_span(parent_request.as_ref(), remote, &context),
            None => (None, false),
        };
        // Only span events use it: without them, no filter decision per span.
        let visible = self.span_events
            && (self.shows(meta, &ctx) || request.as_ref().is_some_and(|r| r.raises(meta.level())));
        let export_start = self.export.as_ref().and_then(|export| {
            if *meta.level() > TRACING_FLOOR {
                return None;
            }
            let sampled = export.sample(meta, &context, &fields);
            context.flags = context.flags.with_sampled(sampled);
            sampled.then(SystemTime::now)
        });
        self.format.set_identity(&mut lines, meta, &context);
        let now = Instant::now();
        let data = SpanData {
            context,
            fields,
            lines,
            visible,
            timing: Timing::new(now),
            export_start,
            request,
            starts_request,
        };
        if visible {
            self.span_event(&span, &data, None, now);
        }
        if let (Some(scoping), Some(request), true) = (&self.scoping, &data.request, starts_request)
        {
            scoping.started(request);
        }
        span.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if self.filter.is_dynamic() {
            self.filter
                .with(|f| f.env.on_record(id, values, ctx.clone()));
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(data) = extensions.get_mut::<SpanData>() else {
            return;
        };
        let meta = span.metadata();
        let mut identity = IdentityFields::default();
        if self.keeps_fields() {
            let mut recorder = Recorder {
                fields: &mut data.fields,
                redact: &self.format.style.redact,
                limit: self.format.style.limit,
            };
            values.record(&mut Split {
                identity: &mut identity,
                rest: &mut recorder,
            });
        }
        self.format
            .record(&mut data.lines, meta, &data.fields, |v| {
                values.record(&mut Split {
                    identity: &mut identity,
                    rest: v,
                })
            });
        // A remote parent recorded later is ignored: a span's trace is decided when it is
        // created. A request id recorded later is the span's from now on.
        if let Some(id) = identity.x_request_id {
            data.context.x_request_id = Some(id);
            self.format
                .set_identity(&mut data.lines, meta, &data.context);
        }
        let holding = data.request.clone().filter(|r| r.captures());
        drop(extensions);
        if let Some(request) = holding {
            let mut failure = FailureFields(false);
            values.record(&mut failure);
            if let Some(failed) = failure.0.then(|| request.fail()).flatten() {
                self.write_held(failed);
            }
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.filter.is_dynamic() {
            self.filter.with(|f| f.env.on_enter(id, ctx.clone()));
        }
        // Busy time is only ever written in SPAN_CLOSED lines: without span events, an async
        // span's many enters and exits (one per poll) cost nothing here.
        if self.span_events {
            timing::enter(self.id, id, Instant::now());
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if self.filter.is_dynamic() {
            self.filter.with(|f| f.env.on_exit(id, ctx.clone()));
        }
        if !self.span_events {
            return;
        }
        let Some(since) = timing::leave(self.id, id) else {
            return;
        };
        let busy = timestamp::nanos(since.elapsed());
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(data) = extensions.get_mut::<SpanData>() {
            data.timing.add_busy(busy);
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let now = Instant::now();
            let extensions = span.extensions();
            if let Some(data) = extensions.get::<SpanData>() {
                if let (Some(scoping), Some(request), true) =
                    (&self.scoping, &data.request, data.starts_request)
                {
                    scoping.ended(request);
                }
                if let (Some(export), Some(start)) = (&self.export, data.export_start) {
                    // The exported end is start + the logged duration, so both agree.
                    let end = start + now.duration_since(data.timing.created);
                    export.end(EndedSpan {
                        meta: span.metadata(),
                        context: &data.context,
                        fields: &data.fields,
                        start,
                        end,
                    });
                }
                if data.visible {
                    self.span_event(&span, data, Some(data.timing.close(now)), now);
                }
            }
        }
        if self.filter.is_dynamic() {
            self.filter.with(|f| f.env.on_close(id, ctx));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let span = ctx.event_span(event);
        // One clock read for the line, the rate limit and the exported record.
        let time = self.format.style.now();
        if let Some(scoping) = &self.scoping {
            if !self.scope_event(scoping, event, &ctx, span.as_ref(), time) {
                return;
            }
        }
        if let Some(export) = &self.log_export {
            let extensions = span.as_ref().map(|s| s.extensions());
            let data = extensions.as_ref().and_then(|e| e.get::<SpanData>());
            export.emit(
                event,
                data.map(|d| (&d.context, &d.fields)),
                time.to_system_time(),
            );
        }
        self.outputs.emit(|buf, ansi| {
            self.format
                .write_event::<SpanData, S>(buf, ansi, event, span.as_ref(), time)
        });
        self.metrics.line(event.metadata().level());
    }
}

/// Whether a span's recorded values say its request failed: `status` 5xx or `outcome`
/// `error` (SPEC §9).
struct FailureFields(bool);

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

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, sync::Barrier, time::Duration};

    use serde_json::Value;
    use tracing::{debug, debug_span, info, info_span, warn, Span};

    use crate::{
        subscriber::{
            current_context, span_context,
            testing::{json, jsonl, lines, parse_line, with_dyn_log, Line},
            LoggingConfig,
        },
        trace::{RemoteContext, SpanId, TraceFlags, TraceId, TraceParent},
    };

    fn find<'a>(out: &'a [Line], message: &str, span: &str) -> &'a Line {
        out.iter()
            .find(|o| o.message == message && o.span() == span)
            .unwrap_or_else(|| panic!("no {message} for {span} in {out:#?}"))
    }

    #[test]
    fn parent_child_grandchild_ids_link() {
        let out = json(&jsonl(), || {
            info_span!("parent").in_scope(|| {
                info_span!("child").in_scope(|| {
                    info_span!("grandchild").in_scope(|| info!("deep"));
                });
            });
        });
        let (p, c, g) = (
            find(&out, "SPAN_CREATED", "parent"),
            find(&out, "SPAN_CREATED", "child"),
            find(&out, "SPAN_CREATED", "grandchild"),
        );
        assert!(p.parent_id.is_none(), "a root span has no parent_id");
        assert_eq!(c.parent_id, p.span_id);
        assert_eq!(g.parent_id, c.span_id);
        assert!(out.iter().all(|o| o.trace_id == p.trace_id), "one trace");
        let event = out.iter().find(|o| o.message == "deep").unwrap();
        assert_eq!(
            (&event.span_id, &event.parent_id, &event.span_name),
            (&g.span_id, &c.span_id, &g.span_name)
        );
        for name in ["parent", "child", "grandchild"] {
            let (busy, idle, duration) = find(&out, "SPAN_CLOSED", name).timings();
            assert_eq!(busy + idle, duration, "{name}");
        }
        assert_eq!(out.iter().filter(|o| o.message == "SPAN_CLOSED").count(), 3);
    }

    #[test]
    fn separate_roots_get_separate_traces() {
        let out = json(&jsonl(), || {
            info_span!("a").in_scope(|| {});
            info_span!("b").in_scope(|| {});
        });
        assert_ne!(
            find(&out, "SPAN_CREATED", "a").trace_id,
            find(&out, "SPAN_CREATED", "b").trace_id
        );
    }

    #[test]
    fn a_child_takes_its_real_parent_not_the_entered_span() {
        let out = json(&jsonl(), || {
            let request = info_span!("request");
            let other = info_span!("other");
            other.in_scope(|| {
                let child = info_span!(parent: &request, "child");
                child.in_scope(|| info!("inside child"));
                info!(parent: &request, "explicit parent event");
            });
        });
        let (request, other, child) = (
            find(&out, "SPAN_CREATED", "request"),
            find(&out, "SPAN_CREATED", "other"),
            find(&out, "SPAN_CREATED", "child"),
        );
        assert_eq!(child.parent_id, request.span_id);
        assert_eq!(child.trace_id, request.trace_id);
        assert_ne!(child.trace_id, other.trace_id);
        let event = out
            .iter()
            .find(|o| o.message == "explicit parent event")
            .unwrap();
        assert_eq!(
            event.span_id, request.span_id,
            "an event with an explicit parent is in that span"
        );
    }

    #[test]
    fn a_remote_parent_continues_the_callers_trace() {
        let remote = RemoteContext {
            parent: Some(TraceParent {
                trace_id: TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
                parent_id: SpanId::from_hex("00f067aa0ba902b7").unwrap(),
                flags: TraceFlags(0x03),
                trace_state: Some("vendor=abc".into()),
            }),
            x_request_id: Some("8372eac7-5f43-4d76-beca-0a94cfb311d0".into()),
            baggage: None,
        };
        let mut contexts = Vec::new();
        let out = json(&jsonl(), || {
            let local = info_span!("local");
            let _entered = local.enter();
            let span = info_span!(
                "handle_payload",
                remote_parent = remote.field(),
                component = "backend"
            );
            let after = info_span!("after");
            span.in_scope(|| {
                info_span!("engine").in_scope(|| {
                    info!("token");
                    contexts.push(current_context().unwrap());
                })
            });
            contexts.push(span_context(&after).unwrap());
        });
        let hp = find(&out, "SPAN_CREATED", "handle_payload");
        assert_eq!(
            hp.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            hp.parent_id.as_deref(),
            Some("00f067aa0ba902b7"),
            "the remote span wins over the entered local one"
        );
        assert_eq!(
            hp.x_request_id.as_deref(),
            Some("8372eac7-5f43-4d76-beca-0a94cfb311d0")
        );
        assert_eq!(hp["component"], "backend");
        assert!(
            !hp.has("remote_parent"),
            "the carrier field is not written: {hp:?}"
        );
        let token = out.iter().find(|o| o.message == "token").unwrap();
        assert_eq!(token.trace_id, hp.trace_id);
        assert_eq!(
            token.x_request_id, hp.x_request_id,
            "inherited by grandchildren and their events"
        );
        let engine = &contexts[0];
        assert_eq!(
            (engine.flags, engine.trace_state.as_deref()),
            (TraceFlags(0x03), Some("vendor=abc"))
        );
        let after = &contexts[1];
        assert_ne!(
            after.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "only the span given the remote parent takes it"
        );
        assert_eq!(after.parent_id, Some(span_context_id(&out, "local")));
    }

    #[test]
    fn a_request_id_of_any_type_is_the_identity_and_never_a_field() {
        let out = lines(&jsonl(), || {
            info_span!("numeric", x_request_id = 42_u64).in_scope(|| info!("in numeric"));
            let remote = RemoteContext {
                x_request_id: Some("from-caller".into()),
                ..RemoteContext::default()
            };
            info_span!("both", remote_parent = remote.field(), x_request_id = %"own")
                .in_scope(|| info!("in both"));
        });
        for line in &out {
            let o = parse_line(line);
            let want = if o.span() == "numeric" { "42" } else { "own" };
            assert_eq!(o.x_request_id.as_deref(), Some(want), "{line}");
            assert_eq!(line.matches("x_request_id").count(), 1, "{line}");
        }
        assert_eq!(out.len(), 6);
    }

    fn span_context_id(out: &[Line], name: &str) -> SpanId {
        let created = find(out, "SPAN_CREATED", name);
        SpanId::from_hex(created.span_id.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn x_request_id_from_a_span_field_is_inherited_and_written_once() {
        let raw = lines(&jsonl(), || {
            info_span!("http-request", method = "POST", x_request_id = "req-7").in_scope(|| {
                info_span!("handle").in_scope(|| info!("working"));
            });
        });
        for line in &raw {
            let o = parse_line(line);
            assert_eq!(o.x_request_id.as_deref(), Some("req-7"), "{line}");
        }
    }

    #[test]
    fn fields_recorded_later_appear_in_later_lines() {
        let out = json(&jsonl(), || {
            let span = info_span!(
                "http-request",
                method = "GET",
                status = tracing::field::Empty,
                model = tracing::field::Empty
            );
            span.in_scope(|| info!("before"));
            span.record("status", 200);
            span.record("model", "Qwen/Qwen3-0.6B");
            span.in_scope(|| info!("after"));
            span.record("status", 404);
            drop(span);
        });
        let before = out.iter().find(|o| o.message == "before").unwrap();
        assert!(
            !before.has("status") && !before.has("model"),
            "an empty field is absent"
        );
        let after = out.iter().find(|o| o.message == "after").unwrap();
        assert_eq!(
            (&after["status"], &after["model"]),
            (&Value::from(200), &Value::from("Qwen/Qwen3-0.6B"))
        );
        let closed = find(&out, "SPAN_CLOSED", "http-request");
        assert_eq!(closed["status"], 404, "re-recorded in place");
    }

    #[test]
    fn filtering_hides_lines_but_never_trace_identity() {
        let config = with_dyn_log(jsonl(), "warn");
        let mut ctx = None;
        let out = json(&config, || {
            info_span!("http-request").in_scope(|| {
                info!("hidden");
                ctx = current_context();
                warn!("shown");
            });
        });
        assert_eq!(
            out.len(),
            1,
            "no span events or INFO lines at warn: {out:?}"
        );
        let shown = &out[0];
        assert_eq!(shown.message, "shown");
        let ctx = ctx.expect("the INFO span exists and has an identity at DYN_LOG=warn");
        assert_eq!(shown.trace_id, Some(ctx.trace_id.to_string()));
        assert_eq!(shown.span_id, Some(ctx.span_id.to_string()));

        let config = with_dyn_log(jsonl(), "off");
        let mut ctx = None;
        assert!(lines(&config, || info_span!("s")
            .in_scope(|| ctx = current_context()))
        .is_empty());
        assert!(ctx.is_some(), "identity survives DYN_LOG=off");
    }

    #[test]
    fn each_layer_decides_span_events_for_itself_on_the_same_thread() {
        // One callsite, three layers in turn on this thread: what one layer's filter decided
        // about the callsite must not leak into another's.
        let work = || info_span!("work").in_scope(|| warn!("w"));
        let count = |dyn_log: &str| json(&with_dyn_log(jsonl(), dyn_log), work).len();
        assert_eq!(count("info"), 3, "SPAN_CREATED, the event, SPAN_CLOSED");
        assert_eq!(count("warn"), 1, "the event alone");
        assert_eq!(count("info"), 3);
    }

    #[test]
    fn debug_spans_follow_the_filter() {
        let mut ctx = Some(None);
        let out = json(&jsonl(), || {
            debug_span!("chatty").in_scope(|| {
                ctx = Some(current_context());
                debug!("hidden");
            })
        });
        assert!(out.is_empty());
        assert_eq!(ctx, Some(None), "a disabled DEBUG span does not exist");

        let out = json(
            &with_dyn_log(jsonl(), "info,tracewire_runtime=debug"),
            || debug_span!("chatty").in_scope(|| debug!("shown")),
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn busy_time_is_the_time_entered_counted_once_when_re_entered() {
        let out = json(&jsonl(), || {
            let span = info_span!("work");
            {
                let _outer = span.enter();
                let _inner = span.enter();
                std::thread::sleep(Duration::from_millis(30));
            }
            std::thread::sleep(Duration::from_millis(30));
        });
        let closed = find(&out, "SPAN_CLOSED", "work");
        let (busy, idle, _) = closed.timings();
        assert!(busy >= 30_000, "{closed:?}");
        // Not entered for the second sleep: counting the inner entry as well would eat it.
        assert!(idle >= 30_000, "{closed:?}");
    }

    #[test]
    fn time_entered_on_another_thread_is_busy_time() {
        let out = json(&jsonl(), || {
            let span = info_span!("work");
            let dispatch = tracing::dispatcher::get_default(|d| d.clone());
            std::thread::scope(|s| {
                s.spawn(|| {
                    tracing::dispatcher::with_default(&dispatch, || {
                        let _entered = span.enter();
                        std::thread::sleep(Duration::from_millis(30));
                    })
                });
            });
        });
        let closed = find(&out, "SPAN_CLOSED", "work");
        assert!(closed.timings().0 >= 30_000, "{closed:?}");
    }

    #[test]
    fn span_events_can_be_turned_off() {
        let config = LoggingConfig {
            span_events: Some(false),
            ..jsonl()
        };
        let out = json(&config, || info_span!("s").in_scope(|| info!("only")));
        assert_eq!(out.len(), 1);
        assert!(out[0].trace_id.is_some(), "ids stay without span events");
    }

    #[test]
    fn lines_from_eight_threads_are_never_interleaved() {
        const THREADS: usize = 8;
        const PER_THREAD: usize = 300;
        let barrier = Barrier::new(THREADS);
        let long = "x".repeat(3000);
        let raw = lines(&jsonl(), || {
            let dispatch = tracing::dispatcher::get_default(Clone::clone);
            std::thread::scope(|s| {
                for t in 0..THREADS {
                    let (dispatch, barrier, long) = (dispatch.clone(), &barrier, &long);
                    s.spawn(move || {
                        tracing::dispatcher::with_default(&dispatch, || {
                            barrier.wait();
                            let span = info_span!("worker", thread = t);
                            let _e = span.enter();
                            for i in 0..PER_THREAD {
                                info!(i, payload = long.as_str(), "event");
                            }
                        })
                    });
                }
            });
        });
        assert_eq!(raw.len(), THREADS * (PER_THREAD + 2));
        let mut seen = HashSet::new();
        for line in &raw {
            let o = parse_line(line);
            if o.message == "event" {
                assert_eq!(o["payload"].as_str().map(str::len), Some(3000));
                assert!(
                    seen.insert((o["thread"].as_u64().unwrap(), o["i"].as_u64().unwrap())),
                    "each event once"
                );
            }
        }
        assert_eq!(seen.len(), THREADS * PER_THREAD);
    }

    #[test]
    fn no_subscriber_means_no_context() {
        assert!(current_context().is_none());
        assert!(span_context(&Span::none()).is_none());
    }
}
