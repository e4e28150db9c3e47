//! Request-scoped logging (SPEC §9): one request's own level, lines held back until the request
//! is known to have failed, and a rate limit per callsite.
//!
//! tracing decides whether an event exists from its callsite alone (its cached interest), and
//! a request is not a callsite: that is why filter layers cannot do this (tracing-actix-web
//! issue 132). Here the layer owns each span's record, so a request's state lives in its spans:
//!
//! - a span that starts a request (it was given a remote context, or it is the outermost span
//!   with a request id) gets a [`RequestScope`], shared by every span inside it;
//! - callsites the filter hides but a request may want (at or above the capture level or the
//!   allowed request level) get tracing's `sometimes` interest instead of `never`, so their
//!   events reach [`Layer::enabled`], which asks the current span's scope; while no request
//!   has raised its level, a counter says so and the filter's per-thread cached answer is
//!   given. (Switching interest only while such a request runs would make those events free
//!   the rest of the time, but tracing-core rebuilds interest through the thread's current
//!   dispatcher, which inside a subscriber callback is no dispatcher at all when scoped
//!   dispatchers exist: every callsite would turn `never`.)
//! - held lines are rendered at once into the request's buffer ([`Captured`]): a request's lines
//!   keep their times and order, and one that succeeds costs a render and a copy per line
//!   (`BENCHMARKS.md`), never a second render. They are marked `"captured":true` only when
//!   written. With log export on, each line's OTLP record is made from the event beside it
//!   (the readable rendering cannot be read back into fields) and sent when the line is.
//!
//! - a request whose caller asked for its lines back ([`client`], SPEC §13) gets a
//!   [`ClientLogs`] in its scope: every line of its spans at or above the level asked for is
//!   rendered as JSONL into it, whether the filter shows the line or not.
//!
//! [`Layer::enabled`]: tracing_subscriber::Layer::enabled

mod capture;
pub(crate) mod client;
mod config;
mod level;
mod rate;

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex, PoisonError,
};

use tracing::{Level, Metadata};
use tracing_subscriber::filter::LevelFilter;

pub use capture::CaptureConfig;
pub(crate) use capture::{CaptureLimits, Captured, HeldLine};
pub use client::{ClientLogs, ClientLogsLimits, CLIENT_MEMBER, TRUNCATED as CLIENT_LOGS_TRUNCATED};
pub use config::{Verbosity, MAX_CAPTURE_BYTES, MAX_CAPTURE_LINES, MAX_RATE};
pub use level::LOG_MEMBER;
pub(crate) use rate::RateLimiter;

use crate::{
    metrics::Metrics,
    settings::Secret,
    trace::{HeldRecord, SpanContext},
};

/// Request-scoped logging's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeConfig {
    /// The most verbose level a request's `tracewire.log` baggage member may ask for
    /// (`DYN_LOG_REQUEST_LEVEL`, `request_level`); `None`: the member is ignored.
    pub request_level: Option<Level>,
    /// Lines held per request and written if it fails (`DYN_LOG_CAPTURE`, `[capture]`).
    pub capture: Option<CaptureConfig>,
    /// The most lines a second from one callsite (`DYN_LOG_RATE_LIMIT`, `[rate_limit]
    /// per_callsite_per_s`); `None`: no limit.
    pub rate_limit: Option<u32>,
    /// The most verbose level a caller may ask its request's lines at (`DYN_LOG_CLIENT_LEVEL`,
    /// `client_level`); `None`: a caller's ask is refused.
    pub client_level: Option<Level>,
    /// How much one request's caller is given (`[client_logs]`).
    pub client_logs: ClientLogsLimits,
    /// The token a caller must present to get its lines (`DYN_LOG_CLIENT_TOKEN`).
    pub client_token: Option<Secret>,
}

impl ScopeConfig {
    /// The most verbose level beyond the filter any request may have written or held.
    pub(crate) fn most_verbose(&self) -> LevelFilter {
        let level = |l: Option<Level>| l.map_or(LevelFilter::OFF, LevelFilter::from_level);
        level(self.request_level)
            .max(level(self.capture.map(|c| c.level)))
            .max(level(self.client_level))
    }
}

/// What the spans of one request share.
#[derive(Debug)]
pub(crate) struct RequestScope {
    /// The level the request asked for and may have.
    level: Option<Level>,
    /// Its held lines, if capture is on.
    held: Option<Mutex<Holding>>,
    /// Its lines for its caller, if the caller asked and may have them.
    pub(crate) client: Option<ClientLogs>,
}

#[derive(Debug)]
struct Holding {
    lines: Captured,
    /// Where the lines dropped at a limit are counted.
    metrics: &'static Metrics,
    /// The request has failed: held lines were written, and new ones are written at once.
    failed: bool,
}

/// What became of a line offered to a request's buffer.
pub(crate) enum Hold {
    /// Held (older lines, or this one, may have been dropped for the limits: counted).
    Held,
    /// The request has already failed: write it now (and send its record).
    WriteNow(Option<HeldRecord>),
}

/// The lines to write when a request fails.
pub(crate) struct Failed {
    /// Each line with its level and record, oldest first.
    pub(crate) lines: Vec<HeldLine>,
    /// Lines dropped before they could be written.
    pub(crate) dropped: u64,
}

impl RequestScope {
    /// Whether the request's own level shows `level`.
    #[inline]
    pub(crate) fn raises(&self, level: &Level) -> bool {
        self.level.is_some_and(|l| *level <= l)
    }

    fn holding(&self) -> Option<std::sync::MutexGuard<'_, Holding>> {
        self.held
            .as_ref()
            .map(|h| h.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Holds a rendered line, with its log record if one is exported (see [`Hold`]).
    pub(crate) fn hold(&self, line: &[u8], level: Level, record: Option<HeldRecord>) -> Hold {
        let Some(mut holding) = self.holding() else {
            return Hold::Held;
        };
        if holding.failed {
            return Hold::WriteNow(record);
        }
        let dropped = holding.lines.push(line, level, record);
        if dropped > 0 {
            holding.metrics.captured_dropped(dropped);
        }
        Hold::Held
    }

    /// The request failed: the lines it held, the first time (later lines are written at once).
    pub(crate) fn fail(&self) -> Option<Failed> {
        let mut holding = self.holding()?;
        if std::mem::replace(&mut holding.failed, true) {
            return None;
        }
        Some(Failed {
            lines: holding.lines.take(),
            dropped: holding.lines.dropped(),
        })
    }

    /// Whether the request holds lines (capture is on).
    pub(crate) fn captures(&self) -> bool {
        self.held.is_some()
    }
}

/// A layer's request-scoped logging.
pub(crate) struct Scoping {
    request_level: Option<Level>,
    capture: Option<CaptureLimits>,
    pub(crate) rate: Option<Arc<RateLimiter>>,
    client_level: Option<Level>,
    client_logs: ClientLogsLimits,
    /// The token a caller's ask must carry, if one is set.
    pub(crate) client_token: Option<Secret>,
    /// Requests running now with a raised level.
    raised: AtomicUsize,
    /// Requests running now whose callers get their lines.
    asking: AtomicUsize,
    /// Where what it drops or suppresses is counted.
    metrics: &'static Metrics,
}

impl Scoping {
    /// `None` when nothing of it is configured.
    pub(crate) fn new(config: &ScopeConfig, metrics: &'static Metrics) -> Option<Self> {
        let ScopeConfig {
            request_level,
            capture,
            rate_limit,
            client_level,
            ..
        } = config;
        if request_level.is_none()
            && capture.is_none()
            && rate_limit.is_none()
            && client_level.is_none()
        {
            return None;
        }
        Some(Scoping {
            request_level: config.request_level,
            capture: config.capture.map(CaptureLimits::new),
            rate: config
                .rate_limit
                .map(|per_s| RateLimiter::new(per_s, metrics)),
            client_level: config.client_level,
            client_logs: config.client_logs,
            client_token: config.client_token.clone(),
            raised: AtomicUsize::new(0),
            asking: AtomicUsize::new(0),
            metrics,
        })
    }

    /// The same, counting in `metrics` (while the layer is built: nothing counted yet).
    pub(crate) fn counting_in(self, metrics: &'static Metrics) -> Self {
        Scoping {
            rate: self.rate.map(|r| RateLimiter::new(r.per_s(), metrics)),
            metrics,
            ..self
        }
    }

    fn capture_level(&self) -> Option<Level> {
        self.capture.as_ref().map(|c| c.config.level)
    }

    /// The most verbose level a caller may ask its lines at, if any.
    pub(crate) fn client_level(&self) -> Option<Level> {
        self.client_level
    }

    /// Whether a request whose caller gets its lines is running now (one counter load).
    #[inline]
    pub(crate) fn asking(&self) -> bool {
        self.asking.load(Ordering::Relaxed) > 0
    }

    /// Whether a request may ever want a line or span of this callsite that the filter hides:
    /// its events at or above the capture level or the allowed request level, its spans at or
    /// above the allowed request level. Such callsites are asked per event.
    pub(crate) fn may_ever_want(&self, meta: &Metadata<'_>) -> bool {
        let level = meta.level();
        (meta.is_event()
            && (self.capture_level().is_some_and(|c| *level <= c)
                || self.client_level().is_some_and(|c| *level <= c)))
            || self.request_level.is_some_and(|r| *level <= r)
    }

    /// Whether a request running now may want a line or span of `meta`: without capture, and
    /// while no request has raised its level, a load of one counter says no.
    #[inline]
    pub(crate) fn may_want(&self, meta: &Metadata<'_>) -> bool {
        let level = meta.level();
        (meta.is_event()
            && (self.capture_level().is_some_and(|c| *level <= c)
                || (self.client_level().is_some_and(|c| *level <= c) && self.asking())))
            || (self.request_level.is_some_and(|r| *level <= r)
                && self.raised.load(Ordering::Relaxed) > 0)
    }

    /// The most verbose level beyond the filter a request may ever want.
    pub(crate) fn ceiling(&self) -> LevelFilter {
        let level = |l: Option<Level>| l.map_or(LevelFilter::OFF, LevelFilter::from_level);
        level(self.capture_level())
            .max(level(self.request_level))
            .max(level(self.client_level()))
    }

    /// Whether `scope`, the current span's, wants a line or span of `meta`.
    #[inline]
    pub(crate) fn wants(&self, scope: &RequestScope, meta: &Metadata<'_>) -> bool {
        let level = meta.level();
        scope.raises(level)
            || (meta.is_event()
                && ((scope.captures() && self.capture_level().is_some_and(|c| *level <= c))
                    || scope.client.as_ref().is_some_and(|c| c.wants(level))))
    }

    /// Whether `scope` holds an event at `level` that the filter hides.
    pub(crate) fn holds(&self, scope: &RequestScope, level: &Level) -> bool {
        scope.captures() && self.capture_level().is_some_and(|c| *level <= c)
    }

    /// The scope of a new span whose identity is `context`: its parent's, unless it starts a
    /// request (`remote`: it was given a remote context, or it is the outermost span with a
    /// request id). Also whether it starts one.
    pub(crate) fn for_span(
        &self,
        parent: Option<&Arc<RequestScope>>,
        remote: bool,
        context: &SpanContext,
    ) -> (Option<Arc<RequestScope>>, bool) {
        let starts = remote || (parent.is_none() && context.x_request_id.is_some());
        if !starts {
            return (parent.cloned(), false);
        }
        let baggage = context.baggage.as_deref();
        let level = level::requested(baggage, LOG_MEMBER, self.request_level);
        let client = level::requested(baggage, CLIENT_MEMBER, self.client_level)
            .map(|level| ClientLogs::new(level, &self.client_logs));
        let held = self.capture.as_ref().map(|c| {
            Mutex::new(Holding {
                lines: c.buffer(),
                metrics: self.metrics,
                failed: false,
            })
        });
        if level.is_none() && held.is_none() && client.is_none() {
            return (None, true);
        }
        (
            Some(Arc::new(RequestScope {
                level,
                held,
                client,
            })),
            true,
        )
    }

    /// A request with `scope` started.
    pub(crate) fn started(&self, scope: &RequestScope) {
        if scope.level.is_some() {
            self.raised.fetch_add(1, Ordering::Relaxed);
        }
        if scope.client.is_some() {
            self.asking.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request with `scope` ended.
    pub(crate) fn ended(&self, scope: &RequestScope) {
        if scope.level.is_some() {
            self.raised.fetch_sub(1, Ordering::Relaxed);
        }
        if scope.client.is_some() {
            self.asking.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
