//! [`TracewireLayer`]: filtering, trace identity, span timing and line output in one
//! `tracing_subscriber::Layer`.
//!
//! Filtering policy. `DYN_LOG` decides which lines are written, not which spans exist: spans at
//! INFO or above always exist (they carry a request's trace identity even with `DYN_LOG=warn` or
//! `off`); DEBUG and TRACE spans exist when the filter enables them, so chatty dependency spans
//! cost nothing. Events follow the filter through tracing's callsite interest, so a disabled
//! event costs what tracing's callsite cache costs. `SPAN_CREATED` / `SPAN_CLOSED` lines are
//! written only for spans the filter enables.

use std::{
    cell::RefCell,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::SystemTime,
};

use tracing::{
    field::Visit,
    span::{Attributes, Id, Record},
    subscriber::Interest,
    Event, Level, Metadata, Subscriber,
};
use tracing_subscriber::{
    filter::{EnvFilter, LevelFilter},
    layer::Context,
    registry::{LookupSpan, SpanRef},
    Layer,
};

use crate::otlp::{self, LogExport, SpanExport};

use super::{
    callsite::{self, Slots},
    config::{Format, LoggingConfig, TimeZone},
    fields::{Recorder, Redactions, SpanFields, X_REQUEST_ID},
    identity::{self, SpanContext},
    ids::TraceFlags,
    jsonl::{self, SpanJson},
    readable,
    timestamp::{self, Instant, UnixMicros},
    writer::LineSink,
};

/// Spans at this level or above always exist, whatever the filter says.
const TRACING_FLOOR: Level = Level::INFO;

/// What the layer keeps in each span's extensions.
#[derive(Debug)]
pub(crate) struct SpanData {
    pub(crate) context: SpanContext,
    /// The recorded values, kept only where they are needed: for the readable format and for
    /// OTLP export.
    pub(crate) fields: SpanFields,
    /// The fields and identity as JSON (JSONL format), rendered when recorded.
    pub(crate) json: SpanJson,
    /// `name{field=value ...}` (readable format), written when recorded.
    pub(crate) text: Vec<u8>,
    /// Whether this span writes span events: they are on and the filter enables the span.
    visible: bool,
    timing: Timing,
    /// When the span started, if it is sampled for export.
    export_start: Option<SystemTime>,
}

/// Busy time is measured directly at enter and exit; idle is the rest of the lifetime.
#[derive(Debug)]
struct Timing {
    created: Instant,
    /// The time entered so far, added at each exit (see [`ENTERED`]). A span cannot close while
    /// entered: the registry holds a reference to it for each thread it is entered on.
    busy_nanos: u64,
}

/// The three timings of a closed span, in whole microseconds; busy + idle == duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timings {
    pub(crate) busy_us: u64,
    pub(crate) idle_us: u64,
    pub(crate) duration_us: u64,
}

impl Timing {
    fn close(&self, now: Instant) -> Timings {
        let duration_us = timestamp::nanos(now.duration_since(self.created)) / 1000;
        let busy_us = (self.busy_nanos / 1000).min(duration_us);
        Timings {
            busy_us,
            idle_us: duration_us - busy_us,
            duration_us,
        }
    }
}

/// What a span event line reports: when it happened and, for `SPAN_CLOSED`, the timings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanEvent {
    pub(crate) time: UnixMicros,
    pub(crate) closed: Option<Timings>,
}

impl SpanEvent {
    pub(crate) fn message(self) -> &'static str {
        if self.closed.is_some() {
            "SPAN_CLOSED"
        } else {
            "SPAN_CREATED"
        }
    }
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

struct Output {
    sink: Arc<dyn LineSink>,
    ansi: bool,
}

/// The tracewire layer. Build it with [`TracewireLayer::new`], add it to a
/// `tracing_subscriber::registry()`, and install that (or use it scoped in tests):
///
/// ```
/// use tracewire_runtime::logging::{LoggingConfig, MemorySink, TracewireLayer, Format};
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let config = LoggingConfig { format: Format::Jsonl, span_events: true, ..Default::default() };
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
    filter: EnvFilter,
    /// Whether the filter has span directives; without them its span callbacks (each a
    /// RwLock read) are skipped.
    dynamic_filter: bool,
    format: Format,
    span_events: bool,
    style: Style,
    outputs: Vec<Output>,
    export: Option<Arc<SpanExport>>,
    log_export: Option<Arc<LogExport>>,
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
        TracewireLayer {
            id: LAYER_IDS.fetch_add(1, Ordering::Relaxed),
            filter: config.filter.build(),
            dynamic_filter: config.filter.has_span_directives(),
            format: config.format,
            span_events: config.span_events,
            style: Style {
                zone: config.time_zone,
                redact: Redactions::new(&config.redact),
                clock: SystemTime::now,
                system_clock: true,
            },
            outputs: Vec::new(),
            export: None,
            log_export: None,
        }
    }

    /// Also exports every event the filter lets through as an OTLP log record, with its span's
    /// trace context.
    pub fn with_log_export(mut self, export: Arc<LogExport>) -> Self {
        self.log_export = Some(export);
        self
    }

    /// Also exports every sampled span at INFO or above through `export` (OTLP), with the same
    /// ids as the lines. Its sampler decides each trace's sampled flag.
    pub fn with_export(mut self, export: Arc<SpanExport>) -> Self {
        self.export = Some(export);
        self
    }

    /// Also writes every line to `sink`, with ANSI colour if `ansi` (readable format only).
    pub fn with_output(mut self, sink: impl LineSink, ansi: bool) -> Self {
        self.outputs.push(Output {
            sink: Arc::new(sink),
            ansi: ansi && self.format == Format::Readable,
        });
        self
    }

    /// Reads the time from `clock` instead of the system clock (for tests that compare output).
    /// Defaults to [`SystemTime::now`].
    pub fn with_clock(mut self, clock: fn() -> SystemTime) -> Self {
        self.style.clock = clock;
        self.style.system_clock = false;
        self
    }

    /// The most verbose level at which the filter writes any event (for the `log` bridge).
    pub(crate) fn max_event_level(&self) -> LevelFilter {
        self.filter.max_level_hint().unwrap_or(LevelFilter::TRACE)
    }

    /// Whether the filter enables a span of this callsite. With static directives only, the
    /// answer depends on the callsite alone, and scanning the directives (target prefixes) costs
    /// ~20 ns a span: it is remembered per thread.
    fn shows_span<S>(&self, meta: &'static Metadata<'static>, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if self.dynamic_filter {
            return self.filter.enabled(meta, ctx.clone());
        }
        callsite::with_cached_for(
            &SHOWN,
            meta,
            self.id,
            || self.filter.enabled(meta, ctx.clone()),
            |shown| *shown,
        )
    }

    /// Whether spans keep their typed field values (readable text, OTLP attributes); JSONL
    /// alone writes them straight to JSON.
    fn keeps_fields(&self) -> bool {
        self.format == Format::Readable || self.export.is_some()
    }

    /// Records `values` into the span's kept fields and JSON, whichever are in use; returns the
    /// value of an `x_request_id` field among them.
    fn record_fields(
        &self,
        meta: &'static Metadata<'static>,
        fields: &mut SpanFields,
        json: &mut SpanJson,
        record: impl Fn(&mut dyn Visit),
    ) -> Option<Arc<str>> {
        let mut x_request_id = None;
        if self.keeps_fields() {
            let mut recorder = Recorder {
                fields,
                redact: &self.style.redact,
                x_request_id: None,
            };
            record(&mut recorder);
            x_request_id = recorder.x_request_id;
        }
        if self.format == Format::Jsonl {
            let id = json.record(meta, &self.style.redact, record);
            x_request_id = x_request_id.or(id);
        }
        x_request_id
    }

    /// The sinks, for flushing at shutdown.
    pub(crate) fn sinks(&self) -> Vec<Arc<dyn LineSink>> {
        self.outputs.iter().map(|o| o.sink.clone()).collect()
    }

    /// Takes this layer's innermost entry of `id` off this thread's entered spans; gives when it
    /// was entered, unless the span is still entered further out (re-entered), whose own entry
    /// already counts this time.
    fn leave(&self, id: &Id) -> Option<Instant> {
        ENTERED.with(|entered| {
            let mut entered = entered.try_borrow_mut().ok()?;
            let ours = |(layer, span, _): &(usize, Id, Instant)| *layer == self.id && span == id;
            let at = entered.iter().rposition(ours)?;
            let (_, _, since) = entered.remove(at);
            (!entered[..at].iter().any(ours)).then_some(since)
        })
    }

    /// Renders a line once per colour setting in use and hands it to each sink.
    fn emit(&self, render: impl Fn(&mut Vec<u8>, bool)) {
        with_buffer(|buf| {
            if let [only] = &self.outputs[..] {
                // The usual case: one output.
                render(buf, only.ansi);
                only.sink.write_line(buf);
                return;
            }
            for ansi in [false, true] {
                let mut targets = self.outputs.iter().filter(|o| o.ansi == ansi).peekable();
                if targets.peek().is_none() {
                    continue;
                }
                buf.clear();
                render(buf, ansi);
                for output in targets {
                    output.sink.write_line(buf);
                }
            }
        });
    }

    /// Writes a span event that happened at `at` (`closed`: the timings of SPAN_CLOSED). JSONL
    /// needs only the span's own data, which the caller holds.
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
            time: self.style.at(at),
            closed,
        };
        let meta = span.metadata();
        self.emit(|buf, _| jsonl::write_span_event(buf, &self.style, meta, data, kind));
    }

    /// The readable span event: its chain of spans from the root (this one included) is read
    /// from the registry, so the caller must hold no lock on the span's extensions.
    fn readable_span_event<S>(&self, span: &SpanRef<'_, S>, closed: Option<Timings>, at: Instant)
    where
        S: for<'a> LookupSpan<'a>,
    {
        let kind = SpanEvent {
            time: self.style.at(at),
            closed,
        };
        let meta = span.metadata();
        with_chain(Some(span), |chain| {
            let extensions = span.extensions();
            let Some(data) = extensions.get::<SpanData>() else {
                return;
            };
            self.emit(|buf, ansi| {
                readable::write_span_event(buf, &self.style, ansi, meta, &chain, data, kind)
            });
        });
    }
}

/// Distinguishes layers in the per-thread caches.
static LAYER_IDS: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    /// The spans entered on this thread and not yet exited, innermost last: the layer, the
    /// span and when it was entered. Enter pushes here instead of looking the span up in the
    /// registry and locking its extensions (39 ns an enter, four atomic operations); exit adds
    /// the time to the span. A span entered on several threads at once counts each thread's
    /// time, and busy time is capped at the span's duration.
    static ENTERED: RefCell<Vec<(usize, Id, Instant)>> = const { RefCell::new(Vec::new()) };
    /// Whether a layer (the owner) shows a span callsite.
    static SHOWN: RefCell<Slots<bool>> = const { RefCell::new(Slots::new()) };
    static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static CHAIN: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's line buffer; a fresh one if a `Debug` impl logs while a line is
/// being written on the same thread.
fn with_buffer(f: impl FnOnce(&mut Vec<u8>)) {
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            f(&mut buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::with_capacity(1024);
            }
        }
        Err(_) => f(&mut Vec::new()),
    });
}

/// Calls `f` with the readable chain of `span`'s scope, from the root, concatenated from each
/// span's pre-rendered text into this thread's chain buffer.
fn with_chain<S>(span: Option<&SpanRef<'_, S>>, f: impl FnOnce(readable::Chain<'_>))
where
    S: for<'a> LookupSpan<'a>,
{
    if span.is_none() {
        return f(readable::Chain {
            text: &[],
            id_shown: false,
        });
    }
    let build = |chain: &mut Vec<u8>| {
        chain.clear();
        let mut id_shown = false;
        for s in span.into_iter().flat_map(|s| s.scope().from_root()) {
            let extensions = s.extensions();
            if let Some(data) = extensions.get::<SpanData>() {
                chain.extend_from_slice(&data.text);
                chain.push(b':');
                id_shown |= data.fields.iter().any(|(name, _)| name == X_REQUEST_ID);
            }
        }
        id_shown
    };
    CHAIN.with(|cell| match cell.try_borrow_mut() {
        Ok(mut chain) => {
            let id_shown = build(&mut chain);
            f(readable::Chain {
                text: &chain,
                id_shown,
            });
        }
        Err(_) => {
            let mut chain = Vec::new();
            let id_shown = build(&mut chain);
            f(readable::Chain {
                text: &chain,
                id_shown,
            });
        }
    });
}

impl<S> Layer<S> for TracewireLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        let interest = Layer::<S>::register_callsite(&self.filter, meta);
        if meta.is_span() && *meta.level() <= TRACING_FLOOR {
            Interest::always()
        } else {
            interest
        }
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        (meta.is_span() && *meta.level() <= TRACING_FLOOR) || self.filter.enabled(meta, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(
            self.filter
                .max_level_hint()
                .unwrap_or(LevelFilter::TRACE)
                .max(LevelFilter::from_level(TRACING_FLOOR)),
        )
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if self.dynamic_filter {
            self.filter.on_new_span(attrs, id, ctx.clone());
        }
        let Some(span) = ctx.span(id) else { return };
        // Only span events use it: without them, no directive scan per span.
        let visible = self.span_events && self.shows_span(attrs.metadata(), &ctx);
        let meta = attrs.metadata();
        let mut fields = SpanFields::default();
        let mut json = SpanJson::default();
        let own_request_id = self.record_fields(meta, &mut fields, &mut json, |v| attrs.record(v));
        let remote = identity::take_pending();
        let mut context = {
            let parent = span.parent();
            let parent_ext = parent.as_ref().map(|p| p.extensions());
            let parent_ctx = parent_ext
                .as_ref()
                .and_then(|e| e.get::<SpanData>())
                .map(|d| &d.context);
            SpanContext::new(remote, parent_ctx, own_request_id)
        };
        let export_start = self.export.as_ref().and_then(|export| {
            let meta = attrs.metadata();
            if *meta.level() > TRACING_FLOOR {
                return None;
            }
            let parent = context
                .parent_id
                .map(|p| (context.trace_id, p, context.flags));
            let kind = otlp::convert::span_kind(&fields);
            let sampled = export.sample(parent, context.trace_id, meta.name(), &kind);
            context.flags = TraceFlags(if sampled {
                context.flags.0 | 1
            } else {
                context.flags.0 & !1
            });
            sampled.then(SystemTime::now)
        });
        let text = match self.format {
            Format::Jsonl => {
                json.set_identity(meta.name(), &context);
                Vec::new()
            }
            Format::Readable => readable::span_text(meta.name(), &fields, &self.style.redact),
        };
        let now = Instant::now();
        let data = SpanData {
            context,
            fields,
            json,
            text,
            visible,
            timing: Timing {
                created: now,
                busy_nanos: 0,
            },
            export_start,
        };
        let jsonl = self.format == Format::Jsonl;
        if visible && jsonl {
            self.span_event(&span, &data, None, now);
        }
        span.extensions_mut().insert(data);
        if visible && !jsonl {
            self.readable_span_event(&span, None, now);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if self.dynamic_filter {
            self.filter.on_record(id, values, ctx.clone());
        }
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        let Some(data) = extensions.get_mut::<SpanData>() else {
            return;
        };
        let meta = span.metadata();
        let recorded =
            self.record_fields(meta, &mut data.fields, &mut data.json, |v| values.record(v));
        if let Some(id) = recorded {
            data.context.x_request_id = Some(id);
            data.json.set_identity(meta.name(), &data.context);
        }
        if self.format == Format::Readable {
            data.text = readable::span_text(meta.name(), &data.fields, &self.style.redact);
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if self.dynamic_filter {
            self.filter.on_enter(id, ctx.clone());
        }
        // Busy time is only ever written in SPAN_CLOSED lines: without span events, an async
        // span's many enters and exits (one per poll) cost nothing here.
        if !self.span_events {
            return;
        }
        let now = Instant::now();
        ENTERED.with(|entered| {
            if let Ok(mut entered) = entered.try_borrow_mut() {
                entered.push((self.id, id.clone(), now));
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        if self.dynamic_filter {
            self.filter.on_exit(id, ctx.clone());
        }
        // Busy time is only ever written in SPAN_CLOSED lines: without span events, an async
        // span's many enters and exits (one per poll) cost nothing here.
        if !self.span_events {
            return;
        }
        let Some(since) = self.leave(id) else { return };
        let busy = timestamp::nanos(since.elapsed());
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(data) = extensions.get_mut::<SpanData>() {
            data.timing.busy_nanos += busy;
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let now = Instant::now();
            let extensions = span.extensions();
            if let Some(data) = extensions.get::<SpanData>() {
                if let (Some(export), Some(start)) = (&self.export, data.export_start) {
                    // The exported end is start + the logged duration, so both agree.
                    let end = start + now.duration_since(data.timing.created);
                    let meta = span.metadata();
                    export.end(|| {
                        otlp::convert::span_data(
                            export,
                            meta,
                            &data.context,
                            &data.fields,
                            start,
                            end,
                        )
                    });
                }
                let timings = data.timing.close(now);
                match (data.visible, self.format) {
                    (true, Format::Jsonl) => self.span_event(&span, data, Some(timings), now),
                    (true, Format::Readable) => {
                        drop(extensions);
                        self.readable_span_event(&span, Some(timings), now);
                    }
                    (false, _) => {}
                }
            }
        }
        if self.dynamic_filter {
            self.filter.on_close(id, ctx);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let span = ctx.event_span(event);
        if let Some(export) = &self.log_export {
            let context = span
                .as_ref()
                .and_then(|s| s.extensions().get::<SpanData>().map(|d| d.context.clone()));
            export.emit(event, context.as_ref(), self.style.now().to_system_time());
        }
        match self.format {
            Format::Jsonl => {
                let extensions = span.as_ref().map(|s| s.extensions());
                let data = extensions.as_ref().and_then(|e| e.get::<SpanData>());
                self.emit(|buf, _| jsonl::write_event(buf, &self.style, event, data));
            }
            Format::Readable => with_chain(span.as_ref(), |chain| {
                let extensions = span.as_ref().map(|s| s.extensions());
                let current = extensions.as_ref().and_then(|e| e.get::<SpanData>());
                self.emit(|buf, ansi| {
                    readable::write_event(buf, &self.style, ansi, event, &chain, current)
                });
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::HashSet, sync::Barrier, time::Duration};

    use serde_json::{Map, Value};
    use tracing::{debug, debug_span, info, info_span, warn, Span};

    use crate::logging::{
        capture::{json, jsonl, lines, parse_line, with_dyn_log},
        current_context, span_context, LoggingConfig, RemoteContext, SpanId, TraceFlags, TraceId,
        TraceParent,
    };

    fn find<'a>(
        out: &'a [Map<String, Value>],
        message: &str,
        span: &str,
    ) -> &'a Map<String, Value> {
        out.iter()
            .find(|o| {
                o["message"] == message && o.get("span_name").and_then(Value::as_str) == Some(span)
            })
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
        assert!(!p.contains_key("parent_id"), "a root span has no parent_id");
        assert_eq!(c["parent_id"], p["span_id"]);
        assert_eq!(g["parent_id"], c["span_id"]);
        assert!(
            out.iter().all(|o| o["trace_id"] == p["trace_id"]),
            "one trace"
        );
        let event = out.iter().find(|o| o["message"] == "deep").unwrap();
        assert_eq!(
            (&event["span_id"], &event["parent_id"], &event["span_name"]),
            (&g["span_id"], &c["span_id"], &g["span_name"])
        );
        for name in ["parent", "child", "grandchild"] {
            let closed = find(&out, "SPAN_CLOSED", name);
            let t = |k: &str| closed[k].as_u64().unwrap();
            assert_eq!(
                t("time.busy_us") + t("time.idle_us"),
                t("time.duration_us"),
                "{name}"
            );
        }
        assert_eq!(
            out.iter().filter(|o| o["message"] == "SPAN_CLOSED").count(),
            3
        );
    }

    #[test]
    fn separate_roots_get_separate_traces() {
        let out = json(&jsonl(), || {
            info_span!("a").in_scope(|| {});
            info_span!("b").in_scope(|| {});
        });
        assert_ne!(
            find(&out, "SPAN_CREATED", "a")["trace_id"],
            find(&out, "SPAN_CREATED", "b")["trace_id"]
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
        assert_eq!(child["parent_id"], request["span_id"]);
        assert_eq!(child["trace_id"], request["trace_id"]);
        assert_ne!(child["trace_id"], other["trace_id"]);
        let event = out
            .iter()
            .find(|o| o["message"] == "explicit parent event")
            .unwrap();
        assert_eq!(
            event["span_id"], request["span_id"],
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
        };
        let mut contexts = Vec::new();
        let out = json(&jsonl(), || {
            let local = info_span!("local");
            let _entered = local.enter();
            let span = remote.in_scope(|| info_span!("handle_payload", component = "backend"));
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
        assert_eq!(hp["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            hp["parent_id"], "00f067aa0ba902b7",
            "the remote span wins over the entered local one"
        );
        assert_eq!(hp["x_request_id"], "8372eac7-5f43-4d76-beca-0a94cfb311d0");
        let token = out.iter().find(|o| o["message"] == "token").unwrap();
        assert_eq!(token["trace_id"], hp["trace_id"]);
        assert_eq!(
            token["x_request_id"], hp["x_request_id"],
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
            "only the first span takes the remote parent"
        );
        assert_eq!(after.parent_id, Some(span_context_id(&out, "local")));
    }

    fn span_context_id(out: &[Map<String, Value>], name: &str) -> SpanId {
        SpanId::from_hex(find(out, "SPAN_CREATED", name)["span_id"].as_str().unwrap()).unwrap()
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
            assert_eq!(o["x_request_id"], "req-7", "{line}");
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
        let before = out.iter().find(|o| o["message"] == "before").unwrap();
        assert!(
            !before.contains_key("status") && !before.contains_key("model"),
            "an empty field is absent"
        );
        let after = out.iter().find(|o| o["message"] == "after").unwrap();
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
        assert_eq!(shown["message"], "shown");
        let ctx = ctx.expect("the INFO span exists and has an identity at DYN_LOG=warn");
        assert_eq!(shown["trace_id"], ctx.trace_id.to_string());
        assert_eq!(shown["span_id"], ctx.span_id.to_string());

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
        let t = |k: &str| closed[k].as_u64().unwrap();
        assert!(t("time.busy_us") >= 30_000, "{closed:?}");
        // Not entered for the second sleep: counting the inner entry as well would eat it.
        assert!(t("time.idle_us") >= 30_000, "{closed:?}");
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
        assert!(
            closed["time.busy_us"].as_u64().unwrap() >= 30_000,
            "{closed:?}"
        );
    }

    #[test]
    fn span_events_can_be_turned_off() {
        let config = LoggingConfig {
            span_events: false,
            ..jsonl()
        };
        let out = json(&config, || info_span!("s").in_scope(|| info!("only")));
        assert_eq!(out.len(), 1);
        assert!(
            out[0].contains_key("trace_id"),
            "ids stay without span events"
        );
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
            if o["message"] == "event" {
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
