//! OTLP log export (off by default; `OTEL_EXPORT_LOGS_ENABLED=true` or `[otlp] logs_enabled`):
//! every event the filter lets through also becomes an OpenTelemetry log record, with the
//! severity number of the logs data model (TRACE 1, DEBUG 5, INFO 9, WARN 13, ERROR 17), the
//! message as body, the fields as attributes, and the trace context of its span.

use std::{
    fmt,
    sync::{atomic::Ordering, Arc},
    time::SystemTime,
};

use opentelemetry::{
    logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity},
    Key,
};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::{
    error::OTelSdkResult,
    logs::{LogBatch, LogExporter as SdkLogExporter, SdkLogRecord, SdkLogger, SdkLoggerProvider},
    Resource,
};
use tokio::runtime::Handle;
use tracing::{
    field::{Field, Visit},
    Event, Level,
};

use super::{
    config::{OtlpConfig, Signal},
    convert::{to_otel_span_id, to_otel_trace_id},
    export::{
        otlp_exporter, report_losses, resource, runtime_handle, StartError, SHUTDOWN_TIMEOUT,
    },
    stats::ExportStats,
};
use crate::{
    settings::env,
    trace::{
        FieldValue, HeldRecord, LogExporter, Redactions, SpanContext, SpanFields, ValueLimit,
        CAPTURED, CAPTURED_DROPPED, X_REQUEST_ID,
    },
};

/// A running log export.
#[derive(Debug)]
pub struct LogExport {
    provider: SdkLoggerProvider,
    logger: SdkLogger,
    stats: Arc<ExportStats>,
    /// Fields sent as `[REDACTED]`, as in every other output.
    redact: Redactions,
    /// The bound on string values, as in every other output.
    limit: ValueLimit,
    reporter: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Runs each export on the application's runtime; the batch processor calls from its own
/// (non-Tokio) thread, where `Handle::block_on` is allowed.
#[derive(Debug)]
struct LogsOnRuntime<E> {
    inner: E,
    handle: Handle,
    stats: Arc<ExportStats>,
}

impl<E: SdkLogExporter> SdkLogExporter for LogsOnRuntime<E> {
    fn export(
        &self,
        batch: LogBatch<'_>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.iter().count() as u64;
        let result = self.handle.block_on(self.inner.export(batch));
        match &result {
            Ok(()) => self.stats.exported.fetch_add(n, Ordering::Relaxed),
            Err(e) => {
                self.stats.record_failure(n, e);
                0
            }
        };
        std::future::ready(result)
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl LogExport {
    /// Builds the log exporter for `config` on the current Tokio runtime; the fields named in
    /// `redact` are sent as `[REDACTED]`, and text longer than `limit` is cut as in the lines.
    pub fn start(
        config: &OtlpConfig,
        redact: Redactions,
        limit: ValueLimit,
    ) -> Result<Arc<Self>, StartError> {
        let handle = runtime_handle(env::OTEL_EXPORT_LOGS_ENABLED)?;
        let resolved = config.resolve(Signal::Logs);
        let stats = Arc::new(ExportStats::default());
        let exporter = {
            let _runtime = handle.enter();
            otlp_exporter!(opentelemetry_otlp::LogExporter::builder, &resolved, stats)?
        };
        let reporter = handle.spawn(report_losses(stats.clone(), "log records"));
        let provider = SdkLoggerProvider::builder()
            .with_resource(resource(config))
            .with_batch_exporter(LogsOnRuntime {
                inner: exporter,
                handle,
                stats: stats.clone(),
            })
            .build();
        let logger = provider.logger("tracewire");
        Ok(Arc::new(LogExport {
            provider,
            logger,
            stats,
            reporter: std::sync::Mutex::new(Some(reporter)),
            redact,
            limit,
        }))
    }

    /// Log records the collector accepted, and those in batches it did not accept, so far.
    pub fn counts(&self) -> LogCounts {
        LogCounts {
            exported: self.stats.exported.load(Ordering::Relaxed),
            failed: self.stats.failed.load(Ordering::Relaxed),
        }
    }
}

/// What the log export has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogCounts {
    /// Records the collector accepted.
    pub exported: u64,
    /// Records in batches the collector did not accept.
    pub failed: u64,
}

impl LogExport {
    /// The record of one event, at `time`, inside `span` (its identity and fields) if any.
    fn record(
        &self,
        event: &Event<'_>,
        span: Option<(&SpanContext, &SpanFields)>,
        time: SystemTime,
    ) -> SdkLogRecord {
        let meta = event.metadata();
        let mut record = self.logger.create_log_record();
        record.set_timestamp(time);
        let (number, text) = severity(meta.level());
        record.set_severity_number(number);
        record.set_severity_text(text);
        record.set_target(meta.target().to_owned());
        let mut fields = Fields {
            message: None,
            attributes: Vec::new(),
            redact: &self.redact,
            limit: self.limit,
        };
        event.record(&mut fields);
        record.set_body(AnyValue::from(fields.message.unwrap_or_default()));
        if let Some((_, span_fields)) = span {
            // The span's fields, as the line has them: an event's field of the same name wins.
            for (name, value) in span_fields.iter() {
                if name.starts_with("otel.")
                    || fields.attributes.iter().any(|(k, _)| k.as_str() == name)
                {
                    continue;
                }
                fields
                    .attributes
                    .push((Key::from_static_str(name), any_value(value)));
            }
        }
        record.add_attributes(fields.attributes);
        if let Some((ctx, _)) = span {
            record.set_trace_context(
                to_otel_trace_id(ctx.trace_id),
                to_otel_span_id(ctx.span_id),
                Some(opentelemetry::trace::TraceFlags::new(ctx.flags.0)),
            );
            if let Some(id) = &ctx.x_request_id {
                record.add_attribute(X_REQUEST_ID, id.to_string());
            }
        }
        record
    }
}

impl LogExporter for LogExport {
    /// Emits one event as a log record.
    fn emit(&self, event: &Event<'_>, span: Option<(&SpanContext, &SpanFields)>, now: SystemTime) {
        let mut record = self.record(event, span, now);
        record.set_observed_timestamp(now);
        self.logger.emit(record);
    }

    /// The record as [`emit`](Self::emit) makes it, held as it is: the values were redacted
    /// and bounded already, so only its size is reckoned here.
    fn hold(
        &self,
        event: &Event<'_>,
        span: Option<(&SpanContext, &SpanFields)>,
        time: SystemTime,
    ) -> HeldRecord {
        let record = self.record(event, span, time);
        let text = |v: &AnyValue| match v {
            AnyValue::String(s) => s.as_str().len(),
            _ => 8,
        };
        let bytes = size_of::<SdkLogRecord>()
            + record.body().map_or(0, text)
            + record
                .attributes_iter()
                .map(|(k, v)| k.as_str().len() + text(v) + size_of::<(Key, AnyValue)>())
                .sum::<usize>();
        HeldRecord::new(record, bytes)
    }

    fn emit_held(&self, held: HeldRecord, dropped: u64) {
        let Some(mut record) = held.into_inner::<SdkLogRecord>() else {
            return;
        };
        record.set_observed_timestamp(SystemTime::now());
        record.add_attribute(CAPTURED, true);
        if dropped > 0 {
            record.add_attribute(CAPTURED_DROPPED, dropped as i64);
        }
        self.logger.emit(record);
    }

    /// Sends what is queued, waiting at most [`SHUTDOWN_TIMEOUT`].
    fn shutdown(&self) {
        if let Some(reporter) = self
            .reporter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            reporter.abort();
        }
        let _ = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
        let counts = self.counts();
        if counts.failed > 0 {
            tracing::warn!(
                exported = counts.exported,
                failed = counts.failed,
                "OTLP export lost log records"
            );
        }
    }
}

/// A span's field as a log attribute (span fields are redacted and bounded when recorded).
fn any_value(value: &FieldValue) -> AnyValue {
    match super::convert::value(value) {
        opentelemetry::Value::Bool(b) => AnyValue::Boolean(b),
        opentelemetry::Value::I64(n) => AnyValue::Int(n),
        opentelemetry::Value::F64(n) => AnyValue::Double(n),
        other => AnyValue::from(other.as_str().into_owned()),
    }
}

fn severity(level: &Level) -> (Severity, &'static str) {
    match *level {
        Level::TRACE => (Severity::Trace, "TRACE"),
        Level::DEBUG => (Severity::Debug, "DEBUG"),
        Level::INFO => (Severity::Info, "INFO"),
        Level::WARN => (Severity::Warn, "WARN"),
        Level::ERROR => (Severity::Error, "ERROR"),
    }
}

/// The message and the other fields as attributes.
struct Fields<'a> {
    message: Option<String>,
    attributes: Vec<(Key, AnyValue)>,
    redact: &'a Redactions,
    limit: ValueLimit,
}

impl Fields<'_> {
    fn put(&mut self, field: &Field, value: AnyValue) {
        let value = if self.redact.contains(field.name()) {
            AnyValue::from("[REDACTED]")
        } else {
            value
        };
        self.attributes
            .push((Key::from_static_str(field.name()), value));
    }
}

impl Visit for Fields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, AnyValue::Double(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, AnyValue::Int(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(
            field,
            i64::try_from(value).map_or_else(|_| AnyValue::from(value.to_string()), AnyValue::Int),
        );
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, AnyValue::Boolean(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        // The first `message` is the body, as in the lines; a second field of the name is
        // dropped there and here alike.
        let value = self.limit.bound(value).into_owned();
        if field.name() == "message" {
            self.message.get_or_insert(value);
        } else {
            self.put(field, AnyValue::from(value));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let value = String::from(self.limit.format(format_args!("{value:?}")));
        if field.name() == "message" {
            self.message.get_or_insert(value);
        } else {
            self.put(field, AnyValue::from(value));
        }
    }
}
