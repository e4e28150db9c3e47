//! Generation timing as a side of the plane sees it: time to the first token and the mean time
//! between tokens, recorded on the request's span as `ttft_us` and `itl_us` (declare both,
//! `Empty`, on the span).

use std::time::{Duration, Instant};

use tracing::Span;

/// When a request's tokens go by: `ttft_us` is recorded on the span at the first token (counted
/// from `start`), `itl_us`, the mean gap between tokens for two tokens or more, by
/// [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct TokenTimes {
    start: Instant,
    first: Option<Instant>,
    last: Option<Instant>,
    count: u64,
    /// Also observe the `time_to_first_token_seconds` and `inter_token_latency_seconds`
    /// histograms.
    metrics: bool,
}

impl TokenTimes {
    /// Timing from `start`: when the request arrived.
    pub fn new(start: Instant) -> Self {
        TokenTimes {
            start,
            first: None,
            last: None,
            count: 0,
            metrics: false,
        }
    }

    /// Also observes the process's `time_to_first_token_seconds` and
    /// `inter_token_latency_seconds` histograms (the frontend's, SPEC §8).
    pub fn with_metrics(mut self) -> Self {
        self.metrics = true;
        self
    }

    /// A token went by now.
    pub fn token(&mut self, span: &Span) {
        let now = Instant::now();
        if self.first.is_none() {
            self.first = Some(now);
            span.record("ttft_us", micros(now - self.start));
            if self.metrics {
                super::metrics::plane_metrics().time_to_first_token(now - self.start);
            }
        }
        self.last = Some(now);
        self.count += 1;
    }

    /// Records `itl_us` if two tokens or more went by. Call it before the request's last line.
    pub fn finish(&self, span: &Span) {
        if let (Some(first), Some(last), 2..) = (self.first, self.last, self.count) {
            let itl = (last - first) / u32::try_from(self.count - 1).unwrap_or(u32::MAX);
            span.record("itl_us", micros(itl));
            if self.metrics {
                super::metrics::plane_metrics().inter_token_latency(itl);
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use tracing::{field::Empty, info, info_span};

    use super::*;
    use crate::logging::testing::{json, jsonl};

    #[test]
    fn ttft_at_the_first_token_and_itl_only_from_two() {
        let out = json(&jsonl(), || {
            for n in [1, 3] {
                let span = info_span!("request", n, ttft_us = Empty, itl_us = Empty);
                let mut times = TokenTimes::new(Instant::now());
                for _ in 0..n {
                    std::thread::sleep(Duration::from_millis(2));
                    times.token(&span);
                }
                times.finish(&span);
                span.in_scope(|| info!("request completed"));
            }
        });
        let done: Vec<_> = out
            .iter()
            .filter(|l| l.message == "request completed")
            .collect();
        assert_eq!(done.len(), 2);
        assert!(
            done[0]["ttft_us"].as_u64().unwrap() >= 2000,
            "{:?}",
            done[0]
        );
        assert!(
            !done[0].has("itl_us"),
            "one token has no itl: {:?}",
            done[0]
        );
        assert!(done[1]["ttft_us"].as_u64().unwrap() >= 2000);
        assert!(done[1]["itl_us"].as_u64().unwrap() >= 2000, "{:?}", done[1]);
    }
}
