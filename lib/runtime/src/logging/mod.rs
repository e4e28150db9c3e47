//! Logging for tracewire services: where a service starts. [`init`] reads the configuration
//! ([`Config`]) and installs the layer of [`crate::subscriber`] with the exporters of
//! [`crate::otlp`].
//!
//! One call configures everything from the environment (and the TOML file it names):
//!
//! ```no_run
//! // In `main`. Exits with status 2 and one line on stderr if the configuration is wrong.
//! let _guard = tracewire_runtime::logging::init_or_exit();
//! tracing::info!(port = 8080, "listening");
//! // dropping the guard at the end of `main` flushes every line
//! ```
//!
//! # Sources
//!
//! Built-in defaults < TOML file (`DYN_LOGGING_CONFIG_PATH`) < environment, key by key; see
//! [`SETTINGS`] (and `docs/configuration.md`) for every variable and key. `DYN_LOG` takes `EnvFilter` directives
//! (`info,my_crate::module=trace`, or the reference's `my_crate::module:trace`) and wins over the
//! built-in quiet levels of noisy crates for every target it names. Any bad value is a
//! [`ConfigError`](crate::settings::ConfigError) naming the variable or file:line, the value,
//! and what is accepted.
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
//! losses counted and reported at WARN. The [`LoggingGuard`] writes out what is queued.
//!
//! # Inside
//!
//! - `config.rs`: [`Config`] and [`SETTINGS`], the table of every variable and TOML key;
//! - `install.rs`: build, then install: the layer of [`crate::subscriber`] with the exporters
//!   of [`crate::otlp`], the two siblings this module is above.
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

mod config;
mod install;

pub use config::{Config, SETTINGS};
pub use install::{init, init_or_exit, Built, InitError, LoggingGuard};
// The layer's side, under the names a service has always used.
#[cfg(any(test, feature = "testing"))]
pub use crate::subscriber::testing;
pub use crate::subscriber::{
    allow_client_logs, client_logs, current_client_logs, ClientLogs, ClientLogsLimits,
    ClientLogsRefused, CLIENT_LOGS_TRUNCATED, CLIENT_MEMBER,
};
pub use crate::subscriber::{
    current_context, directives, filter_handle, foreign, keys, on_level_change, span_context,
    CaptureConfig, ColorMode, FileOutput, FilterHandle, Format, LineSink, LoggingConfig,
    MemorySink, Overflow, QueueConfig, QueuedSink, RotatingFile, ScopeConfig, StdStream, Stream,
    TimeZone, TracewireLayer, LOG_MEMBER,
};
