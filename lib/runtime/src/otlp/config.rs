//! OTLP export settings: the values of the standard `OTEL_*` variables and the TOML `[otlp]`
//! table, and the value types they are parsed into. Their rows are in `logging::SETTINGS`; the
//! table a reader sees is `docs/configuration.md` ("OTLP export"). Each
//! `OTEL_EXPORTER_OTLP_*` transport setting has a `_TRACES_` and a `_LOGS_` variant that
//! overrides it for one signal ([`OtlpConfig::resolve`]); a signal's endpoint is used as is.

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

use serde::Deserialize;

pub use crate::settings::FileSetting;
use crate::{
    settings::{keyword, number_in, percent_decode, Rejected},
    tls::TlsFiles,
};

/// The wire protocol to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    #[default]
    Grpc,
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
}

/// Which traces are recorded and exported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SamplerConfig {
    /// Every trace.
    AlwaysOn,
    /// None.
    AlwaysOff,
    /// This fraction of traces, by trace id.
    TraceIdRatio(f64),
    /// The remote or local parent's decision; for a root, the inner sampler's.
    ParentBased(ParentBasedRoot),
}

/// The root sampler of a parent-based one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParentBasedRoot {
    /// Sample every root.
    AlwaysOn,
    /// Sample no root.
    AlwaysOff,
    /// Sample this fraction of roots.
    TraceIdRatio(f64),
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig::ParentBased(ParentBasedRoot::AlwaysOn)
    }
}

/// Headers sent with every export (an API key, say). Their values are secrets: `Debug` shows
/// the names only, and no error message repeats a value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// The headers, in the order given.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "[REDACTED]")))
            .finish()
    }
}

/// How spans or log records reach the collector. In [`OtlpConfig::base`] these are the
/// `OTEL_EXPORTER_OTLP_*` settings; in [`OtlpConfig::traces`] and [`OtlpConfig::logs`], the
/// per-signal ones that override them. `None` is "not set here".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transport {
    /// The endpoint: a base URL in `base`, the signal's URL as is in a signal's.
    pub endpoint: Option<String>,
    /// gRPC or HTTP.
    pub protocol: Option<OtlpProtocol>,
    /// Headers sent with every export (a signal's replace the base ones).
    pub headers: Option<Headers>,
    /// How long one export attempt may take.
    pub timeout: Option<Duration>,
    /// The CA certificates that verify the collector, instead of the system's roots.
    pub certificate: Option<FileSetting>,
    /// The client certificate chain, for mTLS.
    pub client_certificate: Option<FileSetting>,
    /// The client certificate's private key.
    pub client_key: Option<FileSetting>,
}

/// The signals exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metrics.
    Metrics,
}

impl Signal {
    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
        }
    }
}

/// How often metrics are pushed when nothing says (the OpenTelemetry default).
pub const DEFAULT_METRIC_INTERVAL: Duration = Duration::from_secs(60);
/// The shortest and longest push intervals accepted, in milliseconds.
pub const METRIC_INTERVAL_MS: std::ops::RangeInclusive<u64> = 100..=86_400_000;

/// How long one export attempt may take when nothing says (the OpenTelemetry default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One signal's transport, every setting resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The URL exports go to.
    pub url: String,
    /// gRPC or HTTP.
    pub protocol: OtlpProtocol,
    /// Headers sent with every export.
    pub headers: Headers,
    /// How long one attempt may take.
    pub timeout: Duration,
    /// CA certificates, instead of the system's roots.
    pub certificate: Option<FileSetting>,
    /// Client certificate chain and key (mTLS).
    pub client_certificate: Option<FileSetting>,
    /// The key of the client certificate.
    pub client_key: Option<FileSetting>,
}

impl Resolved {
    /// The TLS files of this signal.
    pub fn tls_files(&self) -> TlsFiles {
        TlsFiles {
            ca: self.certificate.clone(),
            client_certificate: self.client_certificate.clone(),
            client_key: self.client_key.clone(),
        }
    }
}

/// Resolved OTLP settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OtlpConfig {
    /// Export spans.
    pub enabled: bool,
    /// Export log records.
    pub logs_enabled: bool,
    /// `OTEL_EXPORTER_OTLP_*`: both signals.
    pub base: Transport,
    /// `OTEL_EXPORTER_OTLP_TRACES_*`: spans.
    pub traces: Transport,
    /// `OTEL_EXPORTER_OTLP_LOGS_*`: log records.
    pub logs: Transport,
    /// Push metrics (`OTEL_METRICS_EXPORTER=otlp`).
    pub metrics_enabled: bool,
    /// `OTEL_EXPORTER_OTLP_METRICS_*`: metrics.
    pub metrics: Transport,
    /// How often metrics are pushed (`OTEL_METRIC_EXPORT_INTERVAL`); unset: every 60 s.
    pub metric_interval: Option<Duration>,
    /// `service.name`.
    pub service_name: Option<String>,
    /// Extra resource attributes.
    pub resource_attributes: Vec<(String, String)>,
    /// The sampler.
    pub sampler: SamplerConfig,
}

impl OtlpConfig {
    /// Whether anything is exported.
    pub fn active(&self) -> bool {
        self.enabled || self.logs_enabled || self.metrics_enabled
    }

    /// How often metrics are pushed.
    pub fn metric_interval(&self) -> Duration {
        self.metric_interval.unwrap_or(DEFAULT_METRIC_INTERVAL)
    }

    /// The URL spans are sent to.
    pub fn traces_url(&self) -> String {
        self.resolve(Signal::Traces).url
    }

    /// The URL log records are sent to.
    pub fn logs_url(&self) -> String {
        self.resolve(Signal::Logs).url
    }

    /// `signal`'s settings: its own, else the base ones, else the defaults.
    pub fn resolve(&self, signal: Signal) -> Resolved {
        let own = match signal {
            Signal::Traces => &self.traces,
            Signal::Logs => &self.logs,
            Signal::Metrics => &self.metrics,
        };
        let base = &self.base;
        let protocol = own.protocol.or(base.protocol).unwrap_or_default();
        let url = match (&own.endpoint, protocol, &base.endpoint) {
            (Some(url), _, _) => url.clone(),
            (None, OtlpProtocol::Grpc, Some(base)) => base.clone(),
            (None, OtlpProtocol::Grpc, None) => "http://localhost:4317".to_owned(),
            (None, OtlpProtocol::HttpProtobuf, base) => {
                let base = base.as_deref().unwrap_or("http://localhost:4318");
                format!("{}/v1/{}", base.trim_end_matches('/'), signal.path())
            }
        };
        let pick = |f: fn(&Transport) -> &Option<FileSetting>| f(own).clone().or(f(base).clone());
        Resolved {
            url,
            protocol,
            headers: own
                .headers
                .clone()
                .or(base.headers.clone())
                .unwrap_or_default(),
            timeout: own.timeout.or(base.timeout).unwrap_or(DEFAULT_TIMEOUT),
            certificate: pick(|t| &t.certificate),
            client_certificate: pick(|t| &t.client_certificate),
            client_key: pick(|t| &t.client_key),
        }
    }
}

impl FromStr for OtlpProtocol {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        if s.trim() == "http/json" {
            return Err(Rejected::new(
                s,
                "http/json is not supported; expected grpc or http/protobuf",
            ));
        }
        let words = [
            ("grpc", OtlpProtocol::Grpc),
            ("http/protobuf", OtlpProtocol::HttpProtobuf),
        ];
        keyword(s, &words, "expected grpc or http/protobuf")
    }
}

crate::setting_value!(OtlpProtocol, STRING, "a string");

impl FromStr for SamplerConfig {
    type Err = Rejected;
    /// A sampler's name; a ratio sampler samples every trace until [`with_ratio`](Self::with_ratio).
    fn from_str(s: &str) -> Result<Self, Rejected> {
        Ok(match s.trim() {
            "always_on" => SamplerConfig::AlwaysOn,
            "always_off" => SamplerConfig::AlwaysOff,
            "traceidratio" => SamplerConfig::TraceIdRatio(1.0),
            "parentbased_always_on" => SamplerConfig::ParentBased(ParentBasedRoot::AlwaysOn),
            "parentbased_always_off" => SamplerConfig::ParentBased(ParentBasedRoot::AlwaysOff),
            "parentbased_traceidratio" => {
                SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(1.0))
            }
            _ => return Err(Rejected::new(
                s,
                "expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
            )),
        })
    }
}

crate::setting_value!(SamplerConfig, STRING, "a string");

impl SamplerConfig {
    /// The same sampler with `ratio`, if it samples by ratio (`OTEL_TRACES_SAMPLER_ARG`).
    pub fn with_ratio(self, ratio: Ratio) -> Self {
        match self {
            SamplerConfig::TraceIdRatio(_) => SamplerConfig::TraceIdRatio(ratio.0),
            SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(_)) => {
                SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(ratio.0))
            }
            other => other,
        }
    }
}

/// A sampler's ratio, 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio(pub f64);

impl FromStr for Ratio {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        number_in(s, 0.0..=1.0, "expected a ratio from 0 to 1").map(Ratio)
    }
}

crate::setting_value!(Ratio, NUMBER, "a number");

/// The longest export attempt accepted: ten minutes.
pub const MAX_TIMEOUT_MS: u64 = 600_000;

/// `OTEL_METRICS_EXPORTER`: a comma-separated list of `otlp` (push over OTLP), `prometheus`
/// (the system server's `/metrics`, always served) and `none`; `true` when it names `otlp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsExporter(pub bool);

impl FromStr for MetricsExporter {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        let mut otlp = false;
        for name in s.split(',').map(str::trim) {
            match name {
                "otlp" => otlp = true,
                "prometheus" | "none" => {}
                "console" | "logging" => {
                    return Err(Rejected::new(
                        s,
                        format!("{name} is not supported; expected otlp, prometheus or none"),
                    ))
                }
                _ => {
                    return Err(Rejected::new(
                        s,
                        "expected otlp, prometheus or none (a comma-separated list)",
                    ))
                }
            }
        }
        Ok(MetricsExporter(otlp))
    }
}

crate::setting_value!(MetricsExporter, STRING, "a string");

/// `OTEL_METRIC_EXPORT_INTERVAL`: milliseconds between pushes, in [`METRIC_INTERVAL_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricInterval(pub Duration);

impl FromStr for MetricInterval {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        let (low, high) = (*METRIC_INTERVAL_MS.start(), *METRIC_INTERVAL_MS.end());
        number_in(
            s,
            METRIC_INTERVAL_MS,
            format!("expected milliseconds from {low} to {high}"),
        )
        .map(|ms| MetricInterval(Duration::from_millis(ms)))
    }
}

crate::setting_value!(MetricInterval, INTEGER, "milliseconds");

/// How long one export attempt may take, 1 ms to [`MAX_TIMEOUT_MS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl FromStr for Timeout {
    type Err = Rejected;
    fn from_str(s: &str) -> Result<Self, Rejected> {
        number_in(
            s,
            1..=MAX_TIMEOUT_MS,
            format!("expected milliseconds from 1 to {MAX_TIMEOUT_MS}"),
        )
        .map(|ms| Timeout(Duration::from_millis(ms)))
    }
}

crate::setting_value!(Timeout, INTEGER, "milliseconds");

/// One header, checked as HTTP and gRPC take it. `entry` names it in an error, which never
/// holds the value.
fn header(key: &str, value: String, entry: &str) -> Result<(String, String), Rejected> {
    let key = key.trim().to_ascii_lowercase();
    if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
        return Err(Rejected::secret(format!(
            "{entry}: {key:?} is not a header name (the value is not shown)"
        )));
    }
    if key.ends_with("-bin") || http::HeaderValue::from_str(&value).is_err() {
        return Err(Rejected::secret(format!(
            "{entry}: the value of {key:?} is not a valid header value (it is not shown)"
        )));
    }
    Ok((key, value))
}

impl FromStr for Headers {
    type Err = Rejected;
    /// `key1=value1,key2=value2` with percent-encoded values, as the OpenTelemetry spec writes
    /// it.
    fn from_str(value: &str) -> Result<Self, Rejected> {
        let mut headers = Vec::new();
        for (i, pair) in value.split(',').map(str::trim).enumerate() {
            if pair.is_empty() {
                continue;
            }
            let entry = format!("entry {}", i + 1);
            let Some((k, v)) = pair.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
                return Err(Rejected::secret(format!(
                    "{entry}: expected key=value (the entry is not shown)"
                )));
            };
            let Some(v) = percent_decode(v.trim()) else {
                return Err(Rejected::secret(format!(
                    "{entry}: bad percent-encoding in the value of {:?} (it is not shown)",
                    k.trim()
                )));
            };
            headers.push(header(k, v, &entry)?);
        }
        Ok(Headers(headers))
    }
}

impl<'de> Deserialize<'de> for Headers {
    /// A table of `header = "value"`. Read as any value first: a secret in a value of the
    /// wrong type must not reach serde's error.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        let fail = |reason: String| serde::de::Error::custom(Rejected::secret(reason));
        let Some(table) = value.as_table() else {
            return Err(fail(
                "expected a table of header = \"value\" (the value is not shown)".into(),
            ));
        };
        let mut headers = Vec::new();
        for (k, v) in table {
            let entry = format!("header {k:?}");
            let Some(v) = v.as_str() else {
                return Err(fail(format!(
                    "{entry}: expected a string (the value is not shown)"
                )));
            };
            headers.push(header(k, v.to_owned(), &entry).map_err(serde::de::Error::custom)?);
        }
        Ok(Headers(headers))
    }
}

/// Resource attributes: `key=value,...` with percent-encoded values in
/// `OTEL_RESOURCE_ATTRIBUTES`, a table in the file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes(pub Vec<(String, String)>);

impl FromStr for ResourceAttributes {
    type Err = Rejected;
    fn from_str(value: &str) -> Result<Self, Rejected> {
        value
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair
                    .split_once('=')
                    .filter(|(k, _)| !k.trim().is_empty())
                    .ok_or_else(|| Rejected::new(pair, "expected key=value"))?;
                let v = percent_decode(v.trim())
                    .ok_or_else(|| Rejected::new(pair, "bad percent-encoding"))?;
                Ok((k.trim().to_owned(), v))
            })
            .collect::<Result<_, _>>()
            .map(ResourceAttributes)
    }
}

impl<'de> Deserialize<'de> for ResourceAttributes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let table = BTreeMap::<String, String>::deserialize(d)?;
        Ok(ResourceAttributes(table.into_iter().collect()))
    }
}
