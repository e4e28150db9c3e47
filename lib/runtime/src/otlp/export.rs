//! The span export pipeline: the SDK's sampler decides at span creation, finished spans go
//! through a bounded queue to the SDK's `BatchSpanProcessor` and the official OTLP exporter,
//! off the request path. A collector that is down, slow or refusing costs a request nothing:
//! when the queue is full, or for [`BACK_OFF`](super::BACK_OFF) after a failed export, spans are dropped and
//! counted without being built, and losses are reported at WARN at most once per
//! [`REPORT_EVERY`].

use std::{
    sync::{atomic::Ordering, Arc, Mutex, PoisonError},
    time::Duration,
};

use opentelemetry::{
    trace::{TraceContextExt, TraceState},
    Context, InstrumentationScope, KeyValue,
};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
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
    config::{OtlpConfig, OtlpProtocol, ParentBasedRoot, SamplerConfig},
    convert::{self, to_otel_span_id, to_otel_trace_id},
    stats::ExportStats,
    transport::{HyperHttpClient, OnRuntime},
};
use crate::{
    settings::{env, ConfigError, Origin},
    trace::{EndedSpan, SpanContext, SpanExporter, SpanFields, SpanId},
};

/// Why export could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting is not accepted (the endpoint, say).
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
/// How long one export may take.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long shutdown waits for the last spans to go out.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Losses are reported at most this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Builds a span or a log exporter: the OTLP crate's builders differ in type, not in calls.
macro_rules! otlp_exporter {
    ($builder:path, $protocol:expr, $url:expr) => {
        match $protocol {
            OtlpProtocol::Grpc => $builder()
                .with_tonic()
                .with_endpoint($url)
                .with_timeout(EXPORT_TIMEOUT)
                .build(),
            OtlpProtocol::HttpProtobuf => $builder()
                .with_http()
                .with_endpoint($url)
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_timeout(EXPORT_TIMEOUT)
                .with_http_client(HyperHttpClient::new(EXPORT_TIMEOUT))
                .build(),
        }
    };
}
pub(crate) use otlp_exporter;

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
        let url = config.traces_url();
        let bad_endpoint = |e: &dyn std::fmt::Display| {
            ConfigError::invalid(
                Origin::Env(env::OTEL_EXPORTER_OTLP_ENDPOINT),
                &url,
                format!("cannot export there: {e}"),
            )
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad_endpoint(&"expected an http:// URL").into());
        }
        let exporter = {
            let _runtime = handle.enter();
            otlp_exporter!(
                opentelemetry_otlp::SpanExporter::builder,
                config.protocol,
                url.clone()
            )
            .map_err(|e| bad_endpoint(&e))?
        };
        let stats = Arc::new(ExportStats::default());
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
        let reporter = handle.spawn(report_losses(stats.clone()));
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

    /// Queues the span, or drops and counts it, unbuilt, if the queue is full or the collector
    /// failed a moment ago (a collector that is down costs no conversion work per span).
    fn end(&self, span: EndedSpan<'_>) {
        if self.stats.backing_off() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let queued = self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if queued >= QUEUE_CAPACITY {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
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

/// Reports new losses at most once per [`REPORT_EVERY`].
async fn report_losses(stats: Arc<ExportStats>) {
    let (mut dropped, mut failed) = (0, 0);
    let mut tick = tokio::time::interval(REPORT_EVERY);
    loop {
        tick.tick().await;
        let (d, f) = (
            stats.dropped.load(Ordering::Relaxed),
            stats.failed.load(Ordering::Relaxed),
        );
        if d > dropped || f > failed {
            let last_error = stats.last_error();
            warn!(
                dropped = d - dropped,
                failed = f - failed,
                last_error,
                interval_s = REPORT_EVERY.as_secs(),
                "OTLP export is losing spans"
            );
            (dropped, failed) = (d, f);
        }
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
        KeyValue::new("service.instance.id", SpanId::random().to_string()),
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
