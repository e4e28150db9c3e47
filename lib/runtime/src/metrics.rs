//! The process's Prometheus metrics (SPEC §8), all prefixed `tracewire_`, served as text by the
//! system server's `GET /metrics`.
//!
//! prometheus-client (the Prometheus project's own Rust client) keeps the registry and writes
//! the exposition format; chosen over `metrics` + `metrics-exporter-prometheus` because its
//! counters are plain atomics we can hold: a line written costs one `fetch_add` on a counter
//! taken out of its family once, with no registry lookup, no lock and no global recorder
//! indirection on the hot path.
//!
//! | metric | labels | recorded by |
//! |---|---|---|
//! | `log_lines_total` | `level` | the logging layer, per line written |
//! | `log_lines_dropped_total` | | the output queue, per line dropped |
//! | `log_lines_suppressed_total` | | the rate limit, per line suppressed |
//! | `log_captured_dropped_total` | | capture on failure, per held line dropped at a limit |
//! | `otlp_spans_exported_total`, `otlp_spans_dropped_total` | | the span exporter |
//! | `http_requests_total` | `status`, `outcome` | `http::TraceLayer`, per request |
//! | `http_request_duration_seconds` | | `http::TraceLayer` (histogram) |
//! | `time_to_first_token_seconds`, `inter_token_latency_seconds` | | the frontend (histograms) |
//! | `worker_requests_total` | `outcome`, `dynamo_namespace`, `dynamo_component`, `dynamo_endpoint` | a worker |
//! | `worker_request_duration_seconds` | `dynamo_namespace`, `dynamo_component`, `dynamo_endpoint` | a worker (histogram) |

use std::{
    sync::{Mutex, OnceLock, PoisonError},
    time::Duration,
};

use prometheus_client::{
    metrics::{
        counter::Counter,
        family::Family,
        histogram::{exponential_buckets, Histogram},
    },
    registry::Registry,
};
use tracing::Level;

type Labels = Vec<(&'static str, String)>;

/// Every metric of the process.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// One counter per level, taken out of the family once: TRACE, DEBUG, INFO, WARN, ERROR.
    lines: [Counter; 5],
    lines_dropped: Counter,
    lines_suppressed: Counter,
    captured_dropped: Counter,
    spans_exported: Counter,
    spans_dropped: Counter,
    http_requests: Family<Labels, Counter>,
    http_duration: Histogram,
    ttft: Histogram,
    itl: Histogram,
    worker_requests: Family<Labels, Counter>,
    worker_duration: Family<Labels, Histogram>,
}

/// Request durations: 1 ms to about 65 s.
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

/// Token latencies: 100 µs to about 6.5 s.
fn token_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 17)
}

fn worker_histogram() -> Histogram {
    Histogram::new(duration_buckets())
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("tracewire");
        let lines_family = Family::<Labels, Counter>::default();
        let lines = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].map(|level| {
            lines_family
                .get_or_create(&vec![("level", level.to_owned())])
                .clone()
        });
        registry.register("log_lines", "Lines written, by level", lines_family);
        let lines_dropped = Counter::default();
        registry.register(
            "log_lines_dropped",
            "Lines dropped because the output stalled or its queue was full",
            lines_dropped.clone(),
        );
        let lines_suppressed = Counter::default();
        registry.register(
            "log_lines_suppressed",
            "Lines a callsite wrote beyond its rate limit",
            lines_suppressed.clone(),
        );
        let captured_dropped = Counter::default();
        registry.register(
            "log_captured_dropped",
            "Lines held for a request in case it fails, dropped at a capture limit",
            captured_dropped.clone(),
        );
        let spans_exported = Counter::default();
        registry.register(
            "otlp_spans_exported",
            "Spans the OTLP collector accepted",
            spans_exported.clone(),
        );
        let spans_dropped = Counter::default();
        registry.register(
            "otlp_spans_dropped",
            "Spans lost: the export queue was full or the collector did not take them",
            spans_dropped.clone(),
        );
        let http_requests = Family::<Labels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests completed, by status and outcome",
            http_requests.clone(),
        );
        let http_duration = Histogram::new(duration_buckets());
        registry.register(
            "http_request_duration_seconds",
            "From the request's arrival to the end of its response",
            http_duration.clone(),
        );
        let ttft = Histogram::new(token_buckets());
        registry.register(
            "time_to_first_token_seconds",
            "From a chat request's arrival to its first token",
            ttft.clone(),
        );
        let itl = Histogram::new(token_buckets());
        registry.register(
            "inter_token_latency_seconds",
            "Mean time between a chat request's tokens",
            itl.clone(),
        );
        let worker_requests = Family::<Labels, Counter>::default();
        registry.register(
            "worker_requests",
            "Generate calls a worker finished, by outcome",
            worker_requests.clone(),
        );
        let worker_duration = Family::<Labels, Histogram>::new_with_constructor(
            worker_histogram as fn() -> Histogram,
        );
        registry.register(
            "worker_request_duration_seconds",
            "From a generate call's arrival to its last token",
            worker_duration.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            lines,
            lines_dropped,
            lines_suppressed,
            captured_dropped,
            spans_exported,
            spans_dropped,
            http_requests,
            http_duration,
            ttft,
            itl,
            worker_requests,
            worker_duration,
        }
    }

    /// A line at `level` was written.
    #[inline]
    pub fn line(&self, level: &Level) {
        let i = match *level {
            Level::TRACE => 0,
            Level::DEBUG => 1,
            Level::INFO => 2,
            Level::WARN => 3,
            Level::ERROR => 4,
        };
        self.lines[i].inc();
    }

    /// `n` lines were dropped.
    pub fn lines_dropped(&self, n: u64) {
        self.lines_dropped.inc_by(n);
    }

    /// `n` lines were suppressed by the rate limit.
    pub fn lines_suppressed(&self, n: u64) {
        self.lines_suppressed.inc_by(n);
    }

    /// `n` held lines were dropped at a capture limit.
    pub fn captured_dropped(&self, n: u64) {
        self.captured_dropped.inc_by(n);
    }

    /// `n` spans were exported.
    pub fn spans_exported(&self, n: u64) {
        self.spans_exported.inc_by(n);
    }

    /// `n` spans were dropped or failed.
    pub fn spans_dropped(&self, n: u64) {
        self.spans_dropped.inc_by(n);
    }

    /// An HTTP request completed.
    pub fn http_request(&self, status: u16, outcome: &'static str, duration: Duration) {
        self.http_requests
            .get_or_create(&vec![
                ("status", status.to_string()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        self.http_duration.observe(duration.as_secs_f64());
    }

    /// A chat request's first token came after `ttft`.
    pub fn time_to_first_token(&self, ttft: Duration) {
        self.ttft.observe(ttft.as_secs_f64());
    }

    /// A chat request's tokens came `itl` apart on average.
    pub fn inter_token_latency(&self, itl: Duration) {
        self.itl.observe(itl.as_secs_f64());
    }

    /// A worker finished a generate call of `endpoint` (namespace, component, endpoint).
    pub fn worker_request(&self, endpoint: [&str; 3], outcome: &str, duration: Duration) {
        let [namespace, component, endpoint] = endpoint.map(str::to_owned);
        let mut labels = vec![
            ("dynamo_namespace", namespace),
            ("dynamo_component", component),
            ("dynamo_endpoint", endpoint),
        ];
        self.worker_duration
            .get_or_create(&labels)
            .observe(duration.as_secs_f64());
        labels.insert(0, ("outcome", outcome.to_owned()));
        self.worker_requests.get_or_create(&labels).inc();
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_labels_and_histograms_as_the_spec_says() {
        let m = Metrics::new();
        m.line(&Level::INFO);
        m.line(&Level::INFO);
        m.http_request(200, "ok", Duration::from_millis(30));
        m.worker_request(
            ["dynamo", "backend", "generate"],
            "ok",
            Duration::from_millis(20),
        );
        m.time_to_first_token(Duration::from_millis(5));
        let text = m.encode();
        for want in [
            "tracewire_log_lines_total{level=\"INFO\"} 2",
            "tracewire_log_lines_total{level=\"ERROR\"} 0",
            "tracewire_log_lines_dropped_total 0",
            "tracewire_otlp_spans_exported_total 0",
            "tracewire_otlp_spans_dropped_total 0",
            "tracewire_http_requests_total{status=\"200\",outcome=\"ok\"} 1",
            "tracewire_http_request_duration_seconds_count 1",
            "tracewire_http_request_duration_seconds_bucket{le=\"0.032\"} 1",
            "tracewire_time_to_first_token_seconds_count 1",
            "tracewire_inter_token_latency_seconds_count 0",
            "tracewire_worker_requests_total{outcome=\"ok\",dynamo_namespace=\"dynamo\",dynamo_component=\"backend\",dynamo_endpoint=\"generate\"} 1",
            "tracewire_worker_request_duration_seconds_count{dynamo_namespace=\"dynamo\",dynamo_component=\"backend\",dynamo_endpoint=\"generate\"} 1",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
