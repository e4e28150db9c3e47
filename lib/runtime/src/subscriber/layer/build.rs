//! The layer and its builder: what it holds, and what it is built with.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::SystemTime,
};

use tracing_subscriber::{
    filter::LevelFilter,
    registry::{LookupSpan, SpanRef},
};

use super::export::Exports;
use crate::{
    metrics::{metrics, Metrics},
    subscriber::{
        config::LoggingConfig,
        format::{Formatter, SpanEvent, Style, Timings},
        line::timestamp::Instant,
        output::{LineSink, Outputs},
        reload::{FilterHandle, SharedFilter},
        scope::{RateLimiter, Scoping},
        span_data::SpanData,
    },
    trace::{LogExporter, Redactions, SpanExporter},
};

/// The tracewire layer. Build it with [`TracewireLayer::new`] (or let
/// `logging::Config::layer` build it with its outputs and exporters), add it to a
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
    pub(super) id: usize,
    /// The filter, replaceable at runtime through a [`FilterHandle`]: no disabled event reaches
    /// it (see [`reload`](super::reload)).
    pub(super) filter: Arc<SharedFilter>,
    pub(super) span_events: bool,
    pub(super) format: Formatter,
    pub(super) outputs: Outputs,
    /// The exporters, if any.
    pub(super) exports: Exports,
    /// Counts the lines written (`tracewire_log_lines_total`).
    pub(super) metrics: &'static Metrics,
    /// Request-scoped logging, if configured.
    pub(in crate::subscriber) scoping: Option<Scoping>,
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
            exports: Exports::default(),
            metrics: metrics(),
            scoping: Scoping::new(&config.scope, metrics()),
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
        self.exports.spans = Some(export);
        self
    }

    /// Also hands every event the filter lets through to `export`, with its span's identity.
    pub fn with_log_export(mut self, export: Arc<dyn LogExporter>) -> Self {
        self.exports.logs = Some(export);
        self
    }

    /// Counts its lines, and what request scoping drops or suppresses, in `metrics` instead of
    /// the process's registry (`metrics::metrics()`, which the system server serves): a test's
    /// own, or a service's. Call it before the layer is used.
    pub fn with_metrics(mut self, metrics: &'static Metrics) -> Self {
        self.metrics = metrics;
        self.scoping = self.scoping.map(|s| s.counting_in(metrics));
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

    /// Whether spans keep their typed field values: for the format, or for an exporter.
    pub(super) fn keeps_fields(&self) -> bool {
        self.format.keeps_fields() || self.exports.keeps_fields()
    }

    /// Writes a span event of `span`, whose record the caller holds, that happened at `at`.
    pub(super) fn span_event<S>(
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
