//! The process's Prometheus metrics (SPEC §8), all prefixed `tracewire_`, in one registry served
//! as text by the system server's `GET /metrics`. [`Metrics`] holds the registry and what
//! logging and export count; the serving metrics live with the serving code
//! (`http::metrics`, `plane::metrics`) and register themselves into the process's registry.
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
//! | `http_requests_total`, `http_request_duration_seconds` | `status`, `outcome` | `http::TraceLayer` (`http/metrics.rs`) |
//! | `time_to_first_token_seconds`, `inter_token_latency_seconds` | | the frontend (`plane/metrics.rs`) |
//! | `worker_requests_total`, `worker_request_duration_seconds` | `outcome`, `dynamo_*` | a worker (`plane/metrics.rs`) |

use std::sync::{Mutex, OnceLock, PoisonError};

use prometheus_client::{
    metrics::{counter::Counter, family::Family, histogram::exponential_buckets},
    registry::{Metric, Registry},
};
use tracing::Level;

/// A metric's labels, as the serving metrics give them.
pub type Labels = Vec<(&'static str, String)>;

/// The registry, and what logging and export count.
pub struct Metrics {
    registry: Mutex<Registry>,
    /// One counter per level, taken out of the family once: TRACE, DEBUG, INFO, WARN, ERROR.
    lines: [Counter; 5],
    lines_dropped: Counter,
    lines_suppressed: Counter,
    captured_dropped: Counter,
    spans_exported: Counter,
    spans_dropped: Counter,
}

/// Request durations: 1 ms to about 65 s.
pub fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

/// Token latencies: 100 µs to about 6.5 s.
pub fn token_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 17)
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A registry of its own with the logging and export metrics (a test's; the process's is
    /// [`metrics`]).
    pub fn new() -> Self {
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
        Metrics {
            registry: Mutex::new(registry),
            lines,
            lines_dropped,
            lines_suppressed,
            captured_dropped,
            spans_exported,
            spans_dropped,
        }
    }

    /// Adds `metric` to the registry, under `tracewire_<name>`.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        let mut registry = self.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.register(name, help, metric);
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
    fn names_and_labels_as_the_spec_says() {
        let m = Metrics::new();
        m.line(&Level::INFO);
        m.line(&Level::INFO);
        m.lines_dropped(3);
        let text = m.encode();
        for want in [
            "tracewire_log_lines_total{level=\"INFO\"} 2",
            "tracewire_log_lines_total{level=\"ERROR\"} 0",
            "tracewire_log_lines_dropped_total 3",
            "tracewire_log_lines_suppressed_total 0",
            "tracewire_log_captured_dropped_total 0",
            "tracewire_otlp_spans_exported_total 0",
            "tracewire_otlp_spans_dropped_total 0",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
