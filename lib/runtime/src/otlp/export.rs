//! The span export pipeline: the SDK's sampler decides at span creation, finished spans go
//! through a bounded queue to the SDK's `BatchSpanProcessor` and the official OTLP exporter,
//! off the request path. A collector that is down, slow or refusing costs a request nothing:
//! a retryable failure (gRPC `UNAVAILABLE`, HTTP 429, 502, 503, 504, a refused connection) is
//! retried with exponential backoff and jitter, honouring `Retry-After` and gRPC `RetryInfo`
//! (the exporter's own retry, given a budget of [`RETRY_BUDGET`] per batch), while spans keep
//! queueing; when the queue is full they are dropped and counted without being built. Losses
//! and failing attempts are reported at WARN: the first at once, then at most once per
//! [`REPORT_EVERY`].

use std::{
    collections::HashMap,
    sync::{atomic::Ordering, Arc, Mutex, PoisonError},
    time::Duration,
};

use opentelemetry::{
    trace::{TraceContextExt, TraceState},
    Context, InstrumentationScope, KeyValue,
};
use opentelemetry_otlp::{RetryPolicy, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::{
    trace::{
        BatchConfigBuilder, BatchSpanProcessor, Sampler, SamplingDecision, ShouldSample,
        SpanProcessor,
    },
    Resource,
};
use tokio::{runtime::Handle, task::JoinHandle};
use tracing::{warn, Metadata};

use super::{
    config::{Headers, OtlpConfig, ParentBasedRoot, Resolved, SamplerConfig, Signal},
    convert::{self, to_otel_span_id, to_otel_trace_id},
    stats::ExportStats,
    transport::OnRuntime,
};
use crate::{
    settings::{env, ConfigError, Origin},
    trace::{EndedSpan, SpanContext, SpanExporter, SpanFields, SpanId},
};

/// Why export could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is not accepted (the endpoint, a certificate file, say).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// No Tokio runtime is running to export on.
    #[error(
        "{variable} is on, but OTLP export runs on the program's Tokio runtime and none is running"
    )]
    NoRuntime {
        /// The variable that turned export on.
        variable: &'static str,
    },
}

/// Spans waiting for export at most; beyond, they are dropped and counted.
pub const QUEUE_CAPACITY: u64 = 4096;
/// How long a batch is retried, attempts and waits included, before it is counted lost: a
/// collector restarted within half a minute loses nothing.
pub const RETRY_BUDGET: Duration = Duration::from_secs(60);
/// How long shutdown waits for the last spans to go out.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Losses are reported at most this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The exporter's retry: 100 ms doubling to 5 s, plus up to 250 ms of jitter, until
/// [`RETRY_BUDGET`] is spent; a server's `Retry-After` or `RetryInfo` raises the wait.
pub(crate) fn retry_policy() -> RetryPolicy {
    RetryPolicy::recommended()
        .with_max_retries(usize::MAX)
        .with_initial_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_max_jitter(Duration::from_millis(250))
}

/// The headers as an HTTP header map.
pub(crate) fn header_pairs(headers: &Headers) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers.iter() {
        // Checked when read (settings): a valid name and value.
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            map.append(k, v);
        }
    }
    map
}

/// The headers as gRPC metadata.
pub(crate) fn metadata(
    headers: &Headers,
) -> opentelemetry_otlp::tonic_types::metadata::MetadataMap {
    opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(header_pairs(headers))
}

/// The headers as the HTTP exporter takes them.
pub(crate) fn header_map(headers: &Headers) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Builds a span or a log exporter for a resolved signal: the OTLP crate's builders differ in
/// type, not in calls. Both transports connect through our [`Connector`](super::transport::Connector)
/// (TLS by rustls, failures noted in `$stats`); each attempt is bounded by the signal's timeout,
/// retries by [`RETRY_BUDGET`].
macro_rules! otlp_exporter {
    ($builder:path, $resolved:expr, $stats:expr) => {{
        use $crate::otlp::{
            config::OtlpProtocol,
            transport::{grpc_channel, Connector, HyperHttpClient},
        };
        let resolved: &$crate::otlp::config::Resolved = $resolved;
        let tls = $crate::otlp::tls::client_config(resolved)?;
        match resolved.protocol {
            OtlpProtocol::Grpc => {
                let connector = Connector::new(tls, true, resolved.timeout, $stats.clone());
                let channel = grpc_channel(&resolved.url, resolved.timeout, connector)
                    .map_err(|e| $crate::otlp::export::bad_endpoint(resolved, &e))?;
                $builder()
                    .with_tonic()
                    .with_channel(channel)
                    .with_metadata($crate::otlp::export::metadata(&resolved.headers))
                    .with_timeout($crate::otlp::export::RETRY_BUDGET)
                    .with_retry_policy($crate::otlp::export::retry_policy())
                    .build()
            }
            OtlpProtocol::HttpProtobuf => {
                let connector = Connector::new(tls, false, resolved.timeout, $stats.clone());
                $builder()
                    .with_http()
                    .with_endpoint(resolved.url.clone())
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_headers($crate::otlp::export::header_map(&resolved.headers))
                    .with_timeout($crate::otlp::export::RETRY_BUDGET)
                    .with_retry_policy($crate::otlp::export::retry_policy())
                    .with_http_client(HyperHttpClient::new(connector, resolved.timeout))
                    .build()
            }
        }
        .map_err(|e| $crate::otlp::export::bad_endpoint(resolved, &e))
    }};
}
pub(crate) use otlp_exporter;

/// An endpoint the exporter does not take, as a configuration error naming it.
pub(crate) fn bad_endpoint(resolved: &Resolved, error: &dyn std::fmt::Display) -> ConfigError {
    ConfigError::invalid(
        Origin::Env(env::OTLP.endpoint),
        &resolved.url,
        format!("cannot export there: {error}"),
    )
}

/// The running Tokio runtime export runs on, or an error naming the variable that asked for it.
pub(crate) fn runtime_handle(variable: &'static str) -> Result<Handle, StartError> {
    Handle::try_current().map_err(|_| StartError::NoRuntime { variable })
}

/// A snapshot of what the exporter has done, for tests and shutdown reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportCounts {
    /// Spans the collector accepted.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans in batches the collector did not accept.
    pub failed: u64,
}

/// A running span export. Built by [`SpanExport::start`] inside a Tokio runtime; its spans come
/// from the layer through the [`SpanExporter`] seam (the layer's `with_span_export`).
#[derive(Debug)]
pub struct SpanExport {
    processor: BatchSpanProcessor,
    sampler: Sampler,
    scope: InstrumentationScope,
    stats: Arc<ExportStats>,
    reporter: Mutex<Option<JoinHandle<()>>>,
}

impl SpanExport {
    /// Builds the exporter for `config` on the current Tokio runtime. Nothing is sent until the
    /// first batch: startup never waits for the collector.
    pub fn start(config: &OtlpConfig) -> Result<Arc<Self>, StartError> {
        let handle = runtime_handle(env::OTEL_EXPORT_ENABLED)?;
        let resolved = config.resolve(Signal::Traces);
        if !(resolved.url.starts_with("http://") || resolved.url.starts_with("https://")) {
            return Err(bad_endpoint(&resolved, &"expected an http:// or https:// URL").into());
        }
        let stats = Arc::new(ExportStats::default());
        let exporter = {
            let _runtime = handle.enter();
            otlp_exporter!(opentelemetry_otlp::SpanExporter::builder, &resolved, stats)?
        };
        let exporter = OnRuntime {
            inner: Arc::new(exporter),
            handle: handle.clone(),
            stats: stats.clone(),
        };
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(QUEUE_CAPACITY as usize)
            .with_max_export_batch_size(512)
            .with_scheduled_delay(Duration::from_millis(500))
            .build();
        let mut processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(batch)
            .build();
        processor.set_resource(&resource(config));
        let reporter = handle.spawn(report_losses(stats.clone(), "spans"));
        Ok(Arc::new(SpanExport {
            processor,
            sampler: sampler(&config.sampler),
            scope: InstrumentationScope::builder("tracewire")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            stats,
            reporter: Mutex::new(Some(reporter)),
        }))
    }

    /// What has been exported, dropped and lost so far.
    pub fn counts(&self) -> ExportCounts {
        ExportCounts {
            exported: self.stats.exported.load(Ordering::Relaxed),
            dropped: self.stats.dropped.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
        }
    }
}

impl SpanExporter for SpanExport {
    /// The sampler's decision for a new span: its parent's (remote or local) if it has one.
    fn sample(
        &self,
        meta: &'static Metadata<'static>,
        ctx: &SpanContext,
        fields: &SpanFields,
    ) -> bool {
        let parent_cx = ctx.parent_id.map(|parent| {
            Context::new().with_remote_span_context(opentelemetry::trace::SpanContext::new(
                to_otel_trace_id(ctx.trace_id),
                to_otel_span_id(parent),
                opentelemetry::trace::TraceFlags::new(ctx.flags.0),
                true,
                TraceState::NONE,
            ))
        });
        let result = self.sampler.should_sample(
            parent_cx.as_ref(),
            to_otel_trace_id(ctx.trace_id),
            meta.name(),
            &convert::span_kind(fields),
            &[] as &[KeyValue],
            &[],
        );
        result.decision == SamplingDecision::RecordAndSample
    }

    /// Queues the span, or drops and counts it, unbuilt, if the queue is full (a collector that
    /// is down for good costs no conversion work per span once the queue has filled).
    fn end(&self, span: EndedSpan<'_>) {
        let queued = self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if queued >= QUEUE_CAPACITY {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            crate::metrics::metrics().spans_dropped(1);
            return;
        }
        self.processor.on_end(convert::span_data(span, &self.scope));
    }

    /// Sends what is queued (waiting at most [`SHUTDOWN_TIMEOUT`]), stops the exporter, and
    /// reports any loss at WARN. Called by the logging guard.
    fn shutdown(&self) {
        if let Some(reporter) = self
            .reporter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            reporter.abort();
        }
        if let Err(e) = self.processor.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            // Whatever has not settled by now is lost with the process.
            let unsent = self.stats.queued.swap(0, Ordering::Relaxed);
            self.stats.record_failure(
                unsent,
                &format!("shutdown gave up after {SHUTDOWN_TIMEOUT:?}: {e}"),
            );
            crate::metrics::metrics().spans_dropped(unsent);
        }
        let counts = self.counts();
        if counts.dropped > 0 || counts.failed > 0 {
            warn!(
                exported = counts.exported,
                dropped = counts.dropped,
                failed = counts.failed,
                last_error = self.stats.last_error(),
                "OTLP export lost spans"
            );
        }
    }
}

/// Reports new losses of `what` (spans or log records) and attempts that failed since the last
/// report while the export is being retried: the first problem of the run at once (a wrong
/// certificate shows within a second of the first export), then at most once per
/// [`REPORT_EVERY`].
pub(crate) async fn report_losses(stats: Arc<ExportStats>, what: &'static str) {
    let (mut dropped, mut failed, mut attempts) = (0, 0, 0);
    stats.problem.notified().await;
    let mut tick = tokio::time::interval(REPORT_EVERY);
    loop {
        // The first tick is at once: the first problem's report.
        tick.tick().await;
        let (d, f, a) = (
            stats.dropped.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed),
            stats.transport_errors.load(Ordering::Relaxed),
        );
        if d > dropped || f > failed {
            let last_error = stats.last_error();
            warn!(
                what,
                dropped = d - dropped,
                failed = f - failed,
                last_error,
                interval_s = REPORT_EVERY.as_secs(),
                "OTLP export is losing data"
            );
        } else if a > attempts {
            let reason = stats.transport_error();
            warn!(
                what,
                failed_attempts = a - attempts,
                reason,
                queued = stats.queued.load(Ordering::Relaxed),
                interval_s = REPORT_EVERY.as_secs(),
                "OTLP export is failing; retrying"
            );
        }
        (dropped, failed, attempts) = (d, f, a);
    }
}

fn sampler(config: &SamplerConfig) -> Sampler {
    let root = |r: &ParentBasedRoot| match r {
        ParentBasedRoot::AlwaysOn => Sampler::AlwaysOn,
        ParentBasedRoot::AlwaysOff => Sampler::AlwaysOff,
        ParentBasedRoot::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(*ratio),
    };
    match config {
        SamplerConfig::AlwaysOn => Sampler::AlwaysOn,
        SamplerConfig::AlwaysOff => Sampler::AlwaysOff,
        SamplerConfig::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(*ratio),
        SamplerConfig::ParentBased(r) => Sampler::ParentBased(Box::new(root(r))),
    }
}

/// This process's `service.instance.id`: one for its spans, log records and metrics.
fn instance_id() -> String {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| SpanId::random().to_string()).clone()
}

/// `service.name`, `service.instance.id`, `host.name`, then `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) fn resource(config: &OtlpConfig) -> Resource {
    let service = config.service_name.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "unknown_service".to_owned())
    });
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let mut builder = Resource::builder_empty().with_attributes([
        KeyValue::new("service.name", service),
        KeyValue::new("service.instance.id", instance_id()),
        KeyValue::new("host.name", host),
        KeyValue::new("telemetry.sdk.name", "tracewire"),
        KeyValue::new("telemetry.sdk.language", "rust"),
        KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
    ]);
    for (k, v) in &config.resource_attributes {
        builder = builder.with_attribute(KeyValue::new(k.clone(), v.clone()));
    }
    builder.build()
}
