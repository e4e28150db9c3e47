//! The HTTP server's metrics (SPEC §8), counted by [`TraceLayer`](super::TraceLayer) per
//! request: `tracewire_http_requests_total{status,outcome}` and
//! `tracewire_http_request_duration_seconds`.

use std::{sync::LazyLock, time::Duration};

use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};

use crate::metrics::{duration_buckets, metrics, Labels, Metrics};

/// Requests completed and their durations.
pub struct HttpMetrics {
    requests: Family<Labels, Counter>,
    duration: Histogram,
}

impl HttpMetrics {
    /// The HTTP metrics, registered into `into`.
    pub fn new(into: &Metrics) -> Self {
        let requests = Family::<Labels, Counter>::default();
        into.register(
            "http_requests",
            "HTTP requests completed, by status and outcome",
            requests.clone(),
        );
        let duration = Histogram::new(duration_buckets());
        into.register(
            "http_request_duration_seconds",
            "From the request's arrival to the end of its response",
            duration.clone(),
        );
        HttpMetrics { requests, duration }
    }

    /// A request completed with `status` and `outcome` after `duration`.
    pub fn request(&self, status: u16, outcome: &'static str, duration: Duration) {
        self.requests
            .get_or_create(&vec![
                ("status", status.to_string()),
                ("outcome", outcome.to_owned()),
            ])
            .inc();
        self.duration.observe(duration.as_secs_f64());
    }
}

/// The process's HTTP metrics, in the process's registry.
pub fn http_metrics() -> &'static HttpMetrics {
    static HTTP: LazyLock<HttpMetrics> = LazyLock::new(|| HttpMetrics::new(metrics()));
    &HTTP
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_by_status_and_outcome_and_their_durations() {
        let m = Metrics::new();
        HttpMetrics::new(&m).request(200, "ok", Duration::from_millis(30));
        let text = m.encode();
        for want in [
            "tracewire_http_requests_total{status=\"200\",outcome=\"ok\"} 1",
            "tracewire_http_request_duration_seconds_count 1",
            "tracewire_http_request_duration_seconds_bucket{le=\"0.032\"} 1",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
