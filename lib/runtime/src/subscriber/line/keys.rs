//! The names a line is made of (SPEC §3-4): JSON keys, the span event messages, level names, and
//! the prefixes with a meaning. One constant each, so that the two formats and the tests spell
//! them alike.

use tracing::Level;

/// RFC 3339 time of the line.
pub(crate) const TIME: &str = "time";
/// `ERROR` … `TRACE`.
pub(crate) const LEVEL: &str = "level";
/// The callsite's source file.
pub(crate) const FILE: &str = "file";
/// The callsite's line.
pub(crate) const LINE: &str = "line";
/// The event's (or span's) target.
pub(crate) const TARGET: &str = "target";
/// The message, `""` when there is none.
pub(crate) const MESSAGE: &str = "message";
/// The current span's name.
pub(crate) const SPAN_NAME: &str = "span_name";
/// 32 lowercase hex digits.
pub(crate) const TRACE_ID: &str = "trace_id";
/// 16 lowercase hex digits.
pub(crate) const SPAN_ID: &str = "span_id";
/// The parent span's id, absent on a root span.
pub(crate) const PARENT_ID: &str = "parent_id";
/// The request's id (the same name as the span field that sets it).
pub(crate) const X_REQUEST_ID: &str = crate::trace::X_REQUEST_ID;
/// Time the span was entered, in whole microseconds.
pub(crate) const BUSY_US: &str = "time.busy_us";
/// The rest of its lifetime.
pub(crate) const IDLE_US: &str = "time.idle_us";
/// Busy plus idle.
pub(crate) const DURATION_US: &str = "time.duration_us";

/// The message of the line a span writes when it is created.
pub(crate) const SPAN_CREATED: &str = "SPAN_CREATED";
/// The message of the line a span writes when it closes.
pub(crate) const SPAN_CLOSED: &str = "SPAN_CLOSED";

/// A user field named like a fixed key is written as `fields.<name>`.
pub(crate) const RENAMED_PREFIX: &str = "fields.";
/// Span fields with this prefix steer OTLP export and are not written to lines.
pub(crate) const OTEL_PREFIX: &str = "otel.";
/// The `target` of records bridged from the `log` crate.
pub(crate) const LOG_TARGET: &str = "log";
/// The bridge's field for the record's module, which lines leave out.
pub(crate) const LOG_MODULE_PATH: &str = "log.module_path";
/// The bridge's fields all start with this.
pub(crate) const LOG_PREFIX: &str = "log.";

/// Keys tracewire writes itself; user fields of these names become `fields.<name>`. A `match`
/// rather than a list scan: it runs for every field of every callsite rendered.
pub(crate) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        TIME | LEVEL
            | FILE
            | LINE
            | TARGET
            | MESSAGE
            | SPAN_NAME
            | TRACE_ID
            | SPAN_ID
            | PARENT_ID
            | X_REQUEST_ID
            | BUSY_US
            | IDLE_US
            | DURATION_US
    )
}

/// The level as JSONL writes it.
pub(crate) fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}
