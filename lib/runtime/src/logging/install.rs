//! Build, then install: [`Config::layer`] builds the layer with its outputs and exporters and
//! touches nothing global; [`Config::install`] makes it the process's subscriber, with `log`
//! records bridged, or changes nothing; [`init`] does both from the environment.

use std::{io, io::IsTerminal, path::PathBuf, sync::Arc};

use tracing_subscriber::layer::SubscriberExt;

use super::config::Config;
use crate::{
    otlp::{LogExport, MetricExport, SpanExport, StartError},
    settings::ConfigError,
    subscriber::{
        ColorMode, Format, LineSink, QueuedSink, RateLimiter, RotatingFile, StdStream, Stream,
        TracewireLayer,
    },
    trace::{LogExporter, Redactions, SpanExporter},
};

/// Why logging could not be started. A [`ConfigError`] is the configuration's fault; the other
/// variants are the environment's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// A value of the configuration is not accepted.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The log file of the `[file]` table cannot be opened.
    #[error("[file] path {path:?}: cannot open for writing: {source}")]
    LogFile {
        /// The path as configured.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The background writer thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    WriterThread(#[source] io::Error),
    /// Export is on but no Tokio runtime is running to export on.
    #[error("{variable} is on, but OTLP export runs on the program's Tokio runtime and none is running: initialise logging inside one (Runtime::enter)")]
    NoRuntime {
        /// The variable that turned export on.
        variable: &'static str,
    },
    /// A global subscriber or `log` logger was installed before.
    #[error("logging is already initialised in this process (a global tracing subscriber or `log` logger is set)")]
    AlreadyInitialised,
}

impl From<StartError> for InitError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::Config(e) => InitError::Config(e),
            StartError::NoRuntime { variable } => InitError::NoRuntime { variable },
        }
    }
}

/// Flushes every sink and sends the last spans, log records and metrics, if exporting, when dropped:
/// keep it alive until the end of `main`.
#[must_use = "dropping the guard flushes and stops the exporters: keep it until the end of main"]
pub struct LoggingGuard {
    sinks: Vec<Arc<dyn LineSink>>,
    exporters: Vec<Exporter>,
    /// The rate limit, whose last suppressed counts are reported at the end.
    rate: Option<Arc<RateLimiter>>,
}

/// An exporter to shut down with the guard.
enum Exporter {
    Spans(Arc<dyn SpanExporter>),
    Logs(Arc<dyn LogExporter>),
    Metrics(Arc<MetricExport>),
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

impl Drop for LoggingGuard {
    fn drop(&mut self) {
        // What the rate limit suppressed since its last report, before the lines go out.
        if let Some(rate) = &self.rate {
            rate.report();
        }
        // Exporters first: their shutdown may report losses, and those lines must be flushed too.
        for exporter in self.exporters.drain(..) {
            match exporter {
                Exporter::Spans(e) => e.shutdown(),
                Exporter::Logs(e) => e.shutdown(),
                Exporter::Metrics(e) => e.shutdown(),
            }
        }
        self.flush();
    }
}

/// A layer built for a configuration, and the guard that stops what it started.
pub struct Built {
    /// The layer, to add to a `tracing_subscriber::registry()`.
    pub layer: TracewireLayer,
    /// Flushes its outputs and stops its exporters when dropped.
    pub guard: LoggingGuard,
}

impl Config {
    /// Builds everything this configuration asks for, without installing anything: the layer
    /// writing to the configured stream and file, each behind its output queue, with span and
    /// log export and the metrics push started if they are on (export needs a Tokio runtime
    /// entered).
    pub fn layer(&self) -> Result<Built, InitError> {
        let config = &self.logging;
        let (stream, is_terminal) = match config.stream {
            Stream::Stderr => (StdStream::stderr(), std::io::stderr().is_terminal()),
            Stream::Stdout => (StdStream::stdout(), std::io::stdout().is_terminal()),
        };
        let stream =
            QueuedSink::new("stream", config.queue, stream).map_err(InitError::WriterThread)?;
        let ansi = match config.color {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => is_terminal,
        };
        let mut layer = TracewireLayer::without_outputs(config).with_output(stream, ansi);
        if let Some(file) = &config.file {
            let opened = RotatingFile::open(file).map_err(|source| InitError::LogFile {
                path: file.path.clone(),
                source,
            })?;
            let queued =
                QueuedSink::new("file", config.queue, opened).map_err(InitError::WriterThread)?;
            layer = layer.with_output(queued, false);
        }
        let mut exporters = Vec::new();
        if self.otlp.enabled {
            let export: Arc<dyn SpanExporter> = SpanExport::start(&self.otlp)?;
            layer = layer.with_span_export(export.clone());
            exporters.push(Exporter::Spans(export));
        }
        if self.otlp.logs_enabled {
            let redact = Redactions::new(&config.redact);
            let export: Arc<dyn LogExporter> =
                LogExport::start(&self.otlp, redact, config.max_value_bytes)?;
            layer = layer.with_log_export(export.clone());
            exporters.push(Exporter::Logs(export));
        }
        if self.otlp.metrics_enabled {
            let export = MetricExport::start(&self.otlp, crate::metrics::metrics())?;
            exporters.push(Exporter::Metrics(export));
        }
        let guard = LoggingGuard {
            sinks: layer.sinks(),
            exporters,
            rate: layer.rate_limiter(),
        };
        Ok(Built { layer, guard })
    }

    /// Builds this configuration's layer and installs it as the process's global subscriber,
    /// with `log` records bridged into it. Either all of it is installed or, with an error,
    /// nothing global has changed.
    pub fn install(&self) -> Result<LoggingGuard, InitError> {
        if tracing::dispatcher::has_been_set() {
            return Err(InitError::AlreadyInitialised);
        }
        let Built { layer, guard } = self.layer()?;
        let max_event_level = layer.max_event_level();
        let handle = layer.filter_handle().with_output(
            self.logging.format == Format::Jsonl,
            self.logging.span_events(),
            self.logging.scope.clone(),
        );
        // The `log` bridge first: it fails if another `log` logger is set, and then nothing is
        // installed yet. The subscriber after it can only fail if another thread installed one
        // since the check above. The bridge itself passes every level (the filter may change at
        // runtime); `log`'s global level, which `log` macros check first, follows the filter.
        tracing_log::LogTracer::builder()
            .with_max_level(tracing_log::log::LevelFilter::Trace)
            .init()
            .map_err(|_| InitError::AlreadyInitialised)?;
        tracing_log::log::set_max_level(tracing_log::AsLog::as_log(&max_event_level));
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))
            .map_err(|_| InitError::AlreadyInitialised)?;
        handle.install_global();
        Ok(guard)
    }
}

/// Reads the environment and the TOML file it names, installs the global subscriber and the
/// `log` bridge, and returns the guard that flushes on drop.
pub fn init() -> Result<LoggingGuard, InitError> {
    Config::from_env()?.install()
}

/// [`init`] for binaries: on an error, prints one line naming the culprit to stderr and exits
/// with status 2.
pub fn init_or_exit() -> LoggingGuard {
    init().unwrap_or_else(|e| {
        match e {
            InitError::Config(e) => eprintln!("tracewire: configuration error: {e}"),
            e => eprintln!("tracewire: cannot start logging: {e}"),
        }
        std::process::exit(2)
    })
}
