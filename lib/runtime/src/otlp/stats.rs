//! What an export has done so far, shared by the exporter, the layer's side and the reporter:
//! counters, the last error, and the back-off after a failure.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex, OnceLock, PoisonError,
    },
    time::{Duration, Instant},
};

/// After a failed export, spans are dropped (and counted) without being built for this long:
/// a collector that is down then costs the requests nothing.
pub const BACK_OFF: Duration = Duration::from_secs(2);

/// Counters shared by the queue, the exporter and the reporter.
#[derive(Debug, Default)]
pub(crate) struct ExportStats {
    pub(crate) queued: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Milliseconds since `epoch` until which new spans are dropped after a failed export.
    backing_off_until_ms: AtomicU64,
    epoch: OnceLock<Instant>,
}

impl ExportStats {
    pub(crate) fn record_failure(&self, spans: u64, error: &dyn std::fmt::Display) {
        self.failed.fetch_add(spans, Ordering::Relaxed);
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        let until = self.now_ms() + BACK_OFF.as_millis() as u64;
        self.backing_off_until_ms.store(until, Ordering::Relaxed);
    }

    fn now_ms(&self) -> u64 {
        self.epoch.get_or_init(Instant::now).elapsed().as_millis() as u64
    }

    /// The last export error, if any.
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn backing_off(&self) -> bool {
        let until = self.backing_off_until_ms.load(Ordering::Relaxed);
        until != 0 && self.now_ms() < until
    }
}
