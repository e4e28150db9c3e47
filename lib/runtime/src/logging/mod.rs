//! Logging and trace identity for tracewire services.
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
//! [`LoggingConfig`] for every variable and key. `DYN_LOG` takes `EnvFilter` directives
//! (`info,my_crate::module=trace`, or the reference's `my_crate::module:trace`) and wins over the
//! built-in quiet levels of noisy crates for every target it names. Any bad value is a
//! [`ConfigError`] naming the variable or file:line, the value, and what is accepted.
//!
//! # Output
//!
//! Readable lines by default, JSON lines with `DYN_LOGGING_JSONL=true`:
//!
//! ```text
//! 2025-09-02T15:50:01.770028Z  INFO http-request{method=POST uri=/v1/chat/completions}: app: request received trace_id=425ef761ca5b44c795b4c912f1d84b39
//! {"time":"2025-09-02T16:38:08.788268Z","level":"INFO","file":"src/http.rs","line":48,"target":"app","message":"SPAN_CLOSED","span_name":"http-request","trace_id":"425ef761ca5b44c795b4c912f1d84b39","span_id":"6959a1b2d1ee41a5","time.busy_us":13000,"time.idle_us":2120000,"time.duration_us":2133000,"method":"POST"}
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
//! # Cost
//!
//! A line is written by hand into a per-thread buffer: what a callsite always writes (level,
//! file, line, target, field keys) is rendered once per thread (`callsite.rs`); a span's fields
//! and ids are rendered to JSON once, when recorded, and copied into each of its lines; the clock
//! is the TSC through `quanta`; short decimal floats skip the float formatter (`float.rs`);
//! entering a span pushes onto a per-thread stack instead of locking the span; a disabled event
//! costs what tracing's callsite cache costs. About 0.12 of tracing-subscriber's `fmt().json()`
//! per event, 0.22 of `fmt()` per readable event and 0.12 per span lifecycle with span events
//! on this project's machine: `BENCHMARKS.md` has the figures and how they are measured.
//!
//! # Trace identity
//!
//! Every span gets a [`SpanContext`]: a root span a new trace, a child its parent's trace, a span
//! created inside [`RemoteContext::in_scope`] the trace of the process that called. Spans at INFO
//! and above exist whatever `DYN_LOG` says, so identity survives `DYN_LOG=warn`; read it with
//! [`current_context`] to propagate it.
//!
//! # Tests
//!
//! Build a [`TracewireLayer`] for a config and a [`MemorySink`] and use it with
//! `tracing::subscriber::with_default`; nothing global is touched.

mod callsite;
#[cfg(test)]
pub(crate) mod capture;
mod config;
pub mod directives;
pub mod env;
mod error;
mod fields;
mod float;
mod identity;
pub(crate) mod ids;
mod jsonl;
mod layer;
mod queue;
mod readable;
mod scan;
mod timestamp;
mod writer;

use std::{io::IsTerminal, sync::Arc};

use tracing_subscriber::layer::SubscriberExt;

pub use config::{parse_bool, ColorMode, FileOutput, Format, LoggingConfig, Stream, TimeZone};
pub use error::{ConfigError, Origin};
pub(crate) use fields::{FieldValue, SpanFields};
pub use identity::{current_context, span_context, RemoteContext, SpanContext, TraceParent};
pub use ids::{SpanId, TraceFlags, TraceId};
pub use layer::TracewireLayer;
pub use queue::{Overflow, QueueConfig, QueuedSink};
pub use writer::{LineSink, MemorySink, RotatingFile, StdStream};

/// Flushes every sink (and sends the last spans, if exporting) when dropped: keep it alive
/// until the end of `main`.
#[must_use = "dropping the guard flushes and stops nothing, but keep it until the end of main"]
pub struct LoggingGuard {
    sinks: Vec<Arc<dyn LineSink>>,
    export: Option<Arc<crate::otlp::SpanExport>>,
    log_export: Option<Arc<crate::otlp::LogExport>>,
}

impl LoggingGuard {
    /// Writes out anything buffered now.
    pub fn flush(&self) {
        self.sinks.iter().for_each(|s| s.flush());
    }

    /// Lines that could not be written so far, over all sinks.
    pub fn dropped(&self) -> u64 {
        self.sinks.iter().map(|s| s.dropped()).sum()
    }
}

impl LoggingGuard {
    /// The span export, if one runs.
    pub fn export(&self) -> Option<&crate::otlp::SpanExport> {
        self.export.as_deref()
    }
}

impl Drop for LoggingGuard {
    fn drop(&mut self) {
        // Export first: its shutdown may report losses, and those lines must be flushed too.
        if let Some(export) = self.export.take() {
            export.shutdown();
        }
        if let Some(export) = self.log_export.take() {
            export.shutdown();
        }
        self.flush();
    }
}

impl LoggingConfig {
    /// The layer this configuration asks for, writing to the configured stream and file.
    pub fn layer(&self) -> Result<TracewireLayer, ConfigError> {
        let (stream, is_terminal) = match self.stream {
            Stream::Stderr => (StdStream::stderr(), std::io::stderr().is_terminal()),
            Stream::Stdout => (StdStream::stdout(), std::io::stdout().is_terminal()),
        };
        let queue_error = ConfigError::WriterThread;
        let stream = QueuedSink::new("stream", self.queue, stream).map_err(queue_error)?;
        let ansi = match self.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => is_terminal,
        };
        let file = match self.file.as_ref().map(RotatingFile::open).transpose()? {
            Some(file) => Some(QueuedSink::new("file", self.queue, file).map_err(queue_error)?),
            None => None,
        };
        let mut layer = TracewireLayer::without_outputs(self).with_output(stream, ansi);
        if let Some(file) = file {
            layer = layer.with_output(file, false);
        }
        Ok(layer)
    }

    /// Installs this configuration as the process's global subscriber, with `log` records
    /// bridged into it, and starts OTLP export if asked (which needs a Tokio runtime entered).
    pub fn install(&self) -> Result<LoggingGuard, ConfigError> {
        let mut layer = self.layer()?;
        let export = if self.otlp.enabled {
            let export = crate::otlp::SpanExport::start(&self.otlp)?;
            layer = layer.with_export(export.clone());
            Some(export)
        } else {
            None
        };
        let log_export = if self.otlp.logs_enabled {
            let export = crate::otlp::LogExport::start(&self.otlp)?;
            layer = layer.with_log_export(export.clone());
            Some(export)
        } else {
            None
        };
        let guard = LoggingGuard {
            sinks: layer.sinks(),
            export,
            log_export,
        };
        let max_event_level = layer.max_event_level();
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .map_err(|_| ConfigError::AlreadyInitialised)?;
        tracing_log::LogTracer::builder()
            .with_max_level(tracing_log::AsLog::as_log(&max_event_level))
            .init()
            .map_err(|_| ConfigError::AlreadyInitialised)?;
        Ok(guard)
    }
}

/// Reads the environment and the TOML file it names, installs the global subscriber and the
/// `log` bridge, and returns the guard that flushes on drop.
pub fn init() -> Result<LoggingGuard, ConfigError> {
    LoggingConfig::from_env()?.install()
}

/// [`init`] for binaries: on a configuration error, prints one line naming the culprit to
/// stderr and exits with status 2.
pub fn init_or_exit() -> LoggingGuard {
    init().unwrap_or_else(|e| {
        eprintln!("tracewire: configuration error: {e}");
        std::process::exit(2)
    })
}
