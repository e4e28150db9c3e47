//! The whole configuration ([`Config`]: the layer's and OTLP's) and [`SETTINGS`], its one
//! table: every variable and TOML key, with the setter that parses it into its field. Sources,
//! lowest first: the fields' defaults, the TOML file named by `DYN_LOGGING_CONFIG_PATH`, the
//! environment, key by key. `docs/configuration.md` lists the rows (a test holds it to them).
//!
//! Booleans accept `1 true yes on` and `0 false no off`, case-insensitive, trimmed; in the TOML
//! file a TOML boolean or one of those strings.

use std::{
    path::{Path, PathBuf},
    sync::LazyLock,
};

use crate::{
    otlp::{
        FileSetting, MetricInterval, MetricsExporter, OtlpConfig, Ratio, ResourceAttributes,
        Timeout, Transport,
    },
    settings::{
        self,
        env::{self, Lookup, OtlpVars},
        read_config_file, ConfigError, Flag, Input, Secret, Setting, TomlSource,
    },
    subscriber::{
        directives::{self, Directive},
        CaptureConfig, ColorMode, FileOutput, LoggingConfig, Verbosity, MAX_CAPTURE_BYTES,
        MAX_CAPTURE_LINES, MAX_RATE,
    },
    trace::ValueLimit,
};

/// Everything logging is configured with: the layer and its outputs, and OTLP export.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// The layer, its filter, formats and outputs.
    pub logging: LoggingConfig,
    /// OTLP export.
    pub otlp: OtlpConfig,
    /// The file's `log_level` and `[log_filters]`: one source of directives, laid over the
    /// built-in ones as a whole before the environment's.
    file_filter: Vec<Directive>,
}

impl Config {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&env::process_env)
    }

    /// Reads the variables through `lookup` (and the file `DYN_LOGGING_CONFIG_PATH` names).
    ///
    /// ```
    /// use tracewire_runtime::logging::{Config, Format};
    /// let vars = |name: &str| (name == "DYN_LOGGING_JSONL").then(|| "yes".to_owned());
    /// let config = Config::from_lookup(&vars).unwrap();
    /// assert_eq!(config.logging.format, Format::Jsonl);
    /// assert!(config.logging.span_events(), "on by default with JSONL");
    /// ```
    pub fn from_lookup(lookup: Lookup<'_>) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        if let Some(path) = lookup(env::DYN_LOGGING_CONFIG_PATH).filter(|p| !p.trim().is_empty()) {
            let path = PathBuf::from(path);
            let text = read_config_file(&path)?;
            config.apply_file(&path, &text)?;
        }
        settings::apply_env(&SETTINGS, &mut config, lookup)?;
        Ok(config)
    }

    /// Parses TOML text as if it were the file at `path`, with no environment on top.
    pub fn from_toml(path: impl Into<PathBuf>, text: &str) -> Result<Self, ConfigError> {
        let mut config = Config::default();
        config.apply_file(&path.into(), text)?;
        Ok(config)
    }

    fn apply_file(&mut self, path: &Path, text: &str) -> Result<(), ConfigError> {
        settings::apply_file(&SETTINGS, self, &TomlSource::new(path, text))?;
        let file = std::mem::take(&mut self.file_filter);
        self.logging.filter = std::mem::take(&mut self.logging.filter).overlay(file);
        Ok(())
    }
}

/// Every setting of [`Config`], in the order they are applied within a source.
pub static SETTINGS: LazyLock<Vec<Setting<Config>>> = LazyLock::new(|| {
    use env::*;
    let mut rows = vec![
        Setting::file("log_level", |c: &mut Config, v| {
            let level = directives::parse_level(v.text()?).ok_or_else(|| {
                let accepted = "log_level: expected one of error, warn, info, debug, trace, off";
                settings::Rejected::new(v.text().unwrap_or_default(), accepted)
                    .at(v.origin().clone())
            })?;
            c.file_filter.push(Directive::default_level(level));
            Ok(())
        }),
        Setting::file("log_filters.*", |c: &mut Config, v| {
            let directive = directives::parse_target_level(v.name(), v.text()?, v.origin())?;
            c.file_filter.push(directive);
            Ok(())
        }),
        Setting::env(DYN_LOG, |c: &mut Config, v| {
            let parsed = directives::parse_directives(v.text()?, v.origin())?;
            c.logging.filter = std::mem::take(&mut c.logging.filter).overlay(parsed);
            Ok(())
        }),
        Setting::both(DYN_LOGGING_JSONL, "jsonl", |c: &mut Config, v| {
            v.set(&mut c.logging.format)
        }),
        Setting::both(DYN_LOG_USE_LOCAL_TZ, "local_tz", |c: &mut Config, v| {
            v.set(&mut c.logging.time_zone)
        }),
        Setting::both(
            DYN_LOGGING_SPAN_EVENTS,
            "span_events",
            |c: &mut Config, v| {
                c.logging.span_events = Some(v.parse::<Flag>()?.0);
                Ok(())
            },
        ),
        Setting::both(DYN_LOG_STREAM, "stream", |c: &mut Config, v| {
            v.set(&mut c.logging.stream)
        }),
        // Before DYN_LOG_COLOR, which wins when both are set (no-color.org).
        Setting::env(NO_COLOR, |c: &mut Config, v| {
            if !v.text()?.is_empty() {
                c.logging.color = ColorMode::Never;
            }
            Ok(())
        }),
        Setting::both(DYN_LOG_COLOR, "color", |c: &mut Config, v| {
            v.set(&mut c.logging.color)
        }),
        Setting::file("redact", |c: &mut Config, v| {
            c.logging.redact = v.parse_toml()?;
            Ok(())
        }),
        Setting::both(DYN_LOG_OVERFLOW, "overflow", |c: &mut Config, v| {
            v.set(&mut c.logging.queue.overflow)
        }),
        // At least 64 KiB (a line of a few KiB must fit with room to spare), at most 1 GiB (the
        // queue is held in memory, twice over while it is written out).
        Setting::both(DYN_LOG_BUFFER_BYTES, "buffer_bytes", |c: &mut Config, v| {
            let accepted = "expected a number of bytes from 65536 (64 KiB) to 1073741824 (1 GiB)";
            c.logging.queue.capacity = v.number(64 << 10..=1 << 30, accepted)?;
            Ok(())
        }),
        Setting::both(
            DYN_LOG_MAX_VALUE_BYTES,
            "max_value_bytes",
            |c: &mut Config, v| {
                let bytes = v.number(
                    0..=usize::MAX,
                    "expected a number of bytes (0 for no limit)",
                )?;
                c.logging.max_value_bytes = ValueLimit::new(bytes);
                Ok(())
            },
        ),
        Setting::file("file.path", |c: &mut Config, v| {
            let path = v.text()?;
            if path.trim().is_empty() {
                let reason = "[file] path must not be empty";
                return Err(settings::Rejected::new(path, reason).at(v.origin().clone()));
            }
            c.logging.file = Some(FileOutput {
                path: PathBuf::from(path),
                ..FileOutput::default()
            });
            Ok(())
        })
        .required(),
        Setting::file("file.max_bytes", |c: &mut Config, v| {
            let bytes = v.number(1..=u64::MAX, "[file] max_bytes must be at least 1")?;
            if let Some(file) = &mut c.logging.file {
                file.max_bytes = bytes;
            }
            Ok(())
        }),
        Setting::file("file.max_files", |c: &mut Config, v| {
            let files = v.parse_toml()?;
            if let Some(file) = &mut c.logging.file {
                file.max_files = files;
            }
            Ok(())
        }),
        Setting::both(
            DYN_LOG_REQUEST_LEVEL,
            "request_level",
            |c: &mut Config, v| {
                c.logging.scope.request_level = v.parse::<Verbosity>()?.0;
                Ok(())
            },
        ),
        // The level first: the limits below apply to a capture that is on, and an environment
        // that turns it on keeps the file's limits.
        Setting::both(DYN_LOG_CAPTURE, "capture.level", |c: &mut Config, v| {
            let capture = &mut c.logging.scope.capture;
            *capture = match (v.parse::<Verbosity>()?.0, *capture) {
                (None, _) => None,
                (Some(level), Some(held)) => Some(CaptureConfig { level, ..held }),
                (Some(level), None) => Some(CaptureConfig::at(level)),
            };
            Ok(())
        })
        .required(),
        Setting::both(
            DYN_LOG_CAPTURE_MAX_LINES,
            "capture.max_lines",
            capture_limit("max_lines", MAX_CAPTURE_LINES, |c| &mut c.max_lines),
        ),
        Setting::file(
            "capture.max_bytes",
            capture_limit("max_bytes", MAX_CAPTURE_BYTES, |c| &mut c.max_bytes),
        ),
        Setting::file(
            "capture.total_bytes",
            capture_limit("total_bytes", MAX_CAPTURE_BYTES, |c| &mut c.total_bytes),
        ),
        Setting::both(
            DYN_LOG_RATE_LIMIT,
            "rate_limit.per_callsite_per_s",
            |c: &mut Config, v| {
                let accepted =
                    format!("expected lines a second from 1 to {MAX_RATE} (0 for no limit)");
                let rate = v.number(0..=MAX_RATE, accepted)?;
                c.logging.scope.rate_limit = (rate > 0).then_some(rate);
                Ok(())
            },
        )
        .required(),
        Setting::both(DYN_LOG_CLIENT_LEVEL, "client_level", |c: &mut Config, v| {
            c.logging.scope.client_level = v.parse::<Verbosity>()?.0;
            Ok(())
        }),
        Setting::env(DYN_LOG_CLIENT_TOKEN, |c: &mut Config, v| {
            c.logging.scope.client_token = Secret::new(v.text()?);
            Ok(())
        }),
        Setting::file("client_logs.max_lines", |c: &mut Config, v| {
            let accepted =
                format!("[client_logs] max_lines: expected a number from 1 to {MAX_CAPTURE_LINES}");
            c.logging.scope.client_logs.max_lines = v.number(1..=MAX_CAPTURE_LINES, accepted)?;
            Ok(())
        }),
        Setting::file("client_logs.max_bytes", |c: &mut Config, v| {
            let accepted =
                format!("[client_logs] max_bytes: expected a number from 1 to {MAX_CAPTURE_BYTES}");
            c.logging.scope.client_logs.max_bytes = v.number(1..=MAX_CAPTURE_BYTES, accepted)?;
            Ok(())
        }),
        Setting::both(OTEL_EXPORT_ENABLED, "otlp.enabled", |c: &mut Config, v| {
            c.otlp.enabled = v.parse::<Flag>()?.0;
            Ok(())
        }),
        Setting::both(
            OTEL_EXPORT_LOGS_ENABLED,
            "otlp.logs_enabled",
            |c: &mut Config, v| {
                c.otlp.logs_enabled = v.parse::<Flag>()?.0;
                Ok(())
            },
        ),
    ];
    rows.extend(transport_rows(OTLP, "", |o| &mut o.base));
    rows.extend(transport_rows(OTLP_TRACES, "traces_", |o| &mut o.traces));
    rows.extend(transport_rows(OTLP_LOGS, "logs_", |o| &mut o.logs));
    rows.extend(transport_rows(OTLP_METRICS, "metrics_", |o| &mut o.metrics));
    rows.extend([
        Setting::both(
            OTEL_METRICS_EXPORTER,
            "otlp.metrics_exporter",
            |c: &mut Config, v| {
                c.otlp.metrics_enabled = v.parse::<MetricsExporter>()?.0;
                Ok(())
            },
        )
        .blank_is_unset(),
        Setting::both(
            OTEL_METRIC_EXPORT_INTERVAL,
            "otlp.metric_export_interval",
            |c: &mut Config, v| {
                c.otlp.metric_interval = Some(v.parse::<MetricInterval>()?.0);
                Ok(())
            },
        )
        .blank_is_unset(),
        Setting::both(
            OTEL_SERVICE_NAME,
            "otlp.service_name",
            |c: &mut Config, v| {
                c.otlp.service_name = Some(v.text()?.trim().to_owned());
                Ok(())
            },
        )
        .blank_is_unset(),
        Setting::both(
            OTEL_RESOURCE_ATTRIBUTES,
            "otlp.resource_attributes",
            |c: &mut Config, v| {
                c.otlp
                    .resource_attributes
                    .extend(v.parse::<ResourceAttributes>()?.0);
                Ok(())
            },
        ),
        // The name first: a ratio sampler takes its argument from the row below.
        Setting::both(OTEL_TRACES_SAMPLER, "otlp.sampler", |c: &mut Config, v| {
            v.set(&mut c.otlp.sampler)
        }),
        Setting::both(
            OTEL_TRACES_SAMPLER_ARG,
            "otlp.sampler_arg",
            |c: &mut Config, v| {
                c.otlp.sampler = c.otlp.sampler.with_ratio(v.parse::<Ratio>()?);
                Ok(())
            },
        ),
        // Last: it turns off what any row above turned on.
        Setting::env(OTEL_SDK_DISABLED, |c: &mut Config, v| {
            if v.parse::<Flag>()?.0 {
                c.otlp.enabled = false;
                c.otlp.logs_enabled = false;
                c.otlp.metrics_enabled = false;
            }
            Ok(())
        }),
    ]);
    rows
});

/// The setter of a `[capture]` limit, 1 to `max`: checked whether or not capture is on, applied
/// to a capture that is (the level's row comes first).
fn capture_limit(
    key: &'static str,
    max: usize,
    slot: fn(&mut CaptureConfig) -> &mut usize,
) -> impl Fn(&mut Config, &Input<'_>) -> Result<(), ConfigError> + Send + Sync + 'static {
    move |c: &mut Config, v: &Input<'_>| {
        let accepted = format!("[capture] {key}: expected a number from 1 to {max}");
        let limit = v.number(1..=max, accepted)?;
        if let Some(capture) = &mut c.logging.scope.capture {
            *slot(capture) = limit;
        }
        Ok(())
    }
}

/// How one OTLP signal (or both, for the base variables) reaches the collector: the variables
/// of `vars` and the `[otlp]` keys starting with `prefix`, into the transport `pick` chooses.
fn transport_rows(
    vars: OtlpVars,
    prefix: &'static str,
    pick: fn(&mut OtlpConfig) -> &mut Transport,
) -> Vec<Setting<Config>> {
    let key = |name: &str| format!("otlp.{prefix}{name}");
    let file_setting = move |slot: fn(&mut Transport) -> &mut Option<FileSetting>| {
        move |c: &mut Config, v: &Input<'_>| {
            *slot(pick(&mut c.otlp)) = Some(FileSetting {
                path: PathBuf::from(v.text()?.trim()),
                origin: v.origin().clone(),
            });
            Ok(())
        }
    };
    vec![
        Setting::both(vars.endpoint, key("endpoint"), move |c: &mut Config, v| {
            pick(&mut c.otlp).endpoint = Some(v.text()?.trim().to_owned());
            Ok(())
        }),
        Setting::both(vars.protocol, key("protocol"), move |c: &mut Config, v| {
            v.set_some(&mut pick(&mut c.otlp).protocol)
        }),
        Setting::both(vars.headers, key("headers"), move |c: &mut Config, v| {
            v.set_some(&mut pick(&mut c.otlp).headers)
        }),
        Setting::both(vars.timeout, key("timeout"), move |c: &mut Config, v| {
            pick(&mut c.otlp).timeout = Some(v.parse::<Timeout>()?.0);
            Ok(())
        }),
        Setting::both(
            vars.certificate,
            key("certificate"),
            file_setting(|t| &mut t.certificate),
        ),
        Setting::both(
            vars.client_certificate,
            key("client_certificate"),
            file_setting(|t| &mut t.client_certificate),
        ),
        Setting::both(
            vars.client_key,
            key("client_key"),
            file_setting(|t| &mut t.client_key),
        ),
    ]
    .into_iter()
    .map(Setting::blank_is_unset)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        settings::Origin,
        subscriber::{Format, Overflow, QueueConfig, Stream, TimeZone},
    };
    use std::collections::HashMap;

    fn from_vars(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(&|name| map.get(name).cloned()).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_env() {
        let c = from_vars(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert!(!c.logging.span_events());

        let c = from_vars(&[("DYN_LOGGING_JSONL", "1")]).unwrap();
        assert_eq!(
            (c.logging.format, c.logging.span_events()),
            (Format::Jsonl, true)
        );

        let c = from_vars(&[
            ("DYN_LOGGING_JSONL", "true"),
            ("DYN_LOGGING_SPAN_EVENTS", "false"),
        ])
        .unwrap();
        assert!(
            !c.logging.span_events(),
            "span events can be turned off in JSONL"
        );

        let c = from_vars(&[("DYN_LOGGING_SPAN_EVENTS", "on")]).unwrap();
        assert!(
            c.logging.span_events() && c.logging.format == Format::Readable,
            "and on in readable mode"
        );

        let c = from_vars(&[
            ("DYN_LOG_STREAM", "stdout"),
            ("DYN_LOG_USE_LOCAL_TZ", "yes"),
            ("NO_COLOR", "1"),
        ])
        .unwrap();
        assert_eq!(
            (c.logging.stream, c.logging.time_zone, c.logging.color),
            (Stream::Stdout, TimeZone::Local, ColorMode::Never)
        );

        let c = from_vars(&[("NO_COLOR", "1"), ("DYN_LOG_COLOR", "always")]).unwrap();
        assert_eq!(
            c.logging.color,
            ColorMode::Always,
            "an explicit DYN_LOG_COLOR wins over NO_COLOR"
        );
        let c = from_vars(&[
            ("DYN_LOG_OVERFLOW", "DROP"),
            ("DYN_LOG_BUFFER_BYTES", "1048576"),
        ])
        .unwrap();
        assert_eq!(
            (c.logging.queue.overflow, c.logging.queue.capacity),
            (Overflow::Drop, 1 << 20)
        );
        assert_eq!(
            from_vars(&[]).unwrap().logging.queue,
            QueueConfig::default()
        );
        assert_eq!(
            from_vars(&[]).unwrap().logging.max_value_bytes.bytes(),
            16384
        );
        let c = from_vars(&[("DYN_LOG_MAX_VALUE_BYTES", " 100 ")]).unwrap();
        assert_eq!(c.logging.max_value_bytes, ValueLimit::new(100));
        let c = from_vars(&[("NO_COLOR", "")]).unwrap();
        assert_eq!(
            c.logging.color,
            ColorMode::Auto,
            "an empty NO_COLOR is ignored"
        );
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

    fn from_toml(text: &str) -> Result<Config, String> {
        Config::from_toml("cfg.toml", text).map_err(|e| e.to_string())
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
        assert_eq!(c.logging.format, Format::Jsonl);
        assert!(!c.logging.span_events());
        assert_eq!(
            (c.logging.stream, c.logging.color),
            (Stream::Stdout, ColorMode::Never)
        );
        assert_eq!(c.logging.redact, ["password", "api_key"]);
        assert_eq!(c.logging.max_value_bytes, ValueLimit::NONE);
        assert_eq!(
            (c.logging.queue.overflow, c.logging.queue.capacity),
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
            c.logging.file.as_ref().map(|f| (f.max_bytes, f.max_files)),
            Some((1000, 2))
        );
        let d: Vec<_> = c.logging.filter.directives().collect();
        assert!(
            d.contains(&"debug")
                && d.contains(&"h2=error")
                && d.contains(&"tracewire_runtime::http=trace"),
            "{d:?}"
        );
        assert!(!d.contains(&"info") && !d.contains(&"h2=warn"), "{d:?}");

        assert_eq!(
            from_toml("").unwrap(),
            Config::default(),
            "an empty file changes nothing"
        );
        let c = from_toml("jsonl = \"yes\"\nlocal_tz = \"On\"\nspan_events = \"0\"\n").unwrap();
        assert_eq!(
            (
                c.logging.format,
                c.logging.time_zone,
                c.logging.span_events()
            ),
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
                // The line of max_bytes (this said line 2, the path's, before the settings table).
                "cfg.toml:3: \"0\": [file] max_bytes must be at least 1",
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
                // The line of sampler_arg (this said line 2, the sampler's, before the table).
                "cfg.toml:3: \"3\": expected a ratio from 0 to 1",
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
            c.logging.format,
            Format::Jsonl,
            "the file's key stays when the environment is silent"
        );
        let d: Vec<_> = c.logging.filter.directives().collect();
        assert!(
            d.contains(&"warn") && !d.contains(&"debug") && d.contains(&"h2=trace"),
            "{d:?}"
        );
        let c = from_vars(&[("DYN_LOGGING_CONFIG_PATH", p), ("DYN_LOGGING_JSONL", "0")]).unwrap();
        assert_eq!(c.logging.format, Format::Readable);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn client_logs_from_file_and_environment() {
        use crate::{logging::ClientLogsLimits, settings::Secret};
        use tracing::Level;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/");
        let sample = format!("{root}client-logs.toml");
        let scope = |vars: &[(&str, &str)]| from_vars(vars).map(|c| c.logging.scope);
        let c = scope(&[("DYN_LOGGING_CONFIG_PATH", &sample)]).unwrap();
        assert_eq!(
            (c.client_level, c.client_logs, c.client_token),
            (
                Some(Level::DEBUG),
                ClientLogsLimits {
                    max_lines: 200,
                    max_bytes: 65536
                },
                None
            )
        );
        let c = scope(&[
            ("DYN_LOGGING_CONFIG_PATH", &sample),
            ("DYN_LOG_CLIENT_LEVEL", "INFO"),
            ("DYN_LOG_CLIENT_TOKEN", "s3cret"),
        ])
        .unwrap();
        assert_eq!(
            (
                c.client_level,
                c.client_logs.max_lines,
                c.client_token.clone()
            ),
            (Some(Level::INFO), 200, Secret::new("s3cret")),
            "the environment wins; the file's bounds stay"
        );
        assert!(!format!("{c:?}").contains("s3cret"), "never in Debug");
        let off = scope(&[]).unwrap();
        assert_eq!(
            (off.client_level, off.client_logs),
            (None, ClientLogsLimits::default()),
            "off by default, 1000 lines and 1 MiB"
        );
        assert_eq!(
            scope(&[("DYN_LOG_CLIENT_LEVEL", "loud")])
                .unwrap_err()
                .to_string(),
            "DYN_LOG_CLIENT_LEVEL: \"loud\": expected one of error, warn, info, debug, trace, off"
        );
        let err = from_toml("[client_logs]\nmax_lines = 0\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("\"0\": [client_logs] max_lines: expected a number from 1 to 100000"),
            "{err}"
        );
        let err = from_toml("[client_logs]\nmax_line = 3\n").unwrap_err();
        assert!(
            err.to_string().contains("max_line"),
            "an unknown key: {err}"
        );
    }

    #[test]
    fn request_scoped_logging_from_file_and_environment() {
        use crate::logging::{CaptureConfig, ScopeConfig};
        use tracing::Level;
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/");
        let sample = format!("{root}request-scoped.toml");
        let c = from_vars(&[("DYN_LOGGING_CONFIG_PATH", &sample)]).unwrap();
        assert_eq!(
            c.logging.scope,
            ScopeConfig {
                request_level: Some(Level::DEBUG),
                capture: Some(CaptureConfig::at(Level::DEBUG)),
                rate_limit: Some(200),
                ..ScopeConfig::default()
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
            c.logging.scope,
            ScopeConfig {
                request_level: Some(Level::TRACE),
                capture: Some(CaptureConfig::at(Level::INFO)),
                rate_limit: None,
                ..ScopeConfig::default()
            },
            "the environment wins key by key; the file's limits stay"
        );
        let c = from_vars(&[
            ("DYN_LOGGING_CONFIG_PATH", &sample),
            ("DYN_LOG_CAPTURE", "off"),
        ])
        .unwrap();
        assert_eq!(c.logging.scope.capture, None);
        assert_eq!(
            from_vars(&[]).unwrap().logging.scope,
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
            // SPEC §9: 1 to 100000 (1048576 before DYN_LOG_CAPTURE_MAX_LINES).
            err.ends_with("invalid-capture.toml:4: \"0\": [capture] max_lines: expected a number from 1 to 100000"),
            "{err}"
        );
        let err = from_toml("[capture]\nmax_lines = 3\n").unwrap_err();
        assert!(err.contains("missing field `level`"), "{err}");
    }

    #[test]
    fn dyn_log_capture_max_lines_overrides_the_files_max_lines() {
        use tracing::Level;
        let dir = std::env::temp_dir().join(format!("tracewire-maxlines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        // The limit before the level: a table's keys apply in the table's order, not the file's.
        std::fs::write(&path, "[capture]\nmax_lines = 10\nlevel = \"debug\"\n").unwrap();
        let p = path.to_str().unwrap();
        let capture = |vars: &[(&str, &str)]| from_vars(vars).map(|c| c.logging.scope.capture);
        let lines = |vars: &[(&str, &str)]| capture(vars).unwrap().map(|c| c.max_lines);
        assert_eq!(lines(&[("DYN_LOGGING_CONFIG_PATH", p)]), Some(10));
        let over = [
            ("DYN_LOGGING_CONFIG_PATH", p),
            ("DYN_LOG_CAPTURE_MAX_LINES", " 3 "),
        ];
        assert_eq!(lines(&over), Some(3));
        assert_eq!(
            capture(&[
                ("DYN_LOG_CAPTURE", "info"),
                ("DYN_LOG_CAPTURE_MAX_LINES", "100000")
            ])
            .unwrap(),
            Some(CaptureConfig {
                max_lines: 100_000,
                ..CaptureConfig::at(Level::INFO)
            })
        );
        assert_eq!(
            capture(&[("DYN_LOG_CAPTURE_MAX_LINES", "7")]).unwrap(),
            None,
            "a limit alone does not turn capture on"
        );
        for bad in ["0", "100001", "-1", "many"] {
            assert_eq!(
                capture(&[("DYN_LOG_CAPTURE_MAX_LINES", bad)]).unwrap_err(),
                format!("DYN_LOG_CAPTURE_MAX_LINES: {bad:?}: [capture] max_lines: expected a number from 1 to 100000"),
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn every_variable_of_the_table_is_in_env_all() {
        let vars: Vec<&str> = SETTINGS.iter().filter_map(|row| row.var).collect();
        for var in &vars {
            assert!(
                env::ALL.contains(var),
                "{var} is read but not in settings::env::ALL"
            );
        }
        assert!(
            vars.contains(&env::DYN_LOG_CAPTURE_MAX_LINES) && vars.len() >= 40,
            "{vars:?}"
        );
    }

    /// `docs/configuration.md` is the table a reader sees: each of its rows names a variable, a
    /// key or both, as the rows of `SETTINGS` (and the servers' variables) do.
    #[test]
    fn docs_configuration_md_lists_every_variable_and_key() {
        let doc = include_str!("../../../../docs/configuration.md");
        let cell = |c: &str| c.trim().trim_matches('`').to_owned();
        let documented: Vec<(String, String)> = doc
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| variable"))
            .map(|l| {
                let cells: Vec<&str> = l.split('|').collect();
                (cell(cells[1]), cell(cells[2]))
            })
            .collect();
        let read: Vec<(String, String)> = SETTINGS
            .iter()
            .map(|row| {
                let var = row.var.unwrap_or_default().to_owned();
                (var, row.key.clone().unwrap_or_default())
            })
            .collect();
        for row in &read {
            assert!(
                documented.contains(row),
                "{row:?} is read but not in docs/configuration.md"
            );
        }
        for var in env::ALL {
            assert!(
                documented.iter().any(|(v, _)| v == var),
                "{var} is not in docs/configuration.md"
            );
        }
        for row in &documented {
            let known = read.contains(row)
                || (row.1.is_empty()
                    && env::ALL.contains(&row.0.as_str())
                    && !read.iter().any(|r| r.0 == row.0));
            assert!(
                known,
                "docs/configuration.md lists {row:?}, which nothing reads"
            );
        }
    }

    mod otlp {
        use super::*;
        use crate::otlp::{OtlpProtocol, ParentBasedRoot, SamplerConfig, Signal, DEFAULT_TIMEOUT};
        use std::{path::PathBuf, time::Duration};

        fn from(vars: &[(&str, &str)]) -> Result<OtlpConfig, String> {
            from_vars(vars).map(|c| c.otlp)
        }

        #[test]
        fn variables() {
            let c = from(&[]).unwrap();
            assert!(!c.active());
            assert_eq!(c.traces_url(), "http://localhost:4317");
            assert_eq!(
                c.sampler,
                SamplerConfig::ParentBased(ParentBasedRoot::AlwaysOn)
            );

            let c = from(&[
                ("OTEL_EXPORT_ENABLED", "true"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ])
            .unwrap();
            assert!(c.enabled);
            assert_eq!(c.traces_url(), "http://collector:4318/v1/traces");
            assert_eq!(c.logs_url(), "http://collector:4318/v1/logs");
            let c = from(&[
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:2"),
            ])
            .unwrap();
            assert_eq!(c.traces_url(), "http://t:1/x");

            let c = from(&[
                ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ])
            .unwrap();
            assert_eq!(
                c.sampler,
                SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(0.25))
            );
            let c = from(&[(
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, team=a%20b",
            )])
            .unwrap();
            assert_eq!(
                c.resource_attributes,
                [
                    ("deployment.environment".into(), "prod".into()),
                    ("team".into(), "a b".into())
                ]
            );
            let c = from(&[("OTEL_EXPORT_ENABLED", "1"), ("OTEL_SDK_DISABLED", "true")]).unwrap();
            assert!(!c.active(), "OTEL_SDK_DISABLED wins");
        }

        #[test]
        fn per_signal_settings_override_the_base_ones() {
            let c = from(&[
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
                (
                    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
                    "https://logs:9999/ingest",
                ),
                (
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    "Authorization=Bearer%20abc, x-team = a",
                ),
                ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "api-key=k%3Dv"),
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
                ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"),
                ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem"),
                ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
            ])
            .unwrap();
            let traces = c.resolve(Signal::Traces);
            assert_eq!(traces.url, "https://collector:4318/v1/traces");
            assert_eq!(traces.protocol, OtlpProtocol::HttpProtobuf);
            assert_eq!(
                traces.headers.iter().collect::<Vec<_>>(),
                [("authorization", "Bearer abc"), ("x-team", "a")]
            );
            assert_eq!(traces.timeout, Duration::from_millis(700));
            assert_eq!(
                traces.certificate.as_ref().map(|f| (&f.path, &f.origin)),
                Some((
                    &PathBuf::from("/etc/ca.pem"),
                    &Origin::Env("OTEL_EXPORTER_OTLP_CERTIFICATE")
                ))
            );
            let logs = c.resolve(Signal::Logs);
            assert_eq!(
                logs.url, "https://logs:9999/ingest",
                "a signal's endpoint is used as is"
            );
            assert_eq!(logs.protocol, OtlpProtocol::Grpc);
            assert_eq!(
                logs.headers.iter().collect::<Vec<_>>(),
                [("api-key", "k=v")],
                "a signal's headers replace the base ones"
            );
            assert_eq!(logs.timeout, Duration::from_millis(2500));
            assert_eq!(
                from(&[]).unwrap().resolve(Signal::Logs).timeout,
                DEFAULT_TIMEOUT
            );
            // Debug shows header names, never values.
            let debug = format!("{c:?}");
            assert!(
                debug.contains("authorization") && !debug.contains("Bearer abc"),
                "{debug}"
            );
        }

        #[test]
        fn metrics_push_settings() {
            let c = from(&[]).unwrap();
            assert!(!c.metrics_enabled);
            assert_eq!(c.metric_interval(), Duration::from_secs(60));
            let c = from(&[
                ("OTEL_METRICS_EXPORTER", "prometheus, otlp"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "1500"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/"),
                ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-key=m"),
            ])
            .unwrap();
            assert!(c.metrics_enabled && c.active() && !c.enabled);
            assert_eq!(c.metric_interval(), Duration::from_millis(1500));
            let metrics = c.resolve(Signal::Metrics);
            assert_eq!(metrics.url, "https://collector:4318/v1/metrics");
            assert_eq!(metrics.headers.iter().collect::<Vec<_>>(), [("x-key", "m")]);
            let c = from(&[
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:4317"),
            ])
            .unwrap();
            assert_eq!(c.resolve(Signal::Metrics).url, "http://m:4317");
            assert_eq!(c.resolve(Signal::Traces).url, "http://localhost:4317");
            for off in ["none", "prometheus", ""] {
                let c = from(&[("OTEL_METRICS_EXPORTER", off)]).unwrap();
                assert!(!c.metrics_enabled, "{off:?}");
            }
            let c = from(&[
                ("OTEL_METRICS_EXPORTER", "otlp"),
                ("OTEL_SDK_DISABLED", "true"),
            ])
            .unwrap();
            assert!(!c.metrics_enabled, "OTEL_SDK_DISABLED wins");
            for (var, value, says) in [
                ("OTEL_METRICS_EXPORTER", "otlp,statsd", "OTEL_METRICS_EXPORTER: \"otlp,statsd\": expected otlp, prometheus or none"),
                ("OTEL_METRICS_EXPORTER", "console", "console is not supported"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "99", "OTEL_METRIC_EXPORT_INTERVAL: \"99\": expected milliseconds from 100 to 86400000"),
                ("OTEL_METRIC_EXPORT_INTERVAL", "-5", "expected milliseconds"),
                ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "0", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"),
            ] {
                let err = from(&[(var, value)]).unwrap_err();
                assert!(err.contains(says), "{var}={value}: {err}");
            }
            let text = "[otlp]\nmetrics_exporter = \"otlp\"\nmetric_export_interval = 250\nmetrics_endpoint = \"http://m:1\"\n";
            let c = Config::from_toml("otlp.toml", text).unwrap().otlp;
            assert!(c.metrics_enabled);
            assert_eq!(c.metric_interval(), Duration::from_millis(250));
            assert_eq!(c.resolve(Signal::Metrics).url, "http://m:1");
        }

        #[test]
        fn the_toml_table_has_the_same_keys() {
            let text = "[otlp]\nenabled = true\nendpoint = \"https://c:4317\"\nheaders = { authorization = \"Bearer k\" }\ntimeout = 3000\ncertificate = \"ca.pem\"\nlogs_endpoint = \"https://l:4317\"\nlogs_client_certificate = \"client.pem\"\nlogs_client_key = \"client.key\"\ntraces_timeout = 900\n";
            let c = Config::from_toml("otlp.toml", text).unwrap().otlp;
            let (traces, logs) = (c.resolve(Signal::Traces), c.resolve(Signal::Logs));
            assert_eq!(
                (traces.url.as_str(), logs.url.as_str()),
                ("https://c:4317", "https://l:4317")
            );
            assert_eq!(traces.timeout, Duration::from_millis(900));
            assert_eq!(logs.timeout, Duration::from_millis(3000));
            assert_eq!(
                logs.headers.iter().collect::<Vec<_>>(),
                [("authorization", "Bearer k")]
            );
            assert_eq!(
                logs.client_key.map(|f| f.origin.to_string()),
                Some("otlp.toml:9".to_owned())
            );
            assert_eq!(
                traces.certificate.map(|f| f.path),
                Some(PathBuf::from("ca.pem"))
            );
            assert!(traces.client_certificate.is_none());
        }

        #[test]
        fn a_bad_header_is_named_and_its_value_never_shown() {
            for (value, want) in [
                ("Bearer secret-1", "entry 1: expected key=value"),
                ("a=b,=secret-1", "entry 2: expected key=value"),
                (
                    "authorization=secret-1%zz",
                    "bad percent-encoding in the value of \"authorization\"",
                ),
                ("bad name=secret-1", "\"bad name\" is not a header name"),
                (
                    "authorization=secret-1%0A",
                    "the value of \"authorization\" is not a valid header value",
                ),
            ] {
                let err = from(&[("OTEL_EXPORTER_OTLP_HEADERS", value)]).unwrap_err();
                assert!(err.starts_with("OTEL_EXPORTER_OTLP_HEADERS: "), "{err}");
                assert!(err.contains(want), "{value}: {err}");
                assert!(!err.contains("secret-1"), "{err}");
            }
            for (text, want) in [
                (
                    "[otlp]\nheaders = \"Bearer secret-1\"\n",
                    "otlp.toml:2: expected a table",
                ),
                (
                    "[otlp]\nlogs_headers = { authorization = 7 }\n",
                    "otlp.toml:2: header \"authorization\": expected a string",
                ),
            ] {
                let err = Config::from_toml("otlp.toml", text)
                    .unwrap_err()
                    .to_string();
                assert!(err.starts_with(want), "{err}");
                assert!(!err.contains("secret-1"), "{err}");
            }
        }

        #[test]
        fn bad_values_name_the_variable() {
            let cases = [
                (
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
                    "OTEL_EXPORTER_OTLP_PROTOCOL: \"http/json\": http/json is not supported",
                ),
                (
                    ("OTEL_EXPORTER_OTLP_PROTOCOL", "udp"),
                    "expected grpc or http/protobuf",
                ),
                (
                    ("OTEL_TRACES_SAMPLER", "sometimes"),
                    "OTEL_TRACES_SAMPLER: \"sometimes\": expected always_on",
                ),
                (
                    ("OTEL_EXPORT_ENABLED", "yep"),
                    "OTEL_EXPORT_ENABLED: \"yep\"",
                ),
                (
                    ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
                    "OTEL_RESOURCE_ATTRIBUTES: \"novalue\": expected key=value",
                ),
                (
                    ("OTEL_RESOURCE_ATTRIBUTES", "a=%zz"),
                    "bad percent-encoding",
                ),
            ];
            for ((name, value), want) in cases {
                let err = from(&[(name, value)]).expect_err(name);
                assert!(err.contains(want), "{name}={value}: {err}");
            }
            let err = from(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
            ])
            .unwrap_err();
            assert!(
                err.starts_with("OTEL_TRACES_SAMPLER_ARG: \"1.5\": expected a ratio from 0 to 1"),
                "{err}"
            );
        }
    }
}
