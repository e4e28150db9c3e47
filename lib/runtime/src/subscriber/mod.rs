//! The tracewire layer and everything a line is made of: the filter, the two formats, the
//! outputs, request scoping. Built from a [`LoggingConfig`]; [`crate::logging`] reads that
//! configuration from its sources and installs the layer with its exporters, and is where a
//! service starts.
//!
//! # Output
//!
//! Readable lines by default, JSON lines with `DYN_LOGGING_JSONL=true`
//! (`docs/jsonl.md` has the schema):
//!
//! ```text
//! 2025-09-02T15:50:01.770028Z  INFO http-request{method=POST uri=/v1/chat/completions}: app: request received x_request_id=req-1 trace_id=425ef761ca5b44c795b4c912f1d84b39
//! {"time":"2025-09-02T16:38:08.788268Z","level":"INFO","file":"src/http.rs","line":48,"target":"app","message":"SPAN_CLOSED","span_name":"http-request","trace_id":"425ef761ca5b44c795b4c912f1d84b39","span_id":"6959a1b2d1ee41a5","x_request_id":"req-1","time.busy_us":13000,"time.idle_us":2120000,"time.duration_us":2133000,"method":"POST"}
//! ```
//!
//! In JSONL every span writes `SPAN_CREATED` and `SPAN_CLOSED` (with `time.busy_us`,
//! `time.idle_us`, `time.duration_us`) unless `DYN_LOGGING_SPAN_EVENTS=false`, and every line
//! inside a span carries `trace_id`, `span_id`, `parent_id` and the request's `x_request_id`.
//!
//! Lines reach the stream (and the `[file]`) through a [`QueuedSink`]: a bounded queue written out
//! by a background thread, lossless unless the output stalls (or `overflow = "drop"`), with
//! losses counted and reported at WARN. The guard of `logging::init` writes out what is
//! queued.
//!
//! # Inside
//!
//! - `line/`: the pieces of a line (time, key names, escaping, floats, the per-callsite cache);
//! - `format/`: JSONL and readable, side by side behind one seam;
//! - `output/`: sinks, the output queue, the rotating file;
//! - [`directives`]: `DYN_LOG` and its precedence; `config.rs`: [`LoggingConfig`];
//! - `layer.rs`, `span_data.rs`, `timing.rs`: the layer, what it keeps per span, span timing;
//! - `scope/`: request-scoped logging (a request's own level, capture on failure, the rate
//!   limit).
//!
//! # Cost
//!
//! A line is written by hand into a per-thread buffer: what a callsite always writes (level,
//! file, line, target, field keys) is rendered once per thread; a span's fields and ids are
//! rendered once, when recorded, and copied into each of its lines; the clock is the TSC
//! through `quanta`; short decimal floats skip the float formatter; entering a span pushes onto
//! a per-thread stack instead of locking the span; a disabled event costs what tracing's
//! callsite cache costs. `BENCHMARKS.md` has the figures against tracing-subscriber's
//! formatters and how they are measured.
//!
//! # Trace identity
//!
//! Every span gets a [`SpanContext`](crate::trace::SpanContext): a root span a new trace, a child
//! its parent's trace, a span created with a remote context as its `remote_parent` field (see
//! [`RemoteContext`](crate::trace::RemoteContext)) the trace of the process that called. Spans
//! at INFO and above exist whatever `DYN_LOG` says, so identity survives `DYN_LOG=warn`; read it
//! with [`current_context`] to propagate it.
//!
//! # Tests
//!
//! Build a [`TracewireLayer`] for a config and a [`MemorySink`] and use it with
//! `tracing::subscriber::with_default`; nothing global is touched. The `testing` feature adds
//! `testing`: capture and typed lines.

mod client_logs;
mod config;
pub mod directives;
pub mod foreign;
mod format;
mod layer;
mod line;
mod output;
mod reload;
mod scope;
mod span_data;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod timing;

pub use client_logs::{allow_client_logs, client_logs, current_client_logs, ClientLogsRefused};
pub use config::{ColorMode, LoggingConfig, Stream};
pub use format::Format;
pub use layer::TracewireLayer;
pub use line::{keys, TimeZone};
pub use output::{
    FileOutput, LineSink, MemorySink, Overflow, QueueConfig, QueuedSink, RotatingFile, StdStream,
};
pub use reload::{filter_handle, on_level_change, FilterHandle};
pub(crate) use scope::RateLimiter;
pub use scope::{
    CaptureConfig, ClientLogs, ClientLogsLimits, ScopeConfig, Verbosity, CLIENT_LOGS_TRUNCATED,
    CLIENT_MEMBER, LOG_MEMBER, MAX_CAPTURE_BYTES, MAX_CAPTURE_LINES, MAX_RATE,
};
pub use span_data::{current_context, span_context};
