//! The names a line is made of (SPEC §3-4): JSON keys, the span event messages, level names, and
//! the prefixes with a meaning. One constant each, so that the two formats, the tests and the
//! tools that read the lines back (`tracewire-trace`) spell them alike.

use tracing::Level;

/// RFC 3339 time of the line.
pub const TIME: &str = "time";
/// `ERROR` … `TRACE`.
pub const LEVEL: &str = "level";
/// The callsite's source file.
pub const FILE: &str = "file";
/// The callsite's line.
pub const LINE: &str = "line";
/// The event's (or span's) target.
pub const TARGET: &str = "target";
/// The message, `""` when there is none.
pub const MESSAGE: &str = "message";
/// The current span's name.
pub const SPAN_NAME: &str = "span_name";
/// 32 lowercase hex digits.
pub const TRACE_ID: &str = "trace_id";
/// 16 lowercase hex digits.
pub const SPAN_ID: &str = "span_id";
/// The parent span's id, absent on a root span.
pub const PARENT_ID: &str = "parent_id";
/// The request's id (the same name as the span field that sets it).
pub const X_REQUEST_ID: &str = crate::trace::X_REQUEST_ID;
/// Time the span was entered, in whole microseconds.
pub const BUSY_US: &str = "time.busy_us";
/// The rest of its lifetime.
pub const IDLE_US: &str = "time.idle_us";
/// Busy plus idle.
pub const DURATION_US: &str = "time.duration_us";

/// The message of the line a span writes when it is created.
pub const SPAN_CREATED: &str = "SPAN_CREATED";
/// The message of the line a span writes when it closes.
pub const SPAN_CLOSED: &str = "SPAN_CLOSED";

/// Marks a line written by capture on failure (SPEC §9): `"captured":true`, at the line's end.
pub const CAPTURED: &str = crate::trace::CAPTURED;
/// On the first captured line: how many older lines the capture limits dropped.
pub const CAPTURED_DROPPED: &str = crate::trace::CAPTURED_DROPPED;
/// The span field (and `request completed` field) holding a request's HTTP status.
pub const STATUS: &str = "status";
/// The span field (and `request completed` field) saying how a request ended: `ok`,
/// `client_error`, `error`, `cancelled`.
pub const OUTCOME: &str = "outcome";

/// A user field named like a fixed key is written as `fields.<name>`.
pub const RENAMED_PREFIX: &str = "fields.";
/// Span fields with this prefix steer OTLP export and are not written to lines.
pub const OTEL_PREFIX: &str = "otel.";
/// The `target` of records bridged from the `log` crate.
pub const LOG_TARGET: &str = "log";
/// The bridge's field for the record's module, which lines leave out.
pub const LOG_MODULE_PATH: &str = "log.module_path";
/// The bridge's fields all start with this.
pub const LOG_PREFIX: &str = "log.";

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
