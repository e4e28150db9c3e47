//! OTLP export settings: the standard `OTEL_*` variables over the TOML `[otlp]` table.
//!
//! | variable | TOML `[otlp]` key | meaning | default |
//! |---|---|---|---|
//! | `OTEL_EXPORT_ENABLED` | `enabled` | export spans (as in the reference system) | false |
//! | `OTEL_EXPORT_LOGS_ENABLED` | `logs_enabled` | also export log records | false |
//! | `OTEL_SDK_DISABLED` | | `true` turns all export off, whatever else says | false |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `protocol` | `grpc` or `http/protobuf` | `grpc` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `endpoint` | base URL; `/v1/traces` or `/v1/logs` is appended for HTTP | `http://localhost:4317` (grpc), `http://localhost:4318` (http) |
//! | `OTEL_EXPORTER_OTLP_HEADERS` | `headers` (table) | `key=value,...` (values percent-decoded) sent with every export; never logged | |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT` | `timeout` | milliseconds one export attempt may take | 10000 |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE` | `certificate` | PEM file of the CA(s) that verify an `https://` collector | the system's roots |
//! | `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` | `client_certificate` | PEM client certificate chain (mTLS) | |
//! | `OTEL_EXPORTER_OTLP_CLIENT_KEY` | `client_key` | PEM private key of that certificate | |
//! | `OTEL_SERVICE_NAME` | `service_name` | `service.name` | the executable's name |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `resource_attributes` (table) | `key=value,...` (values percent-decoded) | |
//! | `OTEL_TRACES_SAMPLER` | `sampler` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | `sampler_arg` | the ratio, 0 to 1 | 1 |
//!
//! Each `OTEL_EXPORTER_OTLP_*` setting but the sampler's has a `_TRACES_` and a `_LOGS_`
//! variant (`OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`, ...; TOML `traces_endpoint`, `logs_headers`, ...)
//! that overrides it for one signal; a signal's endpoint is used as is.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

use serde::Deserialize;

use crate::settings::{
    env::{self, Lookup, OtlpVars},
    parse_bool, parse_keyword, percent_decode, ConfigError, Origin, TomlBool, TomlSource,
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

/// A file path and where it was set, so that an unreadable file is an error naming both.
#[derive(Debug, Clone, PartialEq)]
pub struct FileSetting {
    /// The path as given.
    pub path: PathBuf,
    /// The variable or file:line that named it.
    pub origin: Origin,
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
}

impl Signal {
    fn path(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Logs => "logs",
        }
    }
}

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
        self.enabled || self.logs_enabled
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

/// The keys of the `[otlp]` table one signal (or the base) may set.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpSection {
    enabled: Option<toml::Spanned<TomlBool>>,
    logs_enabled: Option<toml::Spanned<TomlBool>>,
    protocol: Option<toml::Spanned<String>>,
    traces_protocol: Option<toml::Spanned<String>>,
    logs_protocol: Option<toml::Spanned<String>>,
    endpoint: Option<String>,
    traces_endpoint: Option<String>,
    logs_endpoint: Option<String>,
    // Read as any value: a secret in a value of the wrong type must not reach the error.
    headers: Option<toml::Spanned<toml::Value>>,
    traces_headers: Option<toml::Spanned<toml::Value>>,
    logs_headers: Option<toml::Spanned<toml::Value>>,
    timeout: Option<toml::Spanned<i64>>,
    traces_timeout: Option<toml::Spanned<i64>>,
    logs_timeout: Option<toml::Spanned<i64>>,
    certificate: Option<toml::Spanned<String>>,
    traces_certificate: Option<toml::Spanned<String>>,
    logs_certificate: Option<toml::Spanned<String>>,
    client_certificate: Option<toml::Spanned<String>>,
    traces_client_certificate: Option<toml::Spanned<String>>,
    logs_client_certificate: Option<toml::Spanned<String>>,
    client_key: Option<toml::Spanned<String>>,
    traces_client_key: Option<toml::Spanned<String>>,
    logs_client_key: Option<toml::Spanned<String>>,
    service_name: Option<String>,
    resource_attributes: BTreeMap<String, String>,
    sampler: Option<toml::Spanned<String>>,
    sampler_arg: Option<toml::Spanned<f64>>,
}

/// One signal's keys of the `[otlp]` table, taken out of it.
struct TransportKeys {
    protocol: Option<toml::Spanned<String>>,
    endpoint: Option<String>,
    headers: Option<toml::Spanned<toml::Value>>,
    timeout: Option<toml::Spanned<i64>>,
    certificate: Option<toml::Spanned<String>>,
    client_certificate: Option<toml::Spanned<String>>,
    client_key: Option<toml::Spanned<String>>,
}

impl Transport {
    fn apply_file(
        &mut self,
        keys: TransportKeys,
        file: &TomlSource<'_>,
    ) -> Result<(), ConfigError> {
        if let Some(p) = &keys.protocol {
            self.protocol = Some(parse_protocol(p.get_ref(), &file.at(p.span().start))?);
        }
        if let Some(e) = keys.endpoint {
            self.endpoint = Some(e);
        }
        if let Some(h) = &keys.headers {
            self.headers = Some(headers_from_toml(h.get_ref(), &file.at(h.span().start))?);
        }
        if let Some(t) = &keys.timeout {
            let origin = file.at(t.span().start);
            self.timeout = Some(parse_timeout(&t.get_ref().to_string(), &origin)?);
        }
        for (key, slot) in [
            (&keys.certificate, &mut self.certificate),
            (&keys.client_certificate, &mut self.client_certificate),
            (&keys.client_key, &mut self.client_key),
        ] {
            if let Some(path) = key {
                *slot = Some(FileSetting {
                    path: PathBuf::from(path.get_ref()),
                    origin: file.at(path.span().start),
                });
            }
        }
        Ok(())
    }

    fn apply_env(&mut self, vars: &OtlpVars, lookup: Lookup<'_>) -> Result<(), ConfigError> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = set(vars.protocol) {
            self.protocol = Some(parse_protocol(&v, &Origin::Env(vars.protocol))?);
        }
        if let Some(v) = set(vars.endpoint) {
            self.endpoint = Some(v.trim().to_owned());
        }
        if let Some(v) = set(vars.headers) {
            self.headers = Some(parse_headers(&v, &Origin::Env(vars.headers))?);
        }
        if let Some(v) = set(vars.timeout) {
            self.timeout = Some(parse_timeout(&v, &Origin::Env(vars.timeout))?);
        }
        for (name, slot) in [
            (vars.certificate, &mut self.certificate),
            (vars.client_certificate, &mut self.client_certificate),
            (vars.client_key, &mut self.client_key),
        ] {
            if let Some(v) = set(name) {
                *slot = Some(FileSetting {
                    path: PathBuf::from(v.trim()),
                    origin: Origin::Env(name),
                });
            }
        }
        Ok(())
    }
}

impl OtlpConfig {
    /// Applies the TOML table of `file`.
    pub fn apply_file(
        &mut self,
        section: OtlpSection,
        file: &TomlSource<'_>,
    ) -> Result<(), ConfigError> {
        let at = |offset| file.at(offset);
        if let Some(v) = &section.enabled {
            self.enabled = file.boolean(v)?;
        }
        if let Some(v) = &section.logs_enabled {
            self.logs_enabled = file.boolean(v)?;
        }
        self.base.apply_file(
            TransportKeys {
                protocol: section.protocol,
                endpoint: section.endpoint,
                headers: section.headers,
                timeout: section.timeout,
                certificate: section.certificate,
                client_certificate: section.client_certificate,
                client_key: section.client_key,
            },
            file,
        )?;
        self.traces.apply_file(
            TransportKeys {
                protocol: section.traces_protocol,
                endpoint: section.traces_endpoint,
                headers: section.traces_headers,
                timeout: section.traces_timeout,
                certificate: section.traces_certificate,
                client_certificate: section.traces_client_certificate,
                client_key: section.traces_client_key,
            },
            file,
        )?;
        self.logs.apply_file(
            TransportKeys {
                protocol: section.logs_protocol,
                endpoint: section.logs_endpoint,
                headers: section.logs_headers,
                timeout: section.logs_timeout,
                certificate: section.logs_certificate,
                client_certificate: section.logs_client_certificate,
                client_key: section.logs_client_key,
            },
            file,
        )?;
        self.service_name = section.service_name.or(self.service_name.take());
        self.resource_attributes.extend(section.resource_attributes);
        if let Some(name) = &section.sampler {
            let arg = section
                .sampler_arg
                .as_ref()
                .map(|a| a.get_ref().to_string());
            self.sampler = parse_sampler(name.get_ref(), arg.as_deref(), &at(name.span().start))?;
        }
        Ok(())
    }

    /// Applies the environment.
    pub fn apply_env(&mut self, lookup: Lookup<'_>) -> Result<(), ConfigError> {
        use env::*;
        let boolean = |name: &'static str| {
            lookup(name)
                .map(|v| parse_bool(&v, &Origin::Env(name)))
                .transpose()
        };
        if let Some(v) = boolean(OTEL_EXPORT_ENABLED)? {
            self.enabled = v;
        }
        if let Some(v) = boolean(OTEL_EXPORT_LOGS_ENABLED)? {
            self.logs_enabled = v;
        }
        self.base.apply_env(&OTLP, lookup)?;
        self.traces.apply_env(&OTLP_TRACES, lookup)?;
        self.logs.apply_env(&OTLP_LOGS, lookup)?;
        if let Some(v) = lookup(OTEL_SERVICE_NAME).filter(|v| !v.trim().is_empty()) {
            self.service_name = Some(v.trim().to_owned());
        }
        if let Some(v) = lookup(OTEL_RESOURCE_ATTRIBUTES) {
            self.resource_attributes
                .extend(parse_resource_attributes(&v)?);
        }
        if let Some(name) = lookup(OTEL_TRACES_SAMPLER) {
            let arg = lookup(OTEL_TRACES_SAMPLER_ARG);
            self.sampler = parse_sampler(&name, arg.as_deref(), &Origin::Env(OTEL_TRACES_SAMPLER))?;
        } else if let Some(arg) = lookup(OTEL_TRACES_SAMPLER_ARG) {
            // An argument alone re-parametrises the current ratio sampler.
            let ratio = parse_ratio(&arg, &Origin::Env(OTEL_TRACES_SAMPLER_ARG))?;
            self.sampler = match self.sampler {
                SamplerConfig::TraceIdRatio(_) => SamplerConfig::TraceIdRatio(ratio),
                SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(_)) => {
                    SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(ratio))
                }
                other => other,
            };
        }
        if boolean(OTEL_SDK_DISABLED)? == Some(true) {
            self.enabled = false;
            self.logs_enabled = false;
        }
        Ok(())
    }
}

/// The longest export attempt accepted: ten minutes.
const MAX_TIMEOUT_MS: u64 = 600_000;

fn parse_timeout(value: &str, origin: &Origin) -> Result<Duration, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(ms) if (1..=MAX_TIMEOUT_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError::invalid(
            origin.clone(),
            value,
            format!("expected milliseconds from 1 to {MAX_TIMEOUT_MS}"),
        )),
    }
}

/// One header, checked as HTTP and gRPC take it. `entry` names it in an error, which never
/// holds the value.
fn header(
    key: &str,
    value: String,
    entry: &str,
    origin: &Origin,
) -> Result<(String, String), ConfigError> {
    let secret = |reason: String| ConfigError::Secret {
        origin: origin.clone(),
        reason,
    };
    let key = key.trim().to_ascii_lowercase();
    if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
        return Err(secret(format!(
            "{entry}: {key:?} is not a header name (the value is not shown)"
        )));
    }
    if key.ends_with("-bin") || http::HeaderValue::from_str(&value).is_err() {
        return Err(secret(format!(
            "{entry}: the value of {key:?} is not a valid header value (it is not shown)"
        )));
    }
    Ok((key, value))
}

/// `key1=value1,key2=value2` with percent-encoded values, as the OpenTelemetry spec writes it.
fn parse_headers(value: &str, origin: &Origin) -> Result<Headers, ConfigError> {
    let mut headers = Vec::new();
    for (i, pair) in value.split(',').map(str::trim).enumerate() {
        if pair.is_empty() {
            continue;
        }
        let entry = format!("entry {}", i + 1);
        let Some((k, v)) = pair.split_once('=').filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(ConfigError::Secret {
                origin: origin.clone(),
                reason: format!("{entry}: expected key=value (the entry is not shown)"),
            });
        };
        let Some(v) = percent_decode(v.trim()) else {
            return Err(ConfigError::Secret {
                origin: origin.clone(),
                reason: format!(
                    "{entry}: bad percent-encoding in the value of {:?} (it is not shown)",
                    k.trim()
                ),
            });
        };
        headers.push(header(k, v, &entry, origin)?);
    }
    Ok(Headers(headers))
}

fn headers_from_toml(value: &toml::Value, origin: &Origin) -> Result<Headers, ConfigError> {
    let Some(table) = value.as_table() else {
        return Err(ConfigError::Secret {
            origin: origin.clone(),
            reason: "expected a table of header = \"value\" (the value is not shown)".into(),
        });
    };
    let mut headers = Vec::new();
    for (k, v) in table {
        let entry = format!("header {k:?}");
        let Some(v) = v.as_str() else {
            return Err(ConfigError::Secret {
                origin: origin.clone(),
                reason: format!("{entry}: expected a string (the value is not shown)"),
            });
        };
        headers.push(header(k, v.to_owned(), &entry, origin)?);
    }
    Ok(Headers(headers))
}

fn parse_protocol(value: &str, origin: &Origin) -> Result<OtlpProtocol, ConfigError> {
    if value.trim() == "http/json" {
        return Err(ConfigError::invalid(
            origin.clone(),
            value,
            "http/json is not supported; expected grpc or http/protobuf",
        ));
    }
    let words = [
        ("grpc", OtlpProtocol::Grpc),
        ("http/protobuf", OtlpProtocol::HttpProtobuf),
    ];
    parse_keyword(value, origin, &words, "expected grpc or http/protobuf")
}

fn parse_ratio(value: &str, origin: &Origin) -> Result<f64, ConfigError> {
    match value.trim().parse::<f64>() {
        Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
        _ => Err(ConfigError::invalid(
            origin.clone(),
            value,
            "expected a ratio from 0 to 1",
        )),
    }
}

fn parse_sampler(
    name: &str,
    arg: Option<&str>,
    origin: &Origin,
) -> Result<SamplerConfig, ConfigError> {
    let arg_origin = match origin {
        Origin::Env(_) => Origin::Env(env::OTEL_TRACES_SAMPLER_ARG),
        file => file.clone(),
    };
    let ratio = || arg.map_or(Ok(1.0), |a| parse_ratio(a, &arg_origin));
    Ok(match name.trim() {
        "always_on" => SamplerConfig::AlwaysOn,
        "always_off" => SamplerConfig::AlwaysOff,
        "traceidratio" => SamplerConfig::TraceIdRatio(ratio()?),
        "parentbased_always_on" => SamplerConfig::ParentBased(ParentBasedRoot::AlwaysOn),
        "parentbased_always_off" => SamplerConfig::ParentBased(ParentBasedRoot::AlwaysOff),
        "parentbased_traceidratio" => SamplerConfig::ParentBased(ParentBasedRoot::TraceIdRatio(ratio()?)),
        _ => {
            return Err(ConfigError::invalid(
                origin.clone(),
                name,
                "expected always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio",
            ))
        }
    })
}

/// `key1=value1,key2=value2` with percent-encoded values, as the OpenTelemetry spec writes it.
fn parse_resource_attributes(value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let origin = Origin::Env(env::OTEL_RESOURCE_ATTRIBUTES);
    value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .ok_or_else(|| ConfigError::invalid(origin.clone(), pair, "expected key=value"))?;
            let v = percent_decode(v.trim()).ok_or_else(|| {
                ConfigError::invalid(origin.clone(), pair, "bad percent-encoding")
            })?;
            Ok((k.trim().to_owned(), v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{collections::HashMap, path::Path};

    fn from(vars: &[(&str, &str)]) -> Result<OtlpConfig, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut c = OtlpConfig::default();
        c.apply_env(&|n| map.get(n).cloned())
            .map(|()| c)
            .map_err(|e| e.to_string())
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
    fn the_toml_table_has_the_same_keys() {
        let text = "[otlp]\nenabled = true\nendpoint = \"https://c:4317\"\nheaders = { authorization = \"Bearer k\" }\ntimeout = 3000\ncertificate = \"ca.pem\"\nlogs_endpoint = \"https://l:4317\"\nlogs_client_certificate = \"client.pem\"\nlogs_client_key = \"client.key\"\ntraces_timeout = 900\n";
        let source = TomlSource::new(Path::new("otlp.toml"), text);
        #[derive(serde::Deserialize)]
        struct Doc {
            otlp: OtlpSection,
        }
        let doc: Doc = source.parse().unwrap();
        let mut c = OtlpConfig::default();
        c.apply_file(doc.otlp, &source).unwrap();
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
        let file = Path::new("otlp.toml");
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
            let source = TomlSource::new(file, text);
            #[derive(serde::Deserialize)]
            struct Doc {
                otlp: OtlpSection,
            }
            let doc: Doc = source.parse().unwrap();
            let err = OtlpConfig::default()
                .apply_file(doc.otlp, &source)
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
