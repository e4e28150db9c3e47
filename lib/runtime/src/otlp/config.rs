//! OTLP export settings: the standard `OTEL_*` variables over the TOML `[otlp]` table.
//!
//! | variable | TOML `[otlp]` key | meaning | default |
//! |---|---|---|---|
//! | `OTEL_EXPORT_ENABLED` | `enabled` | export spans (as in the reference system) | false |
//! | `OTEL_SDK_DISABLED` | | `true` turns all export off, whatever else says | false |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL` | `protocol` | `grpc` or `http/protobuf` | `grpc` |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `endpoint` | base URL; `/v1/traces` is appended for HTTP | `http://localhost:4317` (grpc), `http://localhost:4318` (http) |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | `traces_endpoint` | the traces URL, used as is | |
//! | `OTEL_SERVICE_NAME` | `service_name` | `service.name` | the executable's name |
//! | `OTEL_RESOURCE_ATTRIBUTES` | `resource_attributes` (table) | `key=value,...` (values percent-decoded) | |
//! | `OTEL_TRACES_SAMPLER` | `sampler` | `always_on`, `always_off`, `traceidratio`, `parentbased_always_on`, `parentbased_always_off`, `parentbased_traceidratio` | `parentbased_always_on` |
//! | `OTEL_TRACES_SAMPLER_ARG` | `sampler_arg` | the ratio, 0 to 1 | 1 |
//! | `OTEL_EXPORT_LOGS_ENABLED` | `logs_enabled` | also export log records | false |

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::settings::{
    env::{self, Lookup},
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

/// Resolved OTLP settings. `None` fields take their defaults when the exporter is built.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OtlpConfig {
    /// Export spans.
    pub enabled: bool,
    /// Export log records.
    pub logs_enabled: bool,
    /// gRPC or HTTP.
    pub protocol: OtlpProtocol,
    /// Base endpoint.
    pub endpoint: Option<String>,
    /// Traces endpoint, used as is.
    pub traces_endpoint: Option<String>,
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
        self.signal_url("traces")
    }

    /// The URL log records are sent to.
    pub fn logs_url(&self) -> String {
        self.signal_url("logs")
    }

    fn signal_url(&self, signal: &str) -> String {
        if signal == "traces" {
            if let Some(url) = &self.traces_endpoint {
                return url.clone();
            }
        }
        match (self.protocol, &self.endpoint) {
            (OtlpProtocol::Grpc, Some(base)) => base.clone(),
            (OtlpProtocol::Grpc, None) => "http://localhost:4317".to_owned(),
            (OtlpProtocol::HttpProtobuf, base) => {
                let base = base.as_deref().unwrap_or("http://localhost:4318");
                format!("{}/v1/{signal}", base.trim_end_matches('/'))
            }
        }
    }
}

/// The TOML `[otlp]` table, as written.
#[derive(Debug, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpSection {
    enabled: Option<toml::Spanned<TomlBool>>,
    logs_enabled: Option<toml::Spanned<TomlBool>>,
    protocol: Option<toml::Spanned<String>>,
    endpoint: Option<String>,
    traces_endpoint: Option<String>,
    service_name: Option<String>,
    resource_attributes: BTreeMap<String, String>,
    sampler: Option<toml::Spanned<String>>,
    sampler_arg: Option<toml::Spanned<f64>>,
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
        if let Some(p) = &section.protocol {
            self.protocol = parse_protocol(p.get_ref(), &at(p.span().start))?;
        }
        self.endpoint = section.endpoint.or(self.endpoint.take());
        self.traces_endpoint = section.traces_endpoint.or(self.traces_endpoint.take());
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
        if let Some(v) = lookup(OTEL_EXPORTER_OTLP_PROTOCOL) {
            self.protocol = parse_protocol(&v, &Origin::Env(OTEL_EXPORTER_OTLP_PROTOCOL))?;
        }
        for (name, slot) in [
            (OTEL_EXPORTER_OTLP_ENDPOINT, &mut self.endpoint),
            (
                OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
                &mut self.traces_endpoint,
            ),
            (OTEL_SERVICE_NAME, &mut self.service_name),
        ] {
            if let Some(v) = lookup(name).filter(|v| !v.trim().is_empty()) {
                *slot = Some(v.trim().to_owned());
            }
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
    use std::collections::HashMap;

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
