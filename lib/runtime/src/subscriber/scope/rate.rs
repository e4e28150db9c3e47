//! The per-callsite rate limit (`[rate_limit] per_callsite_per_s`, `DYN_LOG_RATE_LIMIT`): at
//! most N lines a second from one callsite, and once a second a WARN `lines suppressed` per
//! callsite that lost some.
//!
//! Written here because no tracing crate limits per callsite without a lock per event: each
//! callsite has three atomics (its second, its count in that second, what it suppressed),
//! found through the per-thread callsite table; the shared map is locked only the first time a
//! thread meets a callsite. The report comes from a thread of its own, woken each second while
//! something is suppressed, which logs through the subscriber the layer belongs to.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex, OnceLock, PoisonError, Weak,
    },
    time::{Duration, SystemTime},
};

use tracing::{dispatcher::WeakDispatch, Dispatch, Metadata};

use crate::metrics::Metrics;
use crate::subscriber::line::callsite::{self, Slots};

/// The target of the report lines (never limited themselves).
pub(crate) const REPORT_TARGET: &str = "tracewire::logging";

/// One callsite's count.
pub(crate) struct CallsiteRate {
    meta: &'static Metadata<'static>,
    /// The second (since the Unix epoch) `count` belongs to.
    second: AtomicU64,
    count: AtomicU64,
    /// Lines suppressed since the last report.
    suppressed: AtomicU64,
}

impl CallsiteRate {
    /// Counts a line in `second`; whether it may be written.
    fn admit(&self, second: u64, per_s: u64) -> bool {
        let seen = self.second.load(Ordering::Relaxed);
        if seen != second
            && self
                .second
                .compare_exchange(seen, second, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.count.store(0, Ordering::Relaxed);
        }
        if self.count.fetch_add(1, Ordering::Relaxed) < per_s {
            return true;
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// `file:line` of the callsite (its target if it has no file).
    fn name(&self) -> String {
        match (self.meta.file(), self.meta.line()) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.to_owned(),
            _ => self.meta.target().to_owned(),
        }
    }
}

/// Distinguishes limiters in the per-thread table.
static LIMITER_IDS: AtomicUsize = AtomicUsize::new(1);

thread_local! {
    static RATES: RefCell<Slots<Arc<CallsiteRate>>> = const { RefCell::new(Slots::new()) };
}

/// A layer's rate limit.
pub(crate) struct RateLimiter {
    per_s: u64,
    id: usize,
    callsites: Mutex<HashMap<usize, Arc<CallsiteRate>>>,
    /// Whether the report thread runs.
    reporting: AtomicBool,
    /// The subscriber the layer belongs to, for the report lines.
    dispatch: OnceLock<WeakDispatch>,
    /// Where suppressed lines are counted.
    metrics: &'static Metrics,
}

impl RateLimiter {
    pub(crate) fn new(per_s: u32, metrics: &'static Metrics) -> Arc<Self> {
        Arc::new(RateLimiter {
            per_s: u64::from(per_s),
            id: LIMITER_IDS.fetch_add(1, Ordering::Relaxed),
            callsites: Mutex::default(),
            reporting: AtomicBool::new(false),
            dispatch: OnceLock::new(),
            metrics,
        })
    }

    /// The lines a second each callsite may write.
    pub(crate) fn per_s(&self) -> u32 {
        u32::try_from(self.per_s).unwrap_or(u32::MAX)
    }

    /// The subscriber the report lines go to.
    pub(crate) fn set_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    /// Counts a line of `meta`'s callsite written in `second` (since the Unix epoch); whether
    /// it may be written.
    pub(crate) fn admit(self: &Arc<Self>, meta: &'static Metadata<'static>, second: u64) -> bool {
        if meta.target() == REPORT_TARGET {
            return true;
        }
        let admitted = callsite::with_cached_for(
            &RATES,
            meta,
            self.id,
            || self.callsite(meta),
            |rate| rate.admit(second, self.per_s),
        );
        if !admitted && !self.reporting.swap(true, Ordering::AcqRel) {
            self.start_reporting();
        }
        admitted
    }

    fn callsite(&self, meta: &'static Metadata<'static>) -> Arc<CallsiteRate> {
        let mut map = self
            .callsites
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.entry(meta as *const _ as usize)
            .or_insert_with(|| {
                Arc::new(CallsiteRate {
                    meta,
                    second: AtomicU64::new(0),
                    count: AtomicU64::new(0),
                    suppressed: AtomicU64::new(0),
                })
            })
            .clone()
    }

    fn start_reporting(self: &Arc<Self>) {
        let weak: Weak<RateLimiter> = Arc::downgrade(self);
        let started = std::thread::Builder::new()
            .name("tracewire-rate-report".into())
            .spawn(move || loop {
                std::thread::sleep(until_next_second());
                let Some(limiter) = weak.upgrade() else {
                    return;
                };
                limiter.report();
            });
        if started.is_err() {
            // No thread: report from here now and then instead of never.
            self.reporting.store(false, Ordering::Release);
            self.report();
        }
    }

    /// Writes one `lines suppressed` WARN per callsite that suppressed lines since the last
    /// report, and counts them in `tracewire_log_lines_suppressed_total`.
    pub(crate) fn report(&self) {
        let suppressed: Vec<(String, u64)> = {
            let map = self
                .callsites
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            map.values()
                .filter_map(|rate| {
                    let n = rate.suppressed.swap(0, Ordering::Relaxed);
                    (n > 0).then(|| (rate.name(), n))
                })
                .collect()
        };
        if suppressed.is_empty() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        tracing::dispatcher::with_default(&dispatch, || {
            for (callsite, n) in suppressed {
                self.metrics.lines_suppressed(n);
                tracing::warn!(target: REPORT_TARGET, callsite, suppressed = n, "lines suppressed");
            }
        });
    }
}

/// The time to the next whole second of the system clock.
fn until_next_second() -> Duration {
    let into = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    Duration::from_nanos(1_000_000_000 - u64::from(into) + 1_000_000)
}
