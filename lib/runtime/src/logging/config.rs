//! The resolved logging configuration and how it is read: built-in defaults, then the TOML file
//! named by `DYN_LOGGING_CONFIG_PATH`, then the environment, key by key.
//!
//! | variable | TOML key | values | default |
//! |---|---|---|---|
//! | `DYN_LOG` | `log_level`, `[log_filters]` | directives, see [`directives`](super::directives) | `info` |
//! | `DYN_LOGGING_JSONL` | `jsonl` | boolean | false |
//! | `DYN_LOG_USE_LOCAL_TZ` | `local_tz` | boolean | false |
//! | `DYN_LOGGING_SPAN_EVENTS` | `span_events` | boolean | true with JSONL, else false |
//! | `DYN_LOG_STREAM` | `stream` | `stderr`, `stdout` | `stderr` |
//! | `DYN_LOG_COLOR`, `NO_COLOR` | `color` | `auto`, `always`, `never` | `auto` |
//! | | `redact` | field names | none |
//! | `DYN_LOG_OVERFLOW` | `overflow` | `block` (lossless) or `drop` | `block` |
//! | `DYN_LOG_BUFFER_BYTES` | `buffer_bytes` | output queue size, 64 KiB to 1 GiB | 4 MiB |
//! | `DYN_LOG_MAX_VALUE_BYTES` | `max_value_bytes` | longest string value written, in bytes; 0 for no limit | 16384 |
//! | | `[file]` `path`, `max_bytes`, `max_files` | a log file with size rotation | none |
//! | `DYN_LOG_REQUEST_LEVEL` | `request_level` | the most verbose level a request's `tracewire.log` baggage member may ask for, or `off` | off |
//! | `DYN_LOG_CAPTURE` | `[capture]` `level`, `max_lines`, `max_bytes`, `total_bytes` | lines held per request, written if it fails | off; 256 lines, 64 KiB, 16 MiB |
//! | `DYN_LOG_RATE_LIMIT` | `[rate_limit]` `per_callsite_per_s` | lines a second per callsite, 0 for no limit | no limit |
//! | `OTEL_*` | `[otlp]` | OTLP export, see [`crate::otlp`] | off |
//!
//! Booleans accept `1 true yes on` and `0 false no off`, case-insensitive, trimmed; in the TOML
//! file a TOML boolean or one of those strings.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use toml::Spanned;

use super::{
    directives::{self, FilterConfig},
    format::Format,
    line::TimeZone,
    output::{FileOutput, Overflow, QueueConfig},
    scope::{
        config::{CaptureSection, RateLimitSection, ScopePartial},
        ScopeConfig,
    },
};
use crate::{
    otlp::{OtlpConfig, OtlpSection},
    settings::{
        env::{self, Lookup},
        parse_bool, parse_keyword, read_config_file, ConfigError, Origin, TomlBool, TomlSource,
    },
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

/// Everything the logging layer needs, resolved from all sources.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingConfig {
    /// Line format.
    pub format: Format,
    /// Timestamp offset.
    pub time_zone: TimeZone,
    /// Whether `SPAN_CREATED` / `SPAN_CLOSED` lines are written.
    pub span_events: bool,
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
    /// OTLP export.
    pub otlp: OtlpConfig,
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
            span_events: false,
            stream: Stream::Stderr,
            color: ColorMode::Auto,
            filter: FilterConfig::default(),
            redact: Vec::new(),
            file: None,
            otlp: OtlpConfig::default(),
            queue: QueueConfig::default(),
            max_value_bytes: ValueLimit::DEFAULT,
            scope: ScopeConfig::default(),
        }
    }
}

impl LoggingConfig {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env::process_env)
    }

    /// Reads the variables through `lookup` (and the file `DYN_LOGGING_CONFIG_PATH` names).
    ///
    /// ```
    /// use tracewire_runtime::logging::{LoggingConfig, Format};
    /// let vars = |name: &str| (name == "DYN_LOGGING_JSONL").then(|| "yes".to_owned());
    /// let config = LoggingConfig::from_lookup(&vars).unwrap();
    /// assert_eq!(config.format, Format::Jsonl);
    /// assert!(config.span_events, "on by default with JSONL");
    /// ```
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let mut partial = Partial::default();
        if let Some(path) = lookup(env::DYN_LOGGING_CONFIG_PATH).filter(|p| !p.trim().is_empty()) {
            let path = PathBuf::from(path);
            let text = read_config_file(&path)?;
            partial.apply_file(&path, &text)?;
        }
        partial.apply_env(lookup)?;
        Ok(partial.resolve())
    }

    /// Parses TOML text as if it were the file at `path`, with no environment on top.
    pub fn from_toml(path: impl Into<PathBuf>, text: &str) -> Result<Self, ConfigError> {
        let mut partial = Partial::default();
        partial.apply_file(&path.into(), text)?;
        Ok(partial.resolve())
    }
}

/// Values seen so far; `None` means "not set by any source yet".
#[derive(Default)]
struct Partial {
    jsonl: Option<bool>,
    local_tz: Option<bool>,
    span_events: Option<bool>,
    stream: Option<Stream>,
    color: Option<ColorMode>,
    filter: FilterConfig,
    redact: Vec<String>,
    file: Option<FileOutput>,
    otlp: OtlpConfig,
    queue: QueueConfig,
    max_value_bytes: Option<ValueLimit>,
    scope: ScopePartial,
}

impl Partial {
    fn resolve(self) -> LoggingConfig {
        let defaults = LoggingConfig::default();
        let format = if self.jsonl.unwrap_or(false) {
            Format::Jsonl
        } else {
            Format::Readable
        };
        LoggingConfig {
            format,
            time_zone: if self.local_tz.unwrap_or(false) {
                TimeZone::Local
            } else {
                TimeZone::Utc
            },
            span_events: self.span_events.unwrap_or(format == Format::Jsonl),
            stream: self.stream.unwrap_or(defaults.stream),
            color: self.color.unwrap_or(defaults.color),
            filter: self.filter,
            redact: self.redact,
            file: self.file,
            otlp: self.otlp,
            queue: self.queue,
            max_value_bytes: self.max_value_bytes.unwrap_or(defaults.max_value_bytes),
            scope: self.scope.resolve(),
        }
    }

    fn apply_env(&mut self, lookup: Lookup<'_>) -> Result<(), ConfigError> {
        let boolean = |name: &'static str| -> Result<Option<bool>, ConfigError> {
            lookup(name)
                .map(|v| parse_bool(&v, &Origin::Env(name)))
                .transpose()
        };
        if let Some(v) = boolean(env::DYN_LOGGING_JSONL)? {
            self.jsonl = Some(v);
        }
        if let Some(v) = boolean(env::DYN_LOG_USE_LOCAL_TZ)? {
            self.local_tz = Some(v);
        }
        if let Some(v) = boolean(env::DYN_LOGGING_SPAN_EVENTS)? {
            self.span_events = Some(v);
        }
        if let Some(v) = lookup(env::DYN_LOG_OVERFLOW) {
            self.queue.overflow = parse_overflow(&v, &Origin::Env(env::DYN_LOG_OVERFLOW))?;
        }
        if let Some(v) = lookup(env::DYN_LOG_BUFFER_BYTES) {
            self.queue.capacity = parse_buffer_bytes(&v, &Origin::Env(env::DYN_LOG_BUFFER_BYTES))?;
        }
        if let Some(v) = lookup(env::DYN_LOG_MAX_VALUE_BYTES) {
            let origin = Origin::Env(env::DYN_LOG_MAX_VALUE_BYTES);
            self.max_value_bytes = Some(parse_max_value_bytes(&v, &origin)?);
        }
        if let Some(v) = lookup(env::DYN_LOG_STREAM) {
            self.stream = Some(parse_stream(&v, &Origin::Env(env::DYN_LOG_STREAM))?);
        }
        if let Some(v) = lookup(env::DYN_LOG_COLOR) {
            self.color = Some(parse_color(&v, &Origin::Env(env::DYN_LOG_COLOR))?);
        } else if lookup(env::NO_COLOR).is_some_and(|v| !v.is_empty()) {
            self.color = Some(ColorMode::Never);
        }
        if let Some(v) = lookup(env::DYN_LOG) {
            let parsed = directives::parse_directives(&v, &Origin::Env(env::DYN_LOG))?;
            self.filter = std::mem::take(&mut self.filter).overlay(parsed);
        }
        self.scope.apply_env(lookup)?;
        self.otlp.apply_env(lookup)
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        let source_file = TomlSource::new(path, text);
        let at = |offset: usize| source_file.at(offset);
        let file: FileSettings = source_file.parse()?;

        let mut source = Vec::new();
        if let Some(level) = &file.log_level {
            let origin = at(level.span().start);
            let parsed = directives::parse_level(level.get_ref()).ok_or_else(|| {
                ConfigError::invalid(
                    origin,
                    level.get_ref(),
                    "log_level: expected one of error, warn, info, debug, trace, off",
                )
            })?;
            source.push(directives::Directive::default_level(parsed));
        }
        for (target, level) in &file.log_filters {
            let origin = at(level.span().start);
            source.push(directives::parse_target_level(
                target,
                level.get_ref(),
                &origin,
            )?);
        }
        self.filter = std::mem::take(&mut self.filter).overlay(source);

        for (value, slot) in [
            (&file.jsonl, &mut self.jsonl),
            (&file.local_tz, &mut self.local_tz),
            (&file.span_events, &mut self.span_events),
        ] {
            if let Some(value) = value {
                *slot = Some(source_file.boolean(value)?);
            }
        }
        if let Some(v) = &file.stream {
            self.stream = Some(parse_stream(v.get_ref(), &at(v.span().start))?);
        }
        if let Some(v) = &file.color {
            self.color = Some(parse_color(v.get_ref(), &at(v.span().start))?);
        }
        self.redact = file.redact;
        if let Some(v) = &file.overflow {
            self.queue.overflow = parse_overflow(v.get_ref(), &at(v.span().start))?;
        }
        if let Some(v) = &file.buffer_bytes {
            self.queue.capacity =
                parse_buffer_bytes(&v.get_ref().to_string(), &at(v.span().start))?;
        }
        if let Some(v) = &file.max_value_bytes {
            let origin = at(v.span().start);
            self.max_value_bytes = Some(parse_max_value_bytes(&v.get_ref().to_string(), &origin)?);
        }
        if let Some(f) = file.file {
            let origin = at(f.path.span().start);
            if f.path.get_ref().trim().is_empty() {
                return Err(ConfigError::invalid(
                    origin,
                    f.path.get_ref(),
                    "[file] path must not be empty",
                ));
            }
            if f.max_bytes == 0 {
                return Err(ConfigError::invalid(
                    origin,
                    "0",
                    "[file] max_bytes must be at least 1",
                ));
            }
            self.file = Some(FileOutput {
                path: PathBuf::from(f.path.into_inner()),
                max_bytes: f.max_bytes,
                max_files: f.max_files,
            });
        }
        self.scope.apply_file(
            &source_file,
            file.request_level.as_ref(),
            file.capture.as_ref(),
            file.rate_limit.as_ref(),
        )?;
        if let Some(otlp) = file.otlp {
            self.otlp.apply_file(otlp, &source_file)?;
        }
        Ok(())
    }
}

/// The TOML file as written. Unknown keys are errors.
#[derive(Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct FileSettings {
    log_level: Option<Spanned<String>>,
    jsonl: Option<Spanned<TomlBool>>,
    local_tz: Option<Spanned<TomlBool>>,
    span_events: Option<Spanned<TomlBool>>,
    stream: Option<Spanned<String>>,
    color: Option<Spanned<String>>,
    redact: Vec<String>,
    overflow: Option<Spanned<String>>,
    buffer_bytes: Option<Spanned<i64>>,
    max_value_bytes: Option<Spanned<i64>>,
    log_filters: BTreeMap<String, Spanned<String>>,
    file: Option<FileSection>,
    otlp: Option<OtlpSection>,
    request_level: Option<Spanned<String>>,
    capture: Option<CaptureSection>,
    rate_limit: Option<RateLimitSection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSection {
    path: Spanned<String>,
    #[serde(default = "default_max_bytes")]
    max_bytes: u64,
    #[serde(default = "default_max_files")]
    max_files: u32,
}

fn default_max_bytes() -> u64 {
    FileOutput::DEFAULT_MAX_BYTES
}

fn default_max_files() -> u32 {
    FileOutput::DEFAULT_MAX_FILES
}

fn parse_overflow(value: &str, origin: &Origin) -> Result<Overflow, ConfigError> {
    let words = [("block", Overflow::Block), ("drop", Overflow::Drop)];
    parse_keyword(value, origin, &words, "expected block or drop")
}

/// The output queue's size: at least 64 KiB (a line of a few KiB must fit with room to spare)
/// and at most 1 GiB (the queue is held in memory, twice over while it is written out).
fn parse_buffer_bytes(value: &str, origin: &Origin) -> Result<usize, ConfigError> {
    match value.trim().parse::<usize>() {
        Ok(n) if (64 << 10..=1 << 30).contains(&n) => Ok(n),
        _ => Err(ConfigError::invalid(
            origin.clone(),
            value,
            "expected a number of bytes from 65536 (64 KiB) to 1073741824 (1 GiB)",
        )),
    }
}

/// The longest string value: a number of bytes, 0 for no limit.
fn parse_max_value_bytes(value: &str, origin: &Origin) -> Result<ValueLimit, ConfigError> {
    value
        .trim()
        .parse::<usize>()
        .map(ValueLimit::new)
        .map_err(|_| {
            ConfigError::invalid(
                origin.clone(),
                value,
                "expected a number of bytes (0 for no limit)",
            )
        })
}

fn parse_stream(value: &str, origin: &Origin) -> Result<Stream, ConfigError> {
    let words = [("stderr", Stream::Stderr), ("stdout", Stream::Stdout)];
    parse_keyword(value, origin, &words, "expected stderr or stdout")
}

fn parse_color(value: &str, origin: &Origin) -> Result<ColorMode, ConfigError> {
    let words = [
        ("auto", ColorMode::Auto),
        ("always", ColorMode::Always),
        ("never", ColorMode::Never),
    ];
    parse_keyword(value, origin, &words, "expected auto, always or never")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from_vars(vars: &[(&str, &str)]) -> Result<LoggingConfig, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        LoggingConfig::from_lookup(&|name| map.get(name).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_env() {
        let c = from_vars(&[]).unwrap();
        assert_eq!(c, LoggingConfig::default());
        assert!(!c.span_events);

        let c = from_vars(&[("DYN_LOGGING_JSONL", "1")]).unwrap();
        assert_eq!((c.format, c.span_events), (Format::Jsonl, true));

        let c = from_vars(&[
            ("DYN_LOGGING_JSONL", "true"),
            ("DYN_LOGGING_SPAN_EVENTS", "false"),
        ])
        .unwrap();
        assert!(!c.span_events, "span events can be turned off in JSONL");

        let c = from_vars(&[("DYN_LOGGING_SPAN_EVENTS", "on")]).unwrap();
        assert!(
            c.span_events && c.format == Format::Readable,
            "and on in readable mode"
        );

        let c = from_vars(&[
            ("DYN_LOG_STREAM", "stdout"),
            ("DYN_LOG_USE_LOCAL_TZ", "yes"),
            ("NO_COLOR", "1"),
        ])
        .unwrap();
        assert_eq!(
            (c.stream, c.time_zone, c.color),
            (Stream::Stdout, TimeZone::Local, ColorMode::Never)
        );

        let c = from_vars(&[("NO_COLOR", "1"), ("DYN_LOG_COLOR", "always")]).unwrap();
        assert_eq!(
            c.color,
            ColorMode::Always,
            "an explicit DYN_LOG_COLOR wins over NO_COLOR"
        );
        let c = from_vars(&[
            ("DYN_LOG_OVERFLOW", "DROP"),
            ("DYN_LOG_BUFFER_BYTES", "1048576"),
        ])
        .unwrap();
        assert_eq!(
            (c.queue.overflow, c.queue.capacity),
            (Overflow::Drop, 1 << 20)
        );
        assert_eq!(from_vars(&[]).unwrap().queue, QueueConfig::default());
        assert_eq!(from_vars(&[]).unwrap().max_value_bytes.bytes(), 16384);
        let c = from_vars(&[("DYN_LOG_MAX_VALUE_BYTES", " 100 ")]).unwrap();
        assert_eq!(c.max_value_bytes, ValueLimit::new(100));
        let c = from_vars(&[("NO_COLOR", "")]).unwrap();
        assert_eq!(c.color, ColorMode::Auto, "an empty NO_COLOR is ignored");
    }

    #[test]
    fn env_errors_name_the_variable() {
        let cases = [
            (
                ("DYN_LOGGING_JSONL", "maybe"),
                "DYN_LOGGING_JSONL: \"maybe\": expected one of",
            ),
            (
                ("DYN_LOG_STREAM", "stdlog"),
                "DYN_LOG_STREAM: \"stdlog\": expected stderr or stdout",
            ),
            (
                ("DYN_LOG_OVERFLOW", "lose"),
                "DYN_LOG_OVERFLOW: \"lose\": expected block or drop",
            ),
            (
                ("DYN_LOG_BUFFER_BYTES", "1024"),
                "DYN_LOG_BUFFER_BYTES: \"1024\": expected a number of bytes from 65536 (64 KiB) to 1073741824 (1 GiB)",
            ),
            (
                ("DYN_LOG_BUFFER_BYTES", "lots"),
                "DYN_LOG_BUFFER_BYTES: \"lots\": expected a number of bytes",
            ),
            (
                ("DYN_LOG_BUFFER_BYTES", "18446744073709551615"),
                "DYN_LOG_BUFFER_BYTES: \"18446744073709551615\": expected a number of bytes from 65536",
            ),
            (
                ("DYN_LOG_BUFFER_BYTES", "1073741825"),
                "DYN_LOG_BUFFER_BYTES: \"1073741825\": expected a number of bytes from 65536",
            ),
            (
                ("DYN_LOG_MAX_VALUE_BYTES", "-1"),
                "DYN_LOG_MAX_VALUE_BYTES: \"-1\": expected a number of bytes (0 for no limit)",
            ),
            (
                ("DYN_LOG_COLOR", "sometimes"),
                "DYN_LOG_COLOR: \"sometimes\": expected auto, always or never",
            ),
            (
                ("DYN_LOG", "info,foo=loud"),
                "DYN_LOG: \"foo=loud\": unknown level",
            ),
            (
                ("DYN_LOGGING_SPAN_EVENTS", "yes please"),
                "DYN_LOGGING_SPAN_EVENTS: \"yes please\"",
            ),
            (
                ("DYN_LOGGING_CONFIG_PATH", "/nonexistent/tracewire.toml"),
                "DYN_LOGGING_CONFIG_PATH: cannot read \"/nonexistent/tracewire.toml\"",
            ),
        ];
        for ((name, value), want) in cases {
            let err = from_vars(&[(name, value)]).expect_err(name);
            assert!(err.starts_with(want), "{name}={value:?} gave {err:?}");
            assert!(!err.contains('\n'), "one line: {err:?}");
        }
    }

    fn from_toml(text: &str) -> Result<LoggingConfig, String> {
        LoggingConfig::from_toml("cfg.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn toml_files() {
        let c = from_toml(
            r#"
log_level = "debug"
jsonl = true
local_tz = false
span_events = false
stream = "stdout"
color = "never"
redact = ["password", "api_key"]
overflow = "drop"
buffer_bytes = 131072
max_value_bytes = 0

[log_filters]
"h2" = "error"
"tracewire_runtime::http" = "TRACE"

[file]
path = "logs/frontend.jsonl"
max_bytes = 1000
max_files = 2

[otlp]
enabled = false
endpoint = "http://127.0.0.1:4317"
protocol = "http/protobuf"
service_name = "frontend"
sampler = "parentbased_traceidratio"
sampler_arg = 0.5

[otlp.resource_attributes]
"deployment.environment" = "prod"
"#,
        )
        .unwrap();
        assert_eq!(c.format, Format::Jsonl);
        assert!(!c.span_events);
        assert_eq!((c.stream, c.color), (Stream::Stdout, ColorMode::Never));
        assert_eq!(c.redact, ["password", "api_key"]);
        assert_eq!(c.max_value_bytes, ValueLimit::NONE);
        assert_eq!(
            (c.queue.overflow, c.queue.capacity),
            (Overflow::Drop, 131_072)
        );
        assert_eq!(c.otlp.traces_url(), "http://127.0.0.1:4317/v1/traces");
        assert_eq!(c.otlp.service_name.as_deref(), Some("frontend"));
        assert_eq!(
            c.otlp.sampler,
            crate::otlp::SamplerConfig::ParentBased(crate::otlp::ParentBasedRoot::TraceIdRatio(
                0.5
            ))
        );
        assert_eq!(
            c.otlp.resource_attributes,
            [("deployment.environment".to_owned(), "prod".to_owned())]
        );
        assert_eq!(
            c.file.as_ref().map(|f| (f.max_bytes, f.max_files)),
            Some((1000, 2))
        );
        let d: Vec<_> = c.filter.directives().collect();
        assert!(
            d.contains(&"debug")
                && d.contains(&"h2=error")
                && d.contains(&"tracewire_runtime::http=trace"),
            "{d:?}"
        );
        assert!(!d.contains(&"info") && !d.contains(&"h2=warn"), "{d:?}");

        assert_eq!(
            from_toml("").unwrap(),
            LoggingConfig::default(),
            "an empty file changes nothing"
        );
        let c = from_toml("jsonl = \"yes\"\nlocal_tz = \"On\"\nspan_events = \"0\"\n").unwrap();
        assert_eq!(
            (c.format, c.time_zone, c.span_events),
            (Format::Jsonl, TimeZone::Local, false),
            "the strings of the environment's booleans work in the file too"
        );
        assert_eq!(
            from_toml("buffer_bytes = 2147483648\n").unwrap_err(),
            "cfg.toml:1: \"2147483648\": expected a number of bytes from 65536 (64 KiB) to 1073741824 (1 GiB)"
        );
    }

    #[test]
    fn toml_errors_name_file_and_line() {
        let cases = [
            (
                "jsonl = true\nlog_levle = \"info\"\n",
                "cfg.toml:2: unknown field `log_levle`",
                "unknown key",
            ),
            (
                "jsonl = \"maybe\"\n",
                "cfg.toml:1: \"maybe\": expected one of 1, true, yes, on, 0, false, no, off",
                "a string that is not a boolean",
            ),
            (
                "\nspan_events = 1\n",
                "cfg.toml:2: invalid type: integer `1`, expected a boolean (true, false, or one of",
                "a number is not a boolean in TOML",
            ),
            (
                "\n\nlog_level = \"loud\"\n",
                "cfg.toml:3: \"loud\": log_level: expected one of",
                "bad level",
            ),
            (
                "[log_filters]\nh2 = \"error\"\nhyper = \"noisy\"\n",
                "cfg.toml:3: \"hyper=noisy\": unknown level \"noisy\"",
                "bad filter level",
            ),
            (
                "stream = \"stdin\"\n",
                "cfg.toml:1: \"stdin\": expected stderr or stdout",
                "bad stream",
            ),
            (
                "[file]\nmax_bytes = 10\n",
                "cfg.toml:1: missing field `path`",
                "file without path",
            ),
            (
                "[file]\npath = \"x.log\"\nmax_bytes = 0\n",
                "cfg.toml:2: \"0\": [file] max_bytes must be at least 1",
                "zero size",
            ),
            (
                "[otlp]\nenabeld = true\n",
                "cfg.toml:2: unknown field `enabeld`",
                "unknown key in a table",
            ),
            (
                "[otlp]\nenabled = true\n\nprotocol = \"udp\"\n",
                "cfg.toml:4: \"udp\": expected grpc or http/protobuf",
                "bad OTLP protocol",
            ),
            (
                "[otlp]\nsampler = \"traceidratio\"\nsampler_arg = 3.0\n",
                "cfg.toml:2: \"3\": expected a ratio from 0 to 1",
                "bad sampler ratio",
            ),
            ("jsonl = tru\n", "cfg.toml:1: ", "not TOML"),
        ];
        for (text, want, reason) in cases {
            let err = from_toml(text).expect_err(reason);
            assert!(err.starts_with(want), "{reason}: {err:?}");
            assert!(!err.contains('\n'), "{reason}: one line: {err:?}");
        }
    }

    #[test]
    fn environment_overrides_the_file_key_by_key() {
        let dir = std::env::temp_dir().join(format!("tracewire-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(
            &path,
            "jsonl = true\nlog_level = \"debug\"\n[log_filters]\nh2 = \"trace\"\n",
        )
        .unwrap();
        let p = path.to_str().unwrap();
        let c = from_vars(&[("DYN_LOGGING_CONFIG_PATH", p), ("DYN_LOG", "warn")]).unwrap();
        assert_eq!(
            c.format,
            Format::Jsonl,
            "the file's key stays when the environment is silent"
        );
        let d: Vec<_> = c.filter.directives().collect();
        assert!(
            d.contains(&"warn") && !d.contains(&"debug") && d.contains(&"h2=trace"),
            "{d:?}"
        );
        let c = from_vars(&[("DYN_LOGGING_CONFIG_PATH", p), ("DYN_LOGGING_JSONL", "0")]).unwrap();
        assert_eq!(c.format, Format::Readable);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn request_scoped_logging_from_file_and_environment() {
        use crate::logging::{CaptureConfig, ScopeConfig};
        use tracing::Level;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/");
        let sample = format!("{root}request-scoped.toml");
        let c = from_vars(&[("DYN_LOGGING_CONFIG_PATH", &sample)]).unwrap();
        assert_eq!(
            c.scope,
            ScopeConfig {
                request_level: Some(Level::DEBUG),
                capture: Some(CaptureConfig::at(Level::DEBUG)),
                rate_limit: Some(200),
            }
        );
        let c = from_vars(&[
            ("DYN_LOGGING_CONFIG_PATH", &sample),
            ("DYN_LOG_REQUEST_LEVEL", "TRACE"),
            ("DYN_LOG_CAPTURE", "info"),
            ("DYN_LOG_RATE_LIMIT", "0"),
        ])
        .unwrap();
        assert_eq!(
            c.scope,
            ScopeConfig {
                request_level: Some(Level::TRACE),
                capture: Some(CaptureConfig::at(Level::INFO)),
                rate_limit: None,
            },
            "the environment wins key by key; the file's limits stay"
        );
        let c = from_vars(&[
            ("DYN_LOGGING_CONFIG_PATH", &sample),
            ("DYN_LOG_CAPTURE", "off"),
        ])
        .unwrap();
        assert_eq!(c.scope.capture, None);
        assert_eq!(
            from_vars(&[]).unwrap().scope,
            ScopeConfig::default(),
            "all off by default"
        );
        for (var, value, want) in [
            (
                "DYN_LOG_REQUEST_LEVEL",
                "verbose",
                "DYN_LOG_REQUEST_LEVEL: \"verbose\": expected one of error, warn, info, debug, trace, off",
            ),
            (
                "DYN_LOG_CAPTURE",
                "1",
                "DYN_LOG_CAPTURE: \"1\": expected one of error, warn, info, debug, trace, off",
            ),
            (
                "DYN_LOG_RATE_LIMIT",
                "-5",
                "DYN_LOG_RATE_LIMIT: \"-5\": expected lines a second from 1 to 1000000000 (0 for no limit)",
            ),
        ] {
            assert_eq!(from_vars(&[(var, value)]).unwrap_err(), want);
        }
        let bad = format!("{root}invalid-capture.toml");
        let err = from_vars(&[("DYN_LOGGING_CONFIG_PATH", &bad)]).unwrap_err();
        assert!(
            err.ends_with("invalid-capture.toml:4: \"0\": [capture] max_lines: expected a number from 1 to 1048576"),
            "{err}"
        );
        let err = from_toml("[capture]\nmax_lines = 3\n").unwrap_err();
        assert!(err.contains("missing field `level`"), "{err}");
    }
}
