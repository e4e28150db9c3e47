//! Span, log and metric export over OTLP to a tracing backend (an OpenTelemetry Collector, Tempo,
//! Jaeger), in readable and JSONL mode alike, configured by the standard `OTEL_*` variables and
//! the TOML `[otlp]` table (see [`OtlpConfig`]).
//!
//! A sibling of `logging` that meets it only through `crate::trace`: [`SpanExport`] and
//! [`LogExport`] implement the [`SpanExporter`](crate::trace::SpanExporter) and
//! [`LogExporter`](crate::trace::LogExporter) seam the layer calls, and this module imports
//! nothing but `trace` and `settings`.
//!
//! One identity: the exported spans carry exactly the `trace_id`, `span_id` and parent the log
//! lines show, because they are built from the same record. This is why the export is a
//! small seam of ours feeding the SDK's batch processor and the official `opentelemetry-otlp`
//! exporter, rather than `tracing-opentelemetry`: that crate assigns its own span ids inside the
//! SDK tracer, lazily and possibly on another thread, and its per-span data is private, so the
//! ids in the logs could not be guaranteed to be the exported ones.
//!
//! Metrics are pushed from the process's registry ([`crate::metrics`], what `GET /metrics`
//! serves), read in OTel form by `metrics/convert.rs`.
//!
//! With export off, no OpenTelemetry code runs per span.

mod config;
mod convert;
mod export;
mod logs;
mod metrics;
mod stats;
mod tls;
mod transport;

pub use config::{
    FileSetting, Headers, MetricInterval, MetricsExporter, OtlpConfig, OtlpProtocol,
    ParentBasedRoot, Ratio, Resolved, ResourceAttributes, SamplerConfig, Signal, Timeout,
    Transport, DEFAULT_METRIC_INTERVAL, DEFAULT_TIMEOUT, MAX_TIMEOUT_MS, METRIC_INTERVAL_MS,
};
pub use export::{
    ExportCounts, SpanExport, StartError, QUEUE_CAPACITY, REPORT_EVERY, RETRY_BUDGET,
    SHUTDOWN_TIMEOUT,
};
pub use logs::{LogCounts, LogExport};
pub use metrics::MetricExport;
