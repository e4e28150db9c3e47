//! The request plane's metrics (SPEC §8): on the frontend, the time to the first token and
//! between tokens (`tracewire_time_to_first_token_seconds`,
//! `tracewire_inter_token_latency_seconds`, through [`TokenTimes`](super::TokenTimes)); on a
//! worker, its calls (`tracewire_worker_requests_total{outcome,dynamo_*}`,
//! `tracewire_worker_request_duration_seconds`).

use std::{sync::LazyLock, time::Duration};

use prometheus_client::metrics::{counter::Counter, family::Family, histogram::Histogram};

use crate::metrics::{duration_buckets, metrics, token_buckets, Labels, Metrics};

/// Token latencies and worker calls.
pub struct PlaneMetrics {
    ttft: Histogram,
    itl: Histogram,
    worker_requests: Family<Labels, Counter>,
    worker_duration: Family<Labels, Histogram>,
}

fn worker_histogram() -> Histogram {
    Histogram::new(duration_buckets())
}

impl PlaneMetrics {
    /// The request plane's metrics, registered into `into`.
    pub fn new(into: &Metrics) -> Self {
        let ttft = Histogram::new(token_buckets());
        into.register(
            "time_to_first_token_seconds",
            "From a chat request's arrival to its first token",
            ttft.clone(),
        );
        let itl = Histogram::new(token_buckets());
        into.register(
            "inter_token_latency_seconds",
            "Mean time between a chat request's tokens",
            itl.clone(),
        );
        let worker_requests = Family::<Labels, Counter>::default();
        into.register(
            "worker_requests",
            "Generate calls a worker finished, by outcome",
            worker_requests.clone(),
        );
        let worker_duration = Family::<Labels, Histogram>::new_with_constructor(
            worker_histogram as fn() -> Histogram,
        );
        into.register(
            "worker_request_duration_seconds",
            "From a generate call's arrival to its last token",
            worker_duration.clone(),
        );
        PlaneMetrics {
            ttft,
            itl,
            worker_requests,
            worker_duration,
        }
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
}

/// The process's request-plane metrics, in the process's registry.
pub fn plane_metrics() -> &'static PlaneMetrics {
    static PLANE: LazyLock<PlaneMetrics> = LazyLock::new(|| PlaneMetrics::new(metrics()));
    &PLANE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_latencies_and_worker_calls_with_their_labels() {
        let m = Metrics::new();
        let plane = PlaneMetrics::new(&m);
        plane.worker_request(
            ["dynamo", "backend", "generate"],
            "ok",
            Duration::from_millis(20),
        );
        plane.time_to_first_token(Duration::from_millis(5));
        let text = m.encode();
        for want in [
            "tracewire_time_to_first_token_seconds_count 1",
            "tracewire_inter_token_latency_seconds_count 0",
            "tracewire_worker_requests_total{outcome=\"ok\",dynamo_namespace=\"dynamo\",dynamo_component=\"backend\",dynamo_endpoint=\"generate\"} 1",
            "tracewire_worker_request_duration_seconds_count{dynamo_namespace=\"dynamo\",dynamo_component=\"backend\",dynamo_endpoint=\"generate\"} 1",
        ] {
            assert!(text.contains(want), "{want} in\n{text}");
        }
    }
}
