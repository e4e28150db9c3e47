//! What the layer and its outputs are built from: [`LoggingConfig`], every field a setting of
//! `logging::SETTINGS` (variable and TOML key there), every default in its `impl Default`.

use std::str::FromStr;

use super::{
    directives::FilterConfig,
    format::Format,
    line::TimeZone,
    output::{FileOutput, QueueConfig},
    scope::ScopeConfig,
};
use crate::{
    settings::{keyword, Rejected},
    trace::ValueLimit,
};

/// The standard stream lines go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stream {
    /// Standard error.
    #[default]
    Stderr,
    /// Standard output.
    Stdout,
}

impl FromStr for Stream {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        let words = [("stderr", Stream::Stderr), ("stdout", Stream::Stdout)];
        keyword(s, &words, "expected stderr or stdout")
    }
}

crate::setting_value!(Stream, STRING, "a string");

/// Whether readable lines carry ANSI colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// Colour only when the stream is a terminal; never in a file or pipe.
    #[default]
    Auto,
    /// Always colour the stream (never the `[file]` output).
    Always,
    /// Never colour.
    Never,
}

impl FromStr for ColorMode {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        let words = [
            ("auto", ColorMode::Auto),
            ("always", ColorMode::Always),
            ("never", ColorMode::Never),
        ];
        keyword(s, &words, "expected auto, always or never")
    }
}

crate::setting_value!(ColorMode, STRING, "a string");

/// Everything the logging layer and its outputs need.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingConfig {
    /// Line format.
    pub format: Format,
    /// Timestamp offset.
    pub time_zone: TimeZone,
    /// Whether `SPAN_CREATED` / `SPAN_CLOSED` lines are written; `None`: with JSONL only (see
    /// [`span_events`](Self::span_events)).
    pub span_events: Option<bool>,
    /// The standard stream.
    pub stream: Stream,
    /// ANSI colour in readable mode.
    pub color: ColorMode,
    /// Filter directives, merged by precedence.
    pub filter: FilterConfig,
    /// Field names whose values are written as `"[REDACTED]"`.
    pub redact: Vec<String>,
    /// The optional log file.
    pub file: Option<FileOutput>,
    /// The output queue in front of the stream and the file.
    pub queue: QueueConfig,
    /// The longest string value written in any output; longer ones are cut, marked
    /// `…[+N bytes]`.
    pub max_value_bytes: ValueLimit,
    /// Request-scoped logging: a request's own level, capture on failure, the rate limit.
    pub scope: ScopeConfig,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            format: Format::Readable,
            time_zone: TimeZone::Utc,
            span_events: None,
            stream: Stream::Stderr,
            color: ColorMode::Auto,
            filter: FilterConfig::default(),
            redact: Vec::new(),
            file: None,
            queue: QueueConfig::default(),
            max_value_bytes: ValueLimit::DEFAULT,
            scope: ScopeConfig::default(),
        }
    }
}

impl LoggingConfig {
    /// Whether span events are written: as set, else with JSONL only.
    pub fn span_events(&self) -> bool {
        self.span_events.unwrap_or(self.format == Format::Jsonl)
    }
}
