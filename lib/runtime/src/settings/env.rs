//! Every environment variable tracewire reads, by name, in one place, and how they are looked
//! up: each reader takes a [`Lookup`], so that tests pass a table instead of touching the
//! process environment.

/// Filter directives, `EnvFilter` syntax (`info,my_crate::module=trace`).
pub const DYN_LOG: &str = "DYN_LOG";
/// Boolean: JSONL output instead of readable text.
pub const DYN_LOGGING_JSONL: &str = "DYN_LOGGING_JSONL";
/// Boolean: timestamps in the local offset instead of UTC.
pub const DYN_LOG_USE_LOCAL_TZ: &str = "DYN_LOG_USE_LOCAL_TZ";
/// Path of the TOML configuration file.
pub const DYN_LOGGING_CONFIG_PATH: &str = "DYN_LOGGING_CONFIG_PATH";
/// Boolean: emit `SPAN_CREATED` / `SPAN_CLOSED` lines.
pub const DYN_LOGGING_SPAN_EVENTS: &str = "DYN_LOGGING_SPAN_EVENTS";
/// `stderr` or `stdout`.
pub const DYN_LOG_STREAM: &str = "DYN_LOG_STREAM";
/// `auto`, `always` or `never`.
pub const DYN_LOG_COLOR: &str = "DYN_LOG_COLOR";
/// Any non-empty value turns colour off unless `DYN_LOG_COLOR` says otherwise (no-color.org).
pub const NO_COLOR: &str = "NO_COLOR";
/// `block` (lossless, the default) or `drop`: what happens when the output queue is full.
pub const DYN_LOG_OVERFLOW: &str = "DYN_LOG_OVERFLOW";
/// Bytes of the output queue (64 KiB to 1 GiB).
pub const DYN_LOG_BUFFER_BYTES: &str = "DYN_LOG_BUFFER_BYTES";
/// The longest string value written, in bytes (0: no limit).
pub const DYN_LOG_MAX_VALUE_BYTES: &str = "DYN_LOG_MAX_VALUE_BYTES";
/// The most verbose level a request's `tracewire.log` baggage member may ask for (or `off`).
pub const DYN_LOG_REQUEST_LEVEL: &str = "DYN_LOG_REQUEST_LEVEL";
/// The level from which lines hidden by the filter are held per request, written if it fails.
pub const DYN_LOG_CAPTURE: &str = "DYN_LOG_CAPTURE";
/// The most lines one request holds for capture (overrides `[capture] max_lines`).
pub const DYN_LOG_CAPTURE_MAX_LINES: &str = "DYN_LOG_CAPTURE_MAX_LINES";
/// The most lines a second from one callsite (0: no limit).
pub const DYN_LOG_RATE_LIMIT: &str = "DYN_LOG_RATE_LIMIT";
/// The most verbose level a caller's `x-tracewire-logs` may ask its lines at (or `off`).
pub const DYN_LOG_CLIENT_LEVEL: &str = "DYN_LOG_CLIENT_LEVEL";
/// The token a caller's `x-tracewire-logs-token` must carry to get its lines.
pub const DYN_LOG_CLIENT_TOKEN: &str = "DYN_LOG_CLIENT_TOKEN";

/// etcd endpoints, comma-separated URLs: with `NATS_SERVER`, the distributed runtime.
pub const ETCD_ENDPOINTS: &str = "ETCD_ENDPOINTS";
/// The NATS server (`nats://host:port`): with `ETCD_ENDPOINTS`, the distributed runtime.
pub const NATS_SERVER: &str = "NATS_SERVER";
/// Seconds of a worker's etcd lease.
pub const DYN_LEASE_TTL_S: &str = "DYN_LEASE_TTL_S";
/// The CA certificates (PEM) that verify the NATS server.
pub const NATS_TLS_CA: &str = "NATS_TLS_CA";
/// The client certificate (PEM) for NATS mutual TLS.
pub const NATS_TLS_CLIENT_CERT: &str = "NATS_TLS_CLIENT_CERT";
/// The client certificate's key (PEM) for NATS mutual TLS.
pub const NATS_TLS_CLIENT_KEY: &str = "NATS_TLS_CLIENT_KEY";
/// NATS user (with `NATS_AUTH_PASSWORD`).
pub const NATS_AUTH_USERNAME: &str = "NATS_AUTH_USERNAME";
/// NATS password (with `NATS_AUTH_USERNAME`).
pub const NATS_AUTH_PASSWORD: &str = "NATS_AUTH_PASSWORD";
/// NATS token.
pub const NATS_AUTH_TOKEN: &str = "NATS_AUTH_TOKEN";
/// NATS nkey seed (`SU…`).
pub const NATS_AUTH_NKEY: &str = "NATS_AUTH_NKEY";
/// A NATS `.creds` file (user JWT and nkey seed).
pub const NATS_AUTH_CREDENTIALS_FILE: &str = "NATS_AUTH_CREDENTIALS_FILE";
/// The CA certificates (PEM) that verify the etcd servers.
pub const ETCD_AUTH_CA: &str = "ETCD_AUTH_CA";
/// The client certificate (PEM) for etcd.
pub const ETCD_AUTH_CLIENT_CERT: &str = "ETCD_AUTH_CLIENT_CERT";
/// The client certificate's key (PEM) for etcd.
pub const ETCD_AUTH_CLIENT_KEY: &str = "ETCD_AUTH_CLIENT_KEY";
/// etcd user (with `ETCD_AUTH_PASSWORD`).
pub const ETCD_AUTH_USERNAME: &str = "ETCD_AUTH_USERNAME";
/// etcd password (with `ETCD_AUTH_USERNAME`).
pub const ETCD_AUTH_PASSWORD: &str = "ETCD_AUTH_PASSWORD";

/// How many HTTP connections a server serves at once.
pub const DYN_HTTP_MAX_CONNECTIONS: &str = "DYN_HTTP_MAX_CONNECTIONS";

/// The system server's port (unset: none; 0: any free port).
pub const DYN_SYSTEM_PORT: &str = "DYN_SYSTEM_PORT";
/// The system server's address.
pub const DYN_SYSTEM_HOST: &str = "DYN_SYSTEM_HOST";
/// The bearer token the system server's changes need.
pub const DYN_SYSTEM_TOKEN: &str = "DYN_SYSTEM_TOKEN";

/// Boolean, as in the reference system: export spans over OTLP.
pub const OTEL_EXPORT_ENABLED: &str = "OTEL_EXPORT_ENABLED";
/// Boolean: export log records over OTLP too.
pub const OTEL_EXPORT_LOGS_ENABLED: &str = "OTEL_EXPORT_LOGS_ENABLED";
/// Boolean: the OpenTelemetry SDK is off (all export off, whatever else says).
pub const OTEL_SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
/// `grpc` or `http/protobuf`.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// The collector's base URL.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The URL spans are sent to, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The URL log records are sent to, used as is.
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// `service.name`.
pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
/// Extra resource attributes, `key=value,...`.
pub const OTEL_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";
/// `otlp` pushes the metrics over OTLP (a comma-separated list of `otlp`, `prometheus`, `none`).
pub const OTEL_METRICS_EXPORTER: &str = "OTEL_METRICS_EXPORTER";
/// Milliseconds between two metric pushes.
pub const OTEL_METRIC_EXPORT_INTERVAL: &str = "OTEL_METRIC_EXPORT_INTERVAL";
/// The sampler's name.
pub const OTEL_TRACES_SAMPLER: &str = "OTEL_TRACES_SAMPLER";
/// The sampler's argument (a ratio).
pub const OTEL_TRACES_SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";

/// The variables that set how one OTLP signal reaches the collector: the base names, and the
/// `_TRACES_` / `_LOGS_` / `_METRICS_` variants that override them for one signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtlpVars {
    /// The endpoint (a base URL for the base name; used as is for a signal).
    pub endpoint: &'static str,
    /// `grpc` or `http/protobuf`.
    pub protocol: &'static str,
    /// `key=value,...` headers sent with every export (values percent-decoded, never logged).
    pub headers: &'static str,
    /// Milliseconds one export attempt may take.
    pub timeout: &'static str,
    /// A PEM file of the CA certificates that verify the collector.
    pub certificate: &'static str,
    /// A PEM file of the client certificate chain for mTLS.
    pub client_certificate: &'static str,
    /// A PEM file of the client's private key for mTLS.
    pub client_key: &'static str,
}

/// `OTEL_EXPORTER_OTLP_*`: both signals.
pub const OTLP: OtlpVars = OtlpVars {
    endpoint: OTEL_EXPORTER_OTLP_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: "OTEL_EXPORTER_OTLP_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_CLIENT_KEY",
};

/// `OTEL_EXPORTER_OTLP_TRACES_*`: spans only.
pub const OTLP_TRACES: OtlpVars = OtlpVars {
    endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
};

/// `OTEL_EXPORTER_OTLP_LOGS_*`: log records only.
pub const OTLP_LOGS: OtlpVars = OtlpVars {
    endpoint: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    protocol: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY",
};

/// `OTEL_EXPORTER_OTLP_METRICS_*`: metrics only.
pub const OTLP_METRICS: OtlpVars = OtlpVars {
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    certificate: "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
    client_certificate: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE",
    client_key: "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY",
};

/// Every variable above, the `OtlpVars` ones included: what a test clears from the environment
/// it inherits, and what `docs/configuration.md` must list.
pub const ALL: &[&str] = &[
    DYN_LOG,
    DYN_LOGGING_JSONL,
    DYN_LOG_USE_LOCAL_TZ,
    DYN_LOGGING_CONFIG_PATH,
    DYN_LOGGING_SPAN_EVENTS,
    DYN_LOG_STREAM,
    DYN_LOG_COLOR,
    NO_COLOR,
    DYN_LOG_OVERFLOW,
    DYN_LOG_BUFFER_BYTES,
    DYN_LOG_MAX_VALUE_BYTES,
    DYN_LOG_REQUEST_LEVEL,
    DYN_LOG_CAPTURE,
    DYN_LOG_CAPTURE_MAX_LINES,
    DYN_LOG_RATE_LIMIT,
    DYN_LOG_CLIENT_LEVEL,
    DYN_LOG_CLIENT_TOKEN,
    ETCD_ENDPOINTS,
    NATS_SERVER,
    DYN_LEASE_TTL_S,
    NATS_TLS_CA,
    NATS_TLS_CLIENT_CERT,
    NATS_TLS_CLIENT_KEY,
    NATS_AUTH_USERNAME,
    NATS_AUTH_PASSWORD,
    NATS_AUTH_TOKEN,
    NATS_AUTH_NKEY,
    NATS_AUTH_CREDENTIALS_FILE,
    ETCD_AUTH_CA,
    ETCD_AUTH_CLIENT_CERT,
    ETCD_AUTH_CLIENT_KEY,
    ETCD_AUTH_USERNAME,
    ETCD_AUTH_PASSWORD,
    DYN_HTTP_MAX_CONNECTIONS,
    DYN_SYSTEM_PORT,
    DYN_SYSTEM_HOST,
    DYN_SYSTEM_TOKEN,
    OTEL_EXPORT_ENABLED,
    OTEL_EXPORT_LOGS_ENABLED,
    OTEL_SDK_DISABLED,
    OTEL_SERVICE_NAME,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_METRICS_EXPORTER,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTLP.endpoint,
    OTLP.protocol,
    OTLP.headers,
    OTLP.timeout,
    OTLP.certificate,
    OTLP.client_certificate,
    OTLP.client_key,
    OTLP_TRACES.endpoint,
    OTLP_TRACES.protocol,
    OTLP_TRACES.headers,
    OTLP_TRACES.timeout,
    OTLP_TRACES.certificate,
    OTLP_TRACES.client_certificate,
    OTLP_TRACES.client_key,
    OTLP_LOGS.endpoint,
    OTLP_LOGS.protocol,
    OTLP_LOGS.headers,
    OTLP_LOGS.timeout,
    OTLP_LOGS.certificate,
    OTLP_LOGS.client_certificate,
    OTLP_LOGS.client_key,
    OTLP_METRICS.endpoint,
    OTLP_METRICS.protocol,
    OTLP_METRICS.headers,
    OTLP_METRICS.timeout,
    OTLP_METRICS.certificate,
    OTLP_METRICS.client_certificate,
    OTLP_METRICS.client_key,
];

/// Looks a variable up by name; `None` when it is not set.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment. A value that is not valid UTF-8 is passed on lossily, so that it
/// fails validation visibly instead of reading as unset.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::ALL;

    /// Every variable name written in this file, read from its source: a constant added
    /// without its place in `ALL` fails here.
    #[test]
    fn all_lists_every_variable_of_this_file() {
        let source = include_str!("env.rs");
        let code = &source[..source.find("#[cfg(test)]").expect("tests at the end")];
        let names: Vec<&str> = code
            .split('"')
            .skip(1)
            .step_by(2)
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .collect();
        assert!(names.len() >= 50, "{names:?}");
        for name in &names {
            assert!(ALL.contains(name), "{name} is missing from ALL");
        }
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len(), "a variable is listed twice");
        assert_eq!(
            sorted.len(),
            names.len(),
            "ALL lists a name this file does not define"
        );
    }
}
